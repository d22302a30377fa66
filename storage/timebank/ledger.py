"""The timebank's pure rules: amounts, limits, who may exchange with whom, and the zero sum.

No database here. Amounts are integer minutes (one hour is 60, whoever gives it); an entry
moves minutes from a debit account to a credit account, so every entry leaves the sum of all
balances unchanged, and the sum starts at zero.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from storage.errors import DomainError, InvalidInput

if TYPE_CHECKING:
    from samvirke.settings import Settings

MINUTES_PER_HOUR = 60
STEP_MINUTES = 15
MAX_EXCHANGE_MINUTES = 24 * MINUTES_PER_HOUR
MAX_ADJUSTMENT_MINUTES = 1000 * MINUTES_PER_HOUR

DEFAULT_MIN_BALANCE_HOURS = -20
DEFAULT_MAX_BALANCE_HOURS = 100
DEFAULT_EXPIRY_DAYS = 14


@dataclass(frozen=True)
class Limits:
    """The lowest and highest balance an account may reach, in minutes (min <= 0 <= max)."""

    min_minutes: int
    max_minutes: int

    def __post_init__(self) -> None:
        if not self.min_minutes <= 0 <= self.max_minutes:
            raise ValueError("limits must satisfy min <= 0 <= max")

    @classmethod
    def hours(cls, minimum: int, maximum: int) -> Limits:
        return cls(minimum * MINUTES_PER_HOUR, maximum * MINUTES_PER_HOUR)


DEFAULT_MEMBER_LIMITS = Limits.hours(DEFAULT_MIN_BALANCE_HOURS, DEFAULT_MAX_BALANCE_HOURS)
DEFAULT_ORGANISATION_LIMITS = Limits.hours(-1000, 1000)


@dataclass(frozen=True)
class Policy:
    """The configurable rules: limits for members and for organisation accounts, and how long
    an exchange waits for confirmation."""

    member_limits: Limits = DEFAULT_MEMBER_LIMITS
    organisation_limits: Limits = DEFAULT_ORGANISATION_LIMITS
    expiry: dt.timedelta = dt.timedelta(days=DEFAULT_EXPIRY_DAYS)

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            member_limits=Limits.hours(
                settings.timebank_min_balance_hours, settings.timebank_max_balance_hours
            ),
            organisation_limits=Limits.hours(
                settings.timebank_organisation_min_balance_hours,
                settings.timebank_organisation_max_balance_hours,
            ),
            expiry=dt.timedelta(days=settings.timebank_expiry_days),
        )


class LimitExceeded(DomainError):
    """An entry would take an account below its minimum or above its maximum balance.

    ``params``: ``account_id``, ``balance`` (now), ``after`` (would be), ``limit`` (minutes).
    The services add ``debit_balance``/``credit_balance`` and the accounts' names.
    """

    code = "limit_exceeded"

    def __init__(self, code: str, *, account_id: int, balance: int, after: int, limit: int) -> None:
        super().__init__(code, account_id=account_id, balance=balance, after=after, limit=limit)

    @property
    def account_id(self) -> int:
        return int(str(self.params["account_id"]))


def validate_minutes(minutes: int, *, maximum: int = MAX_EXCHANGE_MINUTES) -> int:
    """More than zero, in quarter-hour steps, at most ``maximum`` (24 h for an exchange)."""
    if minutes <= 0:
        raise InvalidInput("hours_not_positive")
    if minutes % STEP_MINUTES:
        raise InvalidInput("hours_not_quarter")
    if minutes > maximum:
        raise InvalidInput("hours_too_many", max=maximum // MINUTES_PER_HOUR)
    return minutes


_HOURS = re.compile(
    r"^(?P<number>[0-9]{1,4}(?:[.,][0-9]{1,4})?|[.,][0-9]{1,4})\s*"
    r"(?P<unit>h|hrs?|hours?|t|timer?|tim(?:mar|me)?|min|minutes?|minutter?|minuter)?\.?$"
)
_CLOCK = re.compile(r"^(?P<hours>[0-9]{1,2}):(?P<minutes>[0-5][0-9])\s*(?:h|t)?$")
_FRACTIONS = {"½": ".5", "¼": ".25", "¾": ".75"}


def parse_hours(text: str) -> int:
    """Minutes from what a member types: "2", "1.5", "1,5", "1½", "1:45", "2 h", "90 min".

    Raises ``InvalidInput("hours_invalid")`` for anything else; the result is not yet checked
    against ``validate_minutes``.
    """
    value = text.strip().lower()
    for fraction, decimal in _FRACTIONS.items():
        value = value.replace(fraction, decimal)
    clock = _CLOCK.match(value)
    if clock:
        return int(clock["hours"]) * MINUTES_PER_HOUR + int(clock["minutes"])
    match = _HOURS.match(value)
    if not match:
        raise InvalidInput("hours_invalid")
    try:
        number = Decimal(match["number"].replace(",", "."))
    except InvalidOperation:
        raise InvalidInput("hours_invalid") from None
    unit = match["unit"] or "h"
    minutes = number if unit.startswith("min") else number * MINUTES_PER_HOUR
    if minutes != minutes.to_integral_value():
        raise InvalidInput("hours_not_quarter")
    return int(minutes)


def hours_decimal(minutes: int) -> Decimal:
    """Exact hours (minutes are quarter-hours in practice, so at most two decimals)."""
    value = (Decimal(minutes) / MINUTES_PER_HOUR).quantize(Decimal("0.01"))
    # Without trailing zeros, and never in exponent form (Decimal("1E+1") for 10 hours).
    text = f"{value:f}"
    return Decimal(text.rstrip("0").rstrip(".") if "." in text else text)


def check_entry(
    *,
    debit_account_id: int,
    credit_account_id: int,
    minutes: int,
    debit_balance: int,
    credit_balance: int,
    debit_limits: Limits,
    credit_limits: Limits,
) -> None:
    """May ``minutes`` move from the debit to the credit account?

    The debit account's balance falls, so only its minimum matters; the credit account's rises,
    so only its maximum does. (An account left outside new, stricter limits may therefore
    always move back towards them.)
    """
    if debit_account_id == credit_account_id:
        raise InvalidInput("self_exchange")
    if minutes <= 0:
        raise InvalidInput("hours_not_positive")
    after_debit = debit_balance - minutes
    if after_debit < debit_limits.min_minutes:
        raise LimitExceeded(
            "balance_below_minimum",
            account_id=debit_account_id,
            balance=debit_balance,
            after=after_debit,
            limit=debit_limits.min_minutes,
        )
    after_credit = credit_balance + minutes
    if after_credit > credit_limits.max_minutes:
        raise LimitExceeded(
            "balance_above_maximum",
            account_id=credit_account_id,
            balance=credit_balance,
            after=after_credit,
            limit=credit_limits.max_minutes,
        )


@dataclass(frozen=True)
class Movement:
    """The part of an entry the balances depend on."""

    debit_account_id: int
    credit_account_id: int
    minutes: int


def balances(entries: Iterable[Movement]) -> dict[int, int]:
    """Every account's balance derived from the entries (credits minus debits)."""
    result: dict[int, int] = {}
    for entry in entries:
        result[entry.debit_account_id] = result.get(entry.debit_account_id, 0) - entry.minutes
        result[entry.credit_account_id] = result.get(entry.credit_account_id, 0) + entry.minutes
    return result


def sum_is_zero(balances: Mapping[int, int]) -> bool:
    """The ledger's invariant: what some accounts hold, others owe."""
    return sum(balances.values()) == 0


def reversal(entry: Movement) -> Movement:
    """The entry that undoes ``entry``: the same minutes, the other way."""
    return Movement(entry.credit_account_id, entry.debit_account_id, entry.minutes)
