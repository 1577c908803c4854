"""One settings object, read from the environment, and its mapping to the library's keys."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "tequio-development-secret-not-for-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

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
    log_level: str = Field(default="INFO", alias="TEQUIO_LOG_LEVEL")

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)
