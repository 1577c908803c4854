"""Bearer tokens: who the caller is, in which role, for which agency and cabinets.

Development tokens are HS256 JWTs signed with ``TEQUIO_SECRET`` and minted by
``tequio token``. Production tokens come from an OpenID Connect provider and are
checked against its published keys (:mod:`api.oidc`). With no token, the caller is
the public. See docs/security-authentication.md.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

import jwt
from anyio import to_thread

if TYPE_CHECKING:
    from tequio.settings import Settings

ISSUER = "tequio"
AUDIENCE = "tequio-api"
DEFAULT_LIFETIME_SECONDS = 12 * 3600
# Verified tokens a process keeps, each until its expiry (the oldest dropped first).
VERIFIED_TOKENS_REMEMBERED = 10_000


class Role(Enum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    SECRETARY = "secretary"
    AGENCY_STAFF = "agency_staff"
    CABINET_MEMBER = "cabinet_member"
    INTEGRATION = "integration"


class InvalidToken(Exception):
    """The bearer token is malformed, expired, or not signed by us.

    Its message is a key of ``api.errors.TOKEN_REASONS``: expired, signature, audience,
    issuer, malformed, municipality, algorithm, unknown_key, not_yet_valid,
    development_token."""


class KeysUnavailable(InvalidToken):
    """The identity provider's keys cannot be fetched: the token may well be good, so
    the caller should retry rather than sign in again (HTTP 503)."""


@dataclass(frozen=True)
class Caller:
    subject: str | None
    roles: frozenset[Role] = field(default_factory=frozenset)
    agency_id: str | None = None
    table_ids: frozenset[str] = field(default_factory=frozenset)
    municipality: str | None = None
    # The token's ``exp`` (seconds since the epoch): a WebSocket opened with it is closed
    # then. Not part of who the caller is (the response cache keys on that).
    expires_at: float | None = field(default=None, compare=False)

    @property
    def is_public(self) -> bool:
        return self.subject is None

    @property
    def actor(self) -> str:
        return self.subject or "public"

    def has(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))


PUBLIC = Caller(subject=None)


def mint_token(
    secret: str,
    *,
    subject: str,
    roles: list[str],
    municipality: str,
    agency_id: str | None = None,
    table_ids: list[str] | None = None,
    lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS,
) -> str:
    for role in roles:
        Role(role)  # refuses an unknown role with ValueError
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "iat": now,
        "exp": now + lifetime_seconds,
        "roles": roles,
        "municipality": municipality,
    }
    if agency_id:
        claims["agency"] = agency_id
    if table_ids:
        claims["tables"] = table_ids
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(secret: str, token: str, *, municipality: str) -> Caller:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "sub", "aud", "iss"]},
        )
        roles = frozenset(Role(r) for r in claims.get("roles", []))
    except jwt.ExpiredSignatureError:
        raise InvalidToken("expired") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("signature") from None
    except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
        raise InvalidToken("audience") from None
    except (jwt.PyJWTError, ValueError, TypeError):
        raise InvalidToken("malformed") from None
    token_municipality = claims.get("municipality", municipality)
    if token_municipality != municipality:
        raise InvalidToken("municipality")
    return Caller(
        subject=token_subject(claims),
        roles=roles,
        agency_id=claims.get("agency"),
        table_ids=frozenset(claims.get("tables", [])),
        municipality=token_municipality,
        expires_at=float(claims["exp"]),
    )


def token_subject(claims: Mapping[str, Any]) -> str:
    """The ``sub`` claim: who every event the caller causes names. One that is empty
    (or only spaces) would name nobody, and read as "public" in the record."""
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject.strip():
        raise InvalidToken("malformed")
    return subject


class Authenticator:
    """Turns a bearer token into a :class:`Caller`, by the rules the settings choose.

    Without OIDC, every token is a development token (HS256, ``TEQUIO_SECRET``). With
    OIDC, a token's ``alg`` header says which kind it claims to be; development tokens
    are then refused in production (``Settings.accepts_development_tokens``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        from api.oidc import OidcVerifier  # api.oidc builds on this module's types

        self._settings = settings
        self._oidc = OidcVerifier(settings, monotonic=monotonic) if settings.oidc_enabled else None
        self._wall = wall
        # sha256(token) -> (caller, its "exp"): a client sends the same token with every
        # request, and checking a signature again is most of what a cached read costs.
        self._verified: dict[bytes, tuple[Caller, float]] = {}

    async def authenticate(self, token: str) -> Caller:
        key = hashlib.sha256(token.encode()).digest()
        known = self._verified.get(key)
        if known is not None:
            caller, expires_at = known
            if self._wall() < expires_at:
                return caller
            del self._verified[key]
        caller = await self._verify(token)
        self._remember(key, caller, token)
        return caller

    def _remember(self, key: bytes, caller: Caller, token: str) -> None:
        # The signature is good: the claims can be read without checking it again.
        expires_at = jwt.decode(token, options={"verify_signature": False}).get("exp")
        if not isinstance(expires_at, (int, float)):
            return
        if len(self._verified) >= VERIFIED_TOKENS_REMEMBERED:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[key] = (caller, float(expires_at))

    async def _verify(self, token: str) -> Caller:
        settings = self._settings
        if self._oidc is None:
            return self._development(token)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed") from None
        if header.get("alg") == "HS256":
            if not settings.accepts_development_tokens:
                raise InvalidToken("development_token")
            return self._development(token)
        # Fetching the key set is blocking I/O: never on the event loop.
        return await to_thread.run_sync(self._oidc.verify, token, header)

    def _development(self, token: str) -> Caller:
        return decode_token(
            self._settings.secret.get_secret_value(),
            token,
            municipality=self._settings.municipality,
        )
