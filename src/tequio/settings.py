"""One settings object, read from the environment, and its mapping to the library's keys."""

from __future__ import annotations

import binascii
import gc
import logging
import sys
from base64 import b64decode
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEVELOPMENT_SECRET = "tequio-development-secret-not-for-production"
MIN_SECRET_BYTES = 32
AES_KEY_BYTES = (16, 24, 32)
# Only public-key algorithms: an identity provider's keys are public, and accepting an
# HMAC algorithm there would let anyone who read the JWKS sign tokens with it.
OIDC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class Settings(BaseSettings):
    # Errors never echo the values: they would print TEQUIO_SECRET and the cipher key.
    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    data_dir: Path = Field(default=Path(".tequio"), alias="TEQUIO_DATA_DIR")
    secret: SecretStr = Field(default=SecretStr(DEVELOPMENT_SECRET), alias="TEQUIO_SECRET")
    municipality: str = Field(default="iztapalapa", alias="TEQUIO_MUNICIPALITY")
    time_zone: str = Field(default="America/Mexico_City", alias="TEQUIO_TIME_ZONE")
    environment: Literal["development", "production"] = Field(
        default="development", alias="TEQUIO_ENV"
    )
    # Seconds a write waits for a table lock before it is refused (never forever).
    lock_timeout: int = Field(default=5, alias="TEQUIO_LOCK_TIMEOUT", ge=1, le=120)
    # Seconds a mutation waits for its read models to show the change.
    read_your_writes_timeout: float = Field(
        default=3.0, alias="TEQUIO_READ_YOUR_WRITES_TIMEOUT", gt=0, le=30
    )
    # Base64 AES key (16/24/32 bytes): encrypts every stored event and wraps the
    # per-reporter keys. Required in production; see docs/security.md.
    cipher_key: SecretStr | None = Field(default=None, alias="TEQUIO_CIPHER_KEY")
    pool_size: int = Field(default=5, alias="TEQUIO_POOL_SIZE", ge=1, le=100)
    # Where `tequio serve` keeps the read models: a `tequio worker` child process
    # (ADR 0021), or a thread of the server's own process.
    projections: Literal["process", "thread"] = Field(default="process", alias="TEQUIO_PROJECTIONS")
    # Tequio's own loggers and uvicorn's, in `tequio serve` and `tequio worker`.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", alias="TEQUIO_LOG_LEVEL"
    )
    # How long a Python thread may hold the GIL while others wait (Python's default
    # is 5 ms). Tequio's threads mostly wait on PostgreSQL; short turns let one come
    # back from its wait sooner (ADR 0015, docs/performance.md).
    switch_interval_ms: float = Field(default=0.5, alias="TEQUIO_SWITCH_INTERVAL_MS", gt=0, le=100)

    # Tokens from an identity provider (OIDC): see docs/security-authentication.md.
    oidc_jwks_url: str | None = Field(default=None, alias="TEQUIO_OIDC_JWKS_URL")
    oidc_issuer: str | None = Field(default=None, alias="TEQUIO_OIDC_ISSUER")
    oidc_audience: str | None = Field(default=None, alias="TEQUIO_OIDC_AUDIENCE")
    oidc_algorithms: Annotated[list[str], NoDecode] = Field(
        default=["RS256", "ES256"], alias="TEQUIO_OIDC_ALGORITHMS"
    )
    # Where the provider puts each fact; a dotted path reaches into nested claims
    # (Keycloak: realm_access.roles).
    oidc_roles_claim: str = Field(default="roles", alias="TEQUIO_OIDC_ROLES_CLAIM")
    oidc_agency_claim: str = Field(default="agency", alias="TEQUIO_OIDC_AGENCY_CLAIM")
    oidc_tables_claim: str = Field(default="tables", alias="TEQUIO_OIDC_TABLES_CLAIM")
    oidc_municipality_claim: str = Field(
        default="municipality", alias="TEQUIO_OIDC_MUNICIPALITY_CLAIM"
    )
    # Seconds the provider's key set is kept before it is fetched again.
    oidc_jwks_cache_seconds: int = Field(
        default=300, alias="TEQUIO_OIDC_JWKS_CACHE_SECONDS", ge=1, le=86400
    )

    # Abuse limits (src/api/limits.py).
    max_body_bytes: int = Field(default=1024 * 1024, alias="TEQUIO_MAX_BODY_BYTES", ge=1024)
    rate_limit_per_minute: int = Field(default=600, alias="TEQUIO_RATE_LIMIT_PER_MINUTE", ge=0)
    # How often each process shares its callers' spending with the deployment's other
    # processes (src/api/shared_allowances.py); 0 counts in each process alone.
    rate_limit_share_seconds: float = Field(
        default=1.0, alias="TEQUIO_RATE_LIMIT_SHARE_SECONDS", ge=0, le=60
    )
    # Unset, both follow TEQUIO_ENV: on in development, off in production.
    graphiql: bool = Field(default=True, alias="TEQUIO_GRAPHIQL")
    introspection: bool = Field(default=True, alias="TEQUIO_INTROSPECTION")

    # Aggregates the write side keeps in memory between commands (the library's LRU
    # cache, brought up to date from the event store on every use); 0 turns it off.
    aggregate_cache_size: int = Field(
        default=5000, alias="TEQUIO_AGGREGATE_CACHE_SIZE", ge=0, le=1_000_000
    )

    # The response cache of read-only GraphQL queries (src/api/query_cache.py, ADR 0016):
    # at most this many answers per process (0 turns it off), each at most this big,
    # all of them together at most this many bytes.
    query_cache_size: int = Field(default=1000, alias="TEQUIO_QUERY_CACHE_SIZE", ge=0, le=100_000)
    query_cache_max_entry_bytes: int = Field(
        default=8 * 1024 * 1024,
        alias="TEQUIO_QUERY_CACHE_MAX_ENTRY_BYTES",
        ge=1024,
        le=64 * 1024 * 1024,
    )
    query_cache_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        alias="TEQUIO_QUERY_CACHE_MAX_BYTES",
        ge=1024 * 1024,
        le=4 * 1024 * 1024 * 1024,
    )

    # Webhooks (src/integrations/webhooks): the dispatcher's pace and patience.
    webhook_poll_seconds: float = Field(
        default=1.0, alias="TEQUIO_WEBHOOK_POLL_SECONDS", gt=0, le=60
    )
    webhook_connect_timeout: float = Field(
        default=5.0, alias="TEQUIO_WEBHOOK_CONNECT_TIMEOUT", gt=0, le=60
    )
    webhook_read_timeout: float = Field(
        default=10.0, alias="TEQUIO_WEBHOOK_READ_TIMEOUT", gt=0, le=120
    )
    webhook_concurrency: int = Field(default=8, alias="TEQUIO_WEBHOOK_CONCURRENCY", ge=1, le=64)
    # A failing delivery is retried for at least this long before it is dead-lettered.
    webhook_retry_hours: int = Field(default=24, alias="TEQUIO_WEBHOOK_RETRY_HOURS", ge=24, le=168)
    # Delivered deliveries are deleted from the log after this many days.
    webhook_keep_days: int = Field(default=30, alias="TEQUIO_WEBHOOK_KEEP_DAYS", ge=1, le=3650)
    # When set, GET /metrics wants it as a bearer token (Prometheus' `authorization`).
    metrics_token: SecretStr | None = Field(default=None, alias="TEQUIO_METRICS_TOKEN")

    @field_validator("metrics_token")
    @classmethod
    def _token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        # Read from a file or a secret store, a value often ends in a newline.
        token = value.get_secret_value().strip()
        if not 16 <= len(token) <= 500:
            raise ValueError("must be 16 to 500 characters (a random string)")
        return SecretStr(token)

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("environment", mode="before")
    @classmethod
    def _environment_in_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("secret")
    @classmethod
    def _secret_not_empty(cls, value: SecretStr) -> SecretStr:
        # Empty, every token would be refused as malformed and `tequio token` would fail.
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty (unset it to use the development default)")
        return value

    @field_validator("municipality")
    @classmethod
    def _municipality_named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name the municipality this server serves (e.g. iztapalapa)")
        if value != value.strip():
            # It is part of every id: "iztapalapa\n" would be another municipality.
            raise ValueError("must not begin or end with spaces or a newline")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @field_validator("cipher_key")
    @classmethod
    def _aes_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            key = b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not base64; make a key with `openssl rand -base64 32`") from None
        if len(key) not in AES_KEY_BYTES:
            raise ValueError(f"decodes to {len(key)} bytes; an AES key has 16, 24 or 32")
        return value

    @field_validator("oidc_jwks_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an https:// (or http://) URL")
        return value or None

    @field_validator("oidc_algorithms", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("oidc_algorithms")
    @classmethod
    def _public_key_algorithms(cls, value: list[str]) -> list[str]:
        refused = [a for a in value if a not in OIDC_ALGORITHMS]
        if refused or not value:
            raise ValueError(
                f"accepts only {', '.join(sorted(OIDC_ALGORITHMS))}; "
                f"got {', '.join(refused) or 'nothing'}"
            )
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        production = self.environment == "production"
        for name in ("graphiql", "introspection"):
            if name not in self.model_fields_set:
                setattr(self, name, not production)
        oidc_parts = {
            "TEQUIO_OIDC_JWKS_URL": self.oidc_jwks_url,
            "TEQUIO_OIDC_ISSUER": self.oidc_issuer,
            "TEQUIO_OIDC_AUDIENCE": self.oidc_audience,
        }
        if any(oidc_parts.values()) and not all(oidc_parts.values()):
            missing = ", ".join(k for k, v in oidc_parts.items() if not v)
            raise ValueError(f"OIDC needs its JWKS URL, issuer and audience; {missing} unset")
        if production:
            problems = self._unsafe_in_production()
            if problems:
                # All at once, so an operator fixes the deployment in one pass.
                raise ValueError("refusing to run in production: " + "; ".join(problems))
        return self

    def _unsafe_in_production(self) -> list[str]:
        problems = []
        if self.oidc_jwks_url and not self.oidc_jwks_url.startswith("https://"):
            # Keys fetched in the clear could be swapped on the way, and with them every token.
            problems.append("TEQUIO_OIDC_JWKS_URL must be an https:// URL")
        secret = self.secret.get_secret_value()
        weak = secret == DEVELOPMENT_SECRET or len(secret.encode()) < MIN_SECRET_BYTES
        if weak and not self.oidc_enabled:
            problems.append(
                "TEQUIO_SECRET must be at least "
                f"{MIN_SECRET_BYTES} random bytes and not the development default "
                "(e.g. `openssl rand -hex 32`), or configure OIDC "
                "(TEQUIO_OIDC_JWKS_URL, TEQUIO_OIDC_ISSUER, TEQUIO_OIDC_AUDIENCE)"
            )
        if self.cipher_key is None:
            problems.append("TEQUIO_CIPHER_KEY is required (e.g. `openssl rand -base64 32`)")
        return problems

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_jwks_url is not None

    @property
    def accepts_development_tokens(self) -> bool:
        """HS256 tokens signed with TEQUIO_SECRET: always in development; in production
        only while no identity provider is configured (the secret is then checked to be
        strong)."""
        return self.environment != "production" or not self.oidc_enabled

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def tune_interpreter(settings: Settings) -> None:
    """Process-wide settings of the interpreter (GIL turns, log level), for the server
    and worker commands."""
    sys.setswitchinterval(settings.switch_interval_ms / 1000)
    logging.getLogger().setLevel(settings.log_level)


def freeze_startup_heap() -> None:
    """Called once a server or worker process is ready (ADR 0022).

    What start-up made (modules, the GraphQL schema, the pools) lives as long as the
    process; frozen, it is out of the cyclic collector's reach, so a full collection
    visits only what the requests since made. Each GraphQL request leaves about a
    hundred objects in reference cycles (graphql-core's execution context, the
    request's data loaders), which reach the oldest generation under load and set off
    a full collection every few seconds: over ~140,000 objects, that paused the
    whole server for 100-300 ms each time.
    """
    gc.collect()
    gc.freeze()
