"""The channels and groups the bot is in: noticed from Telegram's ``my_chat_member`` updates,
configured by an administrator (which regions' events, announcements only or also reminders),
listed and removed with ``/channels``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.errors import InvalidInput, NotFound
from storage.models import BotChat, ChatKind, ChatPurpose, Region
from storage.permissions import Actor, require_admin
from storage.uow import UnitOfWork
from templates.i18n import translator

TITLE_MAX = 255


@dataclass(frozen=True)
class ChatView:
    id: int
    chat_id: int
    kind: str
    title: str
    active: bool
    can_post: bool
    can_edit: bool
    region_ids: tuple[int, ...]  # empty: every region
    region_names: tuple[str, ...]
    purpose: str
    configured: bool


def _ids(value: str) -> tuple[int, ...]:
    return tuple(int(part) for part in value.split(",") if part.strip().isdigit())


async def _view(uow: UnitOfWork, chat: BotChat) -> ChatView:
    ids = _ids(chat.region_ids)
    names: tuple[str, ...] = ()
    if ids:
        rows = await uow.session.scalars(
            select(Region.name).where(Region.id.in_(ids)).order_by(Region.name)
        )
        names = tuple(rows.all())
    return ChatView(
        chat.id,
        chat.chat_id,
        chat.kind,
        chat.title,
        chat.active,
        chat.can_post,
        chat.can_edit,
        ids,
        names,
        chat.purpose,
        chat.configured,
    )


@dataclass(frozen=True)
class MembershipChange:
    chat: ChatView
    added: bool  # the bot became an administrator here just now (ask what the chat is for)


async def _ask_what_for(
    session: AsyncSession, chat: BotChat, user_id: int, language: str, *, now: dt.datetime
) -> None:
    """Ask the administrator who added the bot, in the private chat, what the chat is for."""
    t = translator(language)
    where = t("channel") if chat.kind == ChatKind.CHANNEL else t("group")
    await outbox.enqueue_telegram(
        session,
        key=f"chat-setup:{chat.id}:{int(now.timestamp())}",
        chat_id=user_id,
        text=t(
            "You added me to the {where} “{title}”. Which regions' events should I "
            "announce there, and should I also post reminders?",
            where=where,
            title=chat.title,
        ),
        buttons=[[{"text": t("Set it up"), "callback_data": f"chn:show:{chat.id}"}]],
        now=now,
    )


async def record_membership(
    uow: UnitOfWork,
    *,
    chat_id: int,
    chat_type: str,
    title: str,
    is_admin: bool,
    can_post: bool,
    can_edit: bool,
    by_user_id: int | None,
    ask_language: str | None = None,
    now: dt.datetime,
) -> MembershipChange | None:
    """What Telegram said about the bot's place in a channel or group. None for private chats
    and for a chat the bot merely joined (it must be an administrator to post and edit).

    With ``ask_language`` (the one who added the bot is an administrator of Samvirke), a bot
    newly made administrator asks them in the private chat, through the outbox, what the chat
    is for."""
    if chat_type not in ("channel", "group", "supergroup"):
        return None
    kind = ChatKind.CHANNEL if chat_type == "channel" else ChatKind.GROUP
    async with uow:
        chat = await uow.session.scalar(select(BotChat).where(BotChat.chat_id == chat_id))
        if chat is None and not is_admin:
            return None
        added = False
        if chat is None:
            chat = BotChat(chat_id=chat_id, kind=kind, created_at=now)
            uow.session.add(chat)
            added = True
        elif is_admin and not chat.active:
            added = True
        chat.kind = kind
        chat.title = " ".join(title.split())[:TITLE_MAX]
        chat.active = is_admin
        chat.can_post = is_admin and (can_post or kind == ChatKind.GROUP)
        chat.can_edit = is_admin and (can_edit or kind == ChatKind.GROUP)
        chat.updated_at = now
        chat.left_at = None if is_admin else now
        if added:
            chat.added_by_user_id = by_user_id
        await uow.session.flush()
        view = await _view(uow, chat)
        if added and ask_language is not None and by_user_id is not None:
            await _ask_what_for(uow.session, chat, by_user_id, ask_language, now=now)
        await uow.commit()
        return MembershipChange(view, added)


async def list_chats(uow: UnitOfWork, actor: Actor) -> list[ChatView]:
    require_admin(actor)
    async with uow:
        chats = (
            await uow.session.scalars(
                select(BotChat).where(BotChat.active.is_(True)).order_by(BotChat.title)
            )
        ).all()
        return [await _view(uow, chat) for chat in chats]


async def get(uow: UnitOfWork, actor: Actor, chat_row_id: int) -> ChatView:
    require_admin(actor)
    async with uow:
        chat = await uow.session.get(BotChat, chat_row_id)
        if chat is None or not chat.active:
            raise NotFound("chat_not_found")
        return await _view(uow, chat)


async def configure(
    uow: UnitOfWork,
    actor: Actor,
    chat_row_id: int,
    *,
    region_id: int | None = None,
    all_regions: bool = False,
    purpose: str | None = None,
    now: dt.datetime,
) -> ChatView:
    """Add or remove one region (``region_id`` toggles it), or make it every region; set the
    purpose. The chat counts as configured once a purpose is chosen."""
    require_admin(actor)
    if purpose is not None and purpose not in (ChatPurpose.ANNOUNCEMENTS, ChatPurpose.REMINDERS):
        raise InvalidInput("purpose_unknown")
    async with uow:
        chat = await uow.session.get(BotChat, chat_row_id, with_for_update=True)
        if chat is None or not chat.active:
            raise NotFound("chat_not_found")
        if all_regions:
            chat.region_ids = ""
        elif region_id is not None:
            region = await uow.session.get(Region, region_id)
            if region is None or not region.active:
                raise InvalidInput("region_unknown")
            ids = set(_ids(chat.region_ids))
            ids ^= {region_id}
            chat.region_ids = ",".join(str(i) for i in sorted(ids))
        if purpose is not None:
            chat.purpose = purpose
            chat.configured = True
        chat.updated_at = now
        view = await _view(uow, chat)
        await uow.commit()
        return view


async def remove(uow: UnitOfWork, actor: Actor, chat_row_id: int, *, now: dt.datetime) -> None:
    """Stop using the chat (the bot stays until someone removes it in Telegram)."""
    require_admin(actor)
    async with uow:
        chat = await uow.session.get(BotChat, chat_row_id, with_for_update=True)
        if chat is None:
            raise NotFound("chat_not_found")
        chat.active = False
        chat.left_at = now
        chat.updated_at = now
        await uow.commit()


async def for_region(uow: UnitOfWork, region_id: int | None) -> list[ChatView]:
    """The configured chats an event of this region (None: the whole network) may be announced
    in: those for every region, and those for its region."""
    async with uow:
        chats = (
            await uow.session.scalars(
                select(BotChat)
                .where(
                    BotChat.active.is_(True),
                    BotChat.configured.is_(True),
                    BotChat.can_post.is_(True),
                )
                .order_by(BotChat.title)
            )
        ).all()
        found = []
        for chat in chats:
            ids = _ids(chat.region_ids)
            if not ids or (region_id is not None and region_id in ids):
                found.append(await _view(uow, chat))
        return found
