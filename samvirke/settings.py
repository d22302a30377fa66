"""Configuration: one pydantic-settings object, read from ``SAMVIRKE_*`` variables or ``.env``.

Everything else receives this object; nothing reads ``os.environ`` on its own.
"""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

Language = Literal["da", "sv", "en"]
LANGUAGES: tuple[Language, ...] = ("da", "sv", "en")
SmtpSecurity = Literal["none", "starttls", "tls"]

ENV_PREFIX = "SAMVIRKE_"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/samvirke.db"
ASYNC_DRIVERS = {"sqlite+aiosqlite", "postgresql+asyncpg"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    telegram_token: SecretStr | None = None
    telegram_api_url: AnyHttpUrl = AnyHttpUrl("https://api.telegram.org")
    # repr=False: a PostgreSQL URL may carry a password.
    database_url: str = Field(default=DEFAULT_DATABASE_URL, repr=False)
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: SmtpSecurity = "starttls"
    mail_from: str = "samvirke@localhost"
    mail_dir: Path = Path("./var/mail")
    admins: Annotated[frozenset[int], NoDecode] = frozenset()
    timezone: str = "Europe/Copenhagen"
    default_language: Language = "da"
    public_url: AnyHttpUrl | None = None
    http_port: int = Field(default=8080, ge=1, le=65535)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError("not a database URL (e.g. postgresql+asyncpg://user@host/db)") from exc
        if url.drivername not in ASYNC_DRIVERS:
            raise ValueError(
                f"driver {url.drivername!r} is not supported; use one of "
                + ", ".join(sorted(ASYNC_DRIVERS))
            )
        return value

    @field_validator("mail_from")
    @classmethod
    def _check_mail_from(cls, value: str) -> str:
        _name, address = parseaddr(value)
        if not address or "@" not in address or address != value.strip() or len(address) > 254:
            raise ValueError("not an e-mail address (e.g. samvirke@network.example)")
        return address

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            for part in parts:
                if not part.lstrip("-").isdigit():
                    raise ValueError(f"{part!r} is not a Telegram user id (a number)")
            return frozenset(int(p) for p in parts)
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("smtp_host", "smtp_username", "public_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def api_base(self) -> str:
        """The Bot API server without a trailing slash: requests go to ``{base}/bot{token}/...``."""
        return str(self.telegram_api_url).rstrip("/")

    @property
    def effective_smtp_port(self) -> int:
        if self.smtp_port is not None:
            return self.smtp_port
        return {"none": 25, "starttls": 587, "tls": 465}[self.smtp_security]


class ConfigurationError(Exception):
    """Start-up configuration is missing or malformed; ``str()`` is one line for the user."""


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one clear line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{ENV_PREFIX}{field.upper()}: {message}")
        raise ConfigurationError("; ".join(lines)) from None
