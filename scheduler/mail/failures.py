"""What a failed mail means (after pretix's mail service):

* the connection cannot be made, is refused, times out or drops, or the server answers 4xx:
  **retry** later with exponential backoff (``backoff_base`` doubled per attempt, capped);
  after ``max_attempts`` attempts the row is **failed**;
* the server answers 5xx (recipient, sender or data refused): **failed** at once, with the
  server's reply in ``last_error``;
* the row cannot become a mail (no or invalid address, erased payload): **failed** at once;
  a template error (our bug, fixed by a deployment) is retried.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import aiosmtplib


@dataclass(frozen=True)
class Failure:
    """Why a row was not delivered.

    ``error`` goes to ``last_error`` (it may quote the server); ``reason`` is safe to log.
    ``connection_lost``: the session is unusable, the rest of the batch waits for a retry.
    ``unreachable``: the server could not be reached at all (refused, timed out): the mail was
    never offered, so the attempt does not count, and the retry comes soon (the server may be
    back any moment).
    """

    error: str
    reason: str
    permanent: bool
    connection_lost: bool = False
    unreachable: bool = False


def backoff(attempts: int, *, base: dt.timedelta, cap: dt.timedelta) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: base, 2·base, 4·base, … at most cap."""
    exponent = min(max(attempts - 1, 0), 64)  # 2**64 times anything sensible exceeds the cap
    seconds = base.total_seconds() * 2.0**exponent
    return min(dt.timedelta(seconds=min(seconds, cap.total_seconds())), cap)


def _is_permanent(code: int) -> bool:
    return 500 <= code < 600


def _reply(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"


def classify(exc: BaseException) -> Failure:
    """Sort a sending error into retry (temporary) or failed (permanent)."""
    name = type(exc).__name__
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        replies = "; ".join(_reply(r.code, r.message) for r in exc.recipients)
        return Failure(
            error=f"recipient refused: {replies}",
            reason=f"{name} {','.join(map(str, codes))}",
            permanent=bool(codes) and all(_is_permanent(code) for code in codes),
            connection_lost=421 in codes,
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return Failure(
            error=f"{name}: {_reply(exc.code, exc.message)}",
            reason=f"{name} {exc.code}",
            permanent=_is_permanent(exc.code),
            # 421: the server is closing the session.
            connection_lost=exc.code == 421 or isinstance(exc, OSError),
        )
    if isinstance(exc, OSError):  # refused, reset, timeouts, SMTPServerDisconnected, TLS errors
        return Failure(error=f"{name}: {exc}", reason=name, permanent=False, connection_lost=True)
    if isinstance(exc, aiosmtplib.SMTPNotSupported | ValueError):
        # e.g. an address the server cannot take (SMTPUTF8 missing): retrying cannot help.
        return Failure(error=f"{name}: {exc}", reason=name, permanent=True)
    return Failure(error=f"{name}: {exc}", reason=name, permanent=False)


def connect_failure(exc: BaseException) -> Failure:
    """Connecting or logging in failed: every row of the batch is retried, whatever the code."""
    failure = classify(exc)
    return Failure(
        error=f"connecting failed: {failure.error}",
        reason=failure.reason,
        permanent=False,
        connection_lost=failure.connection_lost,
        # Refused, reset or timed out: an outage. A refused login (a wrong password) is not.
        unreachable=isinstance(exc, OSError),
    )
