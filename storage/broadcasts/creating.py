"""Broadcasts: an organiser's message to everyone, a region, a sector or an event's attendees.

Confirming a broadcast snapshots its recipients: one Telegram outbox row per member, keyed
``broadcast:{id}:{member_id}``, inserted in the same transaction as the broadcast. From then
on the scheduler delivers the rows at Telegram's limits; progress and the final report are
counted from them (see ``storage.broadcasts.progress``), so a restart mid-broadcast resumes
where it was and sends nothing twice.

The message is checked in ``storage.broadcasts.content``, the audience resolved in
``storage.broadcasts.audiences``.

"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, outbox
from storage.broadcasts import audiences
from storage.broadcasts.audiences import Audience
from storage.broadcasts.content import (
    BroadcastContent,
    Sender,
    labelled,
    row_key,
    telegram_payload,
    validate_content,
)
from storage.errors import InvalidInput
from storage.models import (
    Broadcast,
    Member,
)
from storage.permissions import Actor
from storage.uow import UnitOfWork
from templates.i18n import translator


@dataclass(frozen=True)
class BroadcastView:
    id: int
    total: int
    created: bool


async def _made_before(session: AsyncSession, draft_key: str) -> BroadcastView | None:
    """The broadcast this draft was confirmed as already, if it was."""
    existing = await session.scalar(select(Broadcast).where(Broadcast.draft_key == draft_key))
    if existing is None:
        return None
    return BroadcastView(existing.id, existing.total, created=False)


async def create(
    uow: UnitOfWork,
    actor: Actor,
    *,
    draft_key: str,
    content: BroadcastContent,
    audience: Audience,
    language: str,
    progress_chat_id: int | None,
    progress_message_id: int | None,
    now: dt.datetime,
    sender: Sender | None = None,
) -> BroadcastView:
    """Confirm a broadcast: the broadcast, one outbox row per recipient and the audit entry,
    in one transaction. Confirming the same draft again returns the first broadcast."""
    content = validate_content(
        content.text, media_kind=content.media_kind, media_file_id=content.media_file_id
    )
    if not draft_key or len(draft_key) > 100:
        raise InvalidInput("broadcast_draft")
    async with uow:
        before = await _made_before(uow.session, draft_key)
        if before is not None:
            return before
        statement, _label, scope = await audiences.resolve(uow.session, actor, audience)
        recipients = (await uow.session.execute(statement.order_by(Member.id))).all()
        if not recipients:
            raise InvalidInput("broadcast_no_recipients")
        broadcast = Broadcast(
            draft_key=draft_key,
            author_member_id=actor.member_id,
            text=content.text,
            media_kind=content.media_kind,
            media_file_id=content.media_file_id,
            audience_kind=audience.kind,
            audience_value=audience.value,
            scope_region_id=scope,
            total=len(recipients),
            language=language,
            progress_chat_id=progress_chat_id,
            progress_message_id=progress_message_id,
            created_at=now,
        )
        uow.session.add(broadcast)
        try:
            await uow.session.flush()
        except IntegrityError:
            # The same confirmation at the same moment from a second tap: the other one won.
            await uow.session.rollback()
            before = await _made_before(uow.session, draft_key)
            if before is None:
                raise
            return before
        await _queue_rows(uow.session, broadcast.id, content, recipients, sender, now=now)
        audit.record(
            uow.session,
            "broadcast.created",
            now=now,
            actor_member_id=actor.member_id,
            broadcast_id=broadcast.id,
            audience=audience.kind,
            audience_value=audience.value,
            recipients=len(recipients),
        )
        result = BroadcastView(broadcast.id, broadcast.total, created=True)
        await uow.commit()
        return result


async def _queue_rows(
    session: AsyncSession,
    broadcast_id: int,
    content: BroadcastContent,
    recipients: Sequence[Any],
    sender: Sender | None,
    *,
    now: dt.datetime,
) -> None:
    texts = {
        language: labelled(content, translator(language), sender)
        for language in {language for _, _, language in recipients}
    }
    messages = [
        outbox.Queued(
            row_key(broadcast_id, member_id),
            member_id,
            telegram_payload(content, chat_id, texts[language]),
        )
        for member_id, chat_id, language in recipients
    ]
    await outbox.enqueue_many(session, outbox.TELEGRAM, messages, now=now)
