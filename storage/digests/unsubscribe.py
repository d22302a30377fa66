"""Leaving the digest: signed, unguessable tokens, the links a digest carries (RFC 8058
one-click and mailto), and turning the digest off."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass

from storage import audit
from storage.models import DigestFrequency, Member
from storage.uow import UnitOfWork

_PURPOSE = b"samvirke-unsubscribe-v1:"


def make_token(secret: bytes, member_id: int) -> str:
    """``<member id>.<signature>``: the id alone is useless without the signature."""
    signature = hmac.new(secret, _PURPOSE + str(member_id).encode(), hashlib.sha256).digest()
    return f"{member_id}.{base64.urlsafe_b64encode(signature[:18]).decode().rstrip('=')}"


def read_token(secret: bytes, token: str) -> int | None:
    """The member id in a genuine token, else None (whatever characters ``token`` holds)."""
    if not token.isascii():
        return None
    member_part, _, _signature = token.partition(".")
    if not member_part.isdigit() or len(member_part) > 12:
        return None
    member_id = int(member_part)
    genuine = make_token(secret, member_id).encode()
    return member_id if hmac.compare_digest(genuine, token.encode()) else None


@dataclass(frozen=True)
class UnsubscribeLinks:
    url: str | None
    mailto: str


def links(token: object, *, public_url: str | None, address: str) -> UnsubscribeLinks | None:
    """A digest's unsubscribe links for the token its outbox row carries: HTTPS one-click
    (with a public URL) and a mail to ``address``; None for anything but a token."""
    if not isinstance(token, str) or not re.fullmatch(r"[0-9]+\.[A-Za-z0-9_-]+", token):
        return None
    url = f"{public_url.rstrip('/')}/unsubscribe/{token}" if public_url is not None else None
    return UnsubscribeLinks(url, f"mailto:{address}?subject=unsubscribe%20{token}")


async def unsubscribe(uow: UnitOfWork, member_id: int, *, now: dt.datetime) -> str | None:
    """Turn the digest off. Returns the member's language, or None if there is no such member."""
    async with uow:
        member = await uow.session.get(Member, member_id)
        if member is None or member.deleted_at is not None:
            return None
        if member.digest_frequency != DigestFrequency.OFF:
            member.digest_frequency = DigestFrequency.OFF
            member.updated_at = now
            audit.record(uow.session, "member.digest_unsubscribed", now=now, member_id=member_id)
            await uow.commit()
        return member.language


async def language_of(uow: UnitOfWork, member_id: int) -> str | None:
    async with uow:
        member = await uow.session.get(Member, member_id)
        return None if member is None or member.deleted_at is not None else member.language
