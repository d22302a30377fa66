"""Logging that never writes tokens or personal data."""

from __future__ import annotations

import datetime as dt
import json
import logging
import traceback
from types import TracebackType

QUIET = {
    # httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    # aiohttp's access log would record unsubscribe and webhook paths.
    "aiohttp.access": logging.WARNING,
    "apscheduler": logging.WARNING,
    # python-telegram-bot writes every Bot API call with its parameters (message texts) at DEBUG.
    "telegram.Bot": logging.INFO,
    "telegram.ext.ExtBot": logging.INFO,
    # aiosqlite writes every statement with its bound values at DEBUG.
    "aiosqlite": logging.INFO,
    "alembic.runtime.plugins": logging.WARNING,
}


class _RedactSecrets(logging.Filter):
    """A last line of defence: blank out the given secrets wherever they appear in a record."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = record.getMessage()
            if any(s in message for s in self._secrets):
                for secret in self._secrets:
                    message = message.replace(secret, "[redacted]")
                record.msg, record.args = message, None
        return True


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
WITHHELD = "[message withheld]"


class SafeFormatter(logging.Formatter):
    """Tracebacks with their frames and exception types but not the exceptions' messages, which
    often quote what a person typed or an address (``invalid literal for int(): '…'``); and the
    given secrets blanked out of the whole record, traceback included."""

    def __init__(self, fmt: str, *, secrets: list[str]) -> None:
        super().__init__(fmt)
        self._secrets = [s for s in secrets if s]

    def formatException(self, ei: ExcInfo) -> str:
        _, error, _ = ei
        if error is None:
            return ""
        chain: list[BaseException] = []
        current: BaseException | None = error
        while current is not None and current not in chain:
            chain.append(current)
            current = current.__cause__ or (
                None if current.__suppress_context__ else current.__context__
            )
        parts: list[str] = []
        for exc in reversed(chain):
            if parts:
                parts.append("\nThe above exception led to the following:\n\n")
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_tb(exc.__traceback__))
            parts.append(f"{type(exc).__module__}.{type(exc).__qualname__}: {WITHHELD}\n")
        return "".join(parts).rstrip("\n")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def quiet_noisy_libraries() -> None:
    """Raise the level of loggers that would write tokens or personal data, whatever the root
    level is (an operator may turn on DEBUG to find a problem)."""
    for name, level in QUIET.items():
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < level:
            logger.setLevel(level)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (``SAMVIRKE_LOG_FORMAT=json``), for journald or a log shipper.
    A traceback is reduced to the exception's type: its text may quote personal data."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(
    level: int = logging.INFO, *, secrets: list[str] | None = None, format: str = "text"
) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if format == "json" else SafeFormatter(TEXT_FORMAT, secrets=secrets or [])
    )
    handler.addFilter(_RedactSecrets(secrets or []))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_noisy_libraries()
