"""Logging that never writes tokens or personal data."""

from __future__ import annotations

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


def configure(level: int = logging.INFO, *, secrets: list[str] | None = None) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_RedactSecrets(secrets or []))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, name_level in QUIET.items():
        logging.getLogger(name).setLevel(name_level)
