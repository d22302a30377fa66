"""A conversation's answers kept so far: one named draft per conversation in the person's
``user_data`` (persisted with it), read and written only through these functions."""

from __future__ import annotations

from typing import Any

from bot.context import Context, UserData

Draft = dict[str, Any]


def _user_data(context: Context) -> UserData:
    user_data = context.user_data
    assert user_data is not None  # every update with a person has their user_data
    return user_data


def draft(context: Context, name: str) -> Draft:
    """The draft called ``name`` (an empty one is made when there is none)."""
    found: Draft = _user_data(context).setdefault(name, {})
    return found


def peek(context: Context, name: str) -> Draft:
    """The draft called ``name`` without making one (empty when there is none)."""
    found: Draft = _user_data(context).get(name, {})
    return found


def start(context: Context, name: str, values: Draft | None = None) -> Draft:
    """Begin the draft ``name`` afresh (with ``values``); returns it."""
    fresh: Draft = dict(values or {})
    _user_data(context)[name] = fresh
    return fresh


def drop(context: Context, name: str) -> Draft:
    """Forget the draft ``name``; returns what it held."""
    dropped: Draft = _user_data(context).pop(name, {})
    return dropped
