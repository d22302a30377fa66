"""Logging that never writes tokens or personal data."""

from __future__ import annotations

import datetime as dt
import json
import logging

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
    handler.setFormatter(JsonFormatter() if format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(_RedactSecrets(secrets or []))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_noisy_libraries()
