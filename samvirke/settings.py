"""Configuration: one pydantic-settings object, read from ``SAMVIRKE_*`` variables or ``.env``.

Everything else receives this object; nothing reads ``os.environ`` on its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

Language = Literal["da", "sv", "en"]
LANGUAGES: tuple[Language, ...] = ("da", "sv", "en")
SmtpSecurity = Literal["none", "starttls", "tls"]
TelegramMode = Literal["auto", "polling", "webhook"]
LogFormat = Literal["text", "json"]

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
    # SMTP connections a large batch (a digest run) is sent over side by side.
    smtp_connections: int = Field(default=2, ge=1, le=10)
    mail_from: str = "samvirke@localhost"
    mail_dir: Path = Path("./var/mail")
    admins: Annotated[frozenset[int], NoDecode] = frozenset()
    timezone: str = "Europe/Copenhagen"
    # The network's name, on the cover of the funder report.
    network_name: str = Field(default="Samvirke", min_length=1, max_length=120)
    # Telegram reminders to members going to an event, this long before it starts: "1d,2h"
    # (d days, h hours, m minutes; empty: no reminders).
    reminder_offsets: Annotated[tuple[dt.timedelta, ...], NoDecode] = (
        dt.timedelta(days=1),
        dt.timedelta(hours=2),
    )
    # Participants of a meeting get its follow-up (thanks, materials, next meetings, a feedback
    # question) this long after its end: "2h" (d, h or m); empty: only when an organiser sends it.
    followup_delay: Annotated[dt.timedelta | None, NoDecode] = dt.timedelta(hours=2)
    default_language: Language = "da"
    public_url: AnyHttpUrl | None = None
    # Signs unsubscribe links; derived from the bot token when unset.
    secret_key: SecretStr | None = None
    http_port: int = Field(default=8080, ge=1, le=65535)
    # Loopback by default: a reverse proxy (Caddy) sits in front. 0.0.0.0 listens everywhere.
    http_host: str = "127.0.0.1"
    # auto: webhook when SAMVIRKE_PUBLIC_URL is https, else long polling.
    telegram_mode: TelegramMode = "auto"
    # /metrics answers loopback clients; others only with "Authorization: Bearer <token>".
    metrics_token: SecretStr | None = None
    log_format: LogFormat = "text"
    # /readyz fails when queued outbox rows have waited longer than this (minutes).
    ready_outbox_minutes: int = Field(default=30, ge=1, le=10_000)
    # Timebank: the balance range of a member's account (whole hours), of an organisation
    # account, and the days an exchange waits for the other side's confirmation.
    timebank_min_balance_hours: int = Field(default=-20, le=0, ge=-100_000)
    timebank_max_balance_hours: int = Field(default=100, ge=0, le=100_000)
    timebank_organisation_min_balance_hours: int = Field(default=-1000, le=0, ge=-100_000)
    timebank_organisation_max_balance_hours: int = Field(default=1000, ge=0, le=100_000)
    timebank_expiry_days: int = Field(default=14, ge=1, le=365)
    # Telegram messages per second this process sends from the outbox (Telegram allows 30 per
    # bot; with several workers, share them out, e.g. 15 each for two).
    telegram_rate: int = Field(default=30, ge=1, le=30)
    # Updates handled at once (different chats and people side by side; each chat's and each
    # person's in order, see bot.ordering).
    concurrent_updates: int = Field(default=128, ge=1, le=1024)
    # When the periodic jobs run: crontab lines ("minute hour day month weekday") in
    # SAMVIRKE_TIMEZONE. Name the weekdays (mon-sun): in APScheduler 3, 0 means Monday.
    schedule_outbox_sweeper: str = "* * * * *"
    schedule_digest_weekly: str = "0 7 * * mon"
    schedule_digest_monthly: str = "0 7 1 * *"
    schedule_reminders: str = "*/5 * * * *"
    schedule_timebank_expiry: str = "15 3 * * *"
    # Who may join: anyone (open), only with an invitation link (invite), or anyone, once an
    # organiser has approved them (approval); and whether members may make invitations.
    membership: Literal["open", "invite", "approval"] = "open"
    members_can_invite: bool = False
    # Introductions (/people): pending requests a member may have open, requests per 7 days,
    # days before the same person may be asked again, days a request waits for an answer.
    introductions_max_pending: int = Field(default=5, ge=1, le=1000)
    introductions_max_per_week: int = Field(default=10, ge=1, le=1000)
    introductions_repeat_days: int = Field(default=30, ge=0, le=365)
    introductions_expiry_days: int = Field(default=14, ge=1, le=365)
    schedule_introduction_expiry: str = "45 3 * * *"
    schedule_followups: str = "*/5 * * * *"

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
        """``address`` or ``Display Name <address>`` (the name may hold any letters)."""
        value = value.strip()
        if "\r" in value or "\n" in value:
            raise ValueError("a line break is not allowed")
        name, address = parseaddr(value)
        bare = address == value
        named = value.endswith(f"<{address}>") and bool(name)
        if (
            not address
            or "@" not in address
            or not address.isascii()
            or any(ch.isspace() or ch in '<>,;:"' for ch in address)
            or not (bare or named)
            or len(address) > 254
        ):
            raise ValueError(
                "not an e-mail address (e.g. samvirke@network.example or "
                "Samvirke <samvirke@network.example>)"
            )
        return value

    @model_validator(mode="after")
    def _check_mode(self) -> Settings:
        if self.telegram_mode == "webhook" and (
            self.public_url is None or self.public_url.scheme != "https"
        ):
            raise ValueError(
                "SAMVIRKE_TELEGRAM_MODE=webhook needs SAMVIRKE_PUBLIC_URL with https "
                "(Telegram calls webhooks over HTTPS only)"
            )
        return self

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

    @field_validator("reminder_offsets", mode="before")
    @classmethod
    def _split_offsets(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_offsets(value)
        return value

    @field_validator("followup_delay", mode="before")
    @classmethod
    def _one_delay(cls, value: object) -> object:
        if isinstance(value, str):
            delays = parse_offsets(value)
            if len(delays) > 1:
                raise ValueError(f"{value!r}: one duration such as 2h, please")
            return delays[0] if delays else None
        return value

    @field_validator(
        "schedule_followups",
        "schedule_outbox_sweeper",
        "schedule_digest_weekly",
        "schedule_digest_monthly",
        "schedule_reminders",
        "schedule_timebank_expiry",
        "schedule_introduction_expiry",
    )
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        return check_crontab(value)

    @field_validator("smtp_host", "smtp_username", "public_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    def signing_key(self) -> bytes:
        """The key that signs links (unsubscribe): SAMVIRKE_SECRET_KEY, else derived from the
        bot token. Changing either invalidates the links in mails already sent."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        if self.telegram_token is not None:
            token = self.telegram_token.get_secret_value()
            return hashlib.sha256(f"samvirke-signing-key:{token}".encode()).digest()
        raise ConfigurationError("set SAMVIRKE_SECRET_KEY (or SAMVIRKE_TELEGRAM_TOKEN)")

    @property
    def mail_from_address(self) -> str:
        """The bare address of ``SAMVIRKE_MAIL_FROM`` (envelope sender, calendar organiser)."""
        return parseaddr(self.mail_from)[1]

    @property
    def webhook_mode(self) -> bool:
        """Updates come by webhook (else long polling); see ``SAMVIRKE_TELEGRAM_MODE``."""
        if self.telegram_mode == "auto":
            return self.public_url is not None and self.public_url.scheme == "https"
        return self.telegram_mode == "webhook"

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


