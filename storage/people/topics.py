"""The topics members mark on their directory card; administrators keep the list (/topics)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from storage import audit
from storage.errors import InvalidInput, NotFound
from storage.models import Topic
from storage.permissions import Actor, require_admin
from storage.rules import clean_text, region_code
from storage.uow import UnitOfWork

TOPIC_NAME_MAX = 60


@dataclass(frozen=True)
class TopicView:
    id: int
    code: str
    names: dict[str, str]
    active: bool = True

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["en"]


def topic_view(topic: Topic) -> TopicView:
    return TopicView(
        topic.id,
        topic.code,
        {"da": topic.name_da, "sv": topic.name_sv, "en": topic.name_en},
        topic.active,
    )


async def all_topics(uow: UnitOfWork, *, include_hidden: bool = False) -> list[TopicView]:
    async with uow:
        statement = select(Topic).order_by(Topic.id)
        if not include_hidden:
            statement = statement.where(Topic.active.is_(True))
        return [topic_view(t) for t in (await uow.session.scalars(statement)).all()]


def parse_names(text: str) -> tuple[str, str, str]:
    """ "English | Dansk | Svenska" (the Danish and Swedish names default to the English)."""
    parts = [clean_text(p) for p in text.split("|")]
    if not parts or not parts[0] or len(parts) > 3:
        raise InvalidInput("topic_names_invalid", max=TOPIC_NAME_MAX)
    en = parts[0]
    da = parts[1] if len(parts) > 1 and parts[1] else en
    sv = parts[2] if len(parts) > 2 and parts[2] else en
    if any(len(n) > TOPIC_NAME_MAX for n in (en, da, sv)):
        raise InvalidInput("topic_names_invalid", max=TOPIC_NAME_MAX)
    return en, da, sv


async def add_topic(uow: UnitOfWork, actor: Actor, text: str, *, now: dt.datetime) -> TopicView:
    require_admin(actor)
    en, da, sv = parse_names(text)
    code = region_code(en).replace("-", "_")[:40]
    async with uow:
        session = uow.session
        existing = await session.scalar(select(Topic).where(Topic.code == code))
        if existing is not None:
            if existing.active:
                raise InvalidInput("topic_exists")
            existing.active = True
            existing.name_en, existing.name_da, existing.name_sv = en, da, sv
            topic = existing
        else:
            topic = Topic(
                code=code, name_en=en, name_da=da, name_sv=sv, active=True, created_at=now
            )
            session.add(topic)
        await session.flush()
        audit.record(
            session, "topic.added", now=now, actor_member_id=actor.member_id, topic_id=topic.id
        )
        view = topic_view(topic)
        await uow.commit()
        return view


async def set_active(
    uow: UnitOfWork, actor: Actor, topic_id: int, *, active: bool, now: dt.datetime
) -> TopicView:
    """Hide a topic from cards and searches (members' marks are kept) or show it again."""
    require_admin(actor)
    async with uow:
        session = uow.session
        topic = await session.get(Topic, topic_id)
        if topic is None:
            raise NotFound("topic_not_found")
        topic.active = active
        await session.flush()
        audit.record(
            session,
            "topic.shown" if active else "topic.hidden",
            now=now,
            actor_member_id=actor.member_id,
            topic_id=topic.id,
        )
        view = topic_view(topic)
        await uow.commit()
        return view