OFFSET_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_offsets(value: str) -> tuple[dt.timedelta, ...]:
    """``"1d,2h"`` -> (1 day, 2 hours), longest first; each a number and d, h or m."""
    offsets = set()
    for part in (p.strip().lower() for p in value.split(",")):
        if not part:
            continue
        number, unit = part[:-1].strip(), part[-1:]
        if unit not in OFFSET_UNITS or not number.isdigit() or int(number) == 0:
            raise ValueError(f"{part!r} is not a duration such as 1d, 2h or 30m")
        offsets.add(dt.timedelta(**{OFFSET_UNITS[unit]: int(number)}))
    return tuple(sorted(offsets, reverse=True))


def check_crontab(value: str) -> str:
    """A crontab line APScheduler understands, with named weekdays (see the settings above)."""
    from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

    value = " ".join(value.split())
    fields = value.split(" ")
    if len(fields) != 5:
        raise ValueError(f"{value!r} is not a crontab line such as '0 7 * * mon'")
    if any(ch.isdigit() for ch in fields[4]):
        raise ValueError(f"name the weekdays (mon, tue, ... sun) in {value!r}")
    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid schedule: {exc}") from None
    return value


class ConfigurationError(Exception):
    """Start-up configuration is missing or malformed; ``str()`` is one line for the user."""


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one clear line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            if not error["loc"]:  # a rule across settings: its message names them
                lines.append(message)
                continue
            field = str(error["loc"][0])
            lines.append(f"{ENV_PREFIX}{field.upper()}: {message}")
        raise ConfigurationError("; ".join(lines)) from None
