"""Walk-ins at the door: from an event's check-in list, "Check in someone not on the list" asks
for a name (or part of it) or a Telegram @username, shows the members it finds as buttons (name
and organisation, so that two people of the same name are told apart), and checks in the one
the organiser taps.

The organiser finds people by what they type, never by an id they could choose: storage
(storage.events.attendance) offers only members in the organiser's region, and checks again
when a button is pressed, so a forged press is refused as an unknown member.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, ConversationHandler, MessageHandler

from bot.context import Context
from bot.events.attendees import checkin_list_pressed
from bot.ui import callbacks, keyboards
from bot.ui.chat import TEXT, acting, answer_press, redraw, send, typed_text
from bot.ui.conversation import conversation
from bot.ui.texts import error_text
from storage.errors import DomainError, InvalidInput
from storage.events import attendance as event_attendance
from storage.events.attendance import WalkIn
from templates.i18n import Translator

SEARCH = "walk_in_search"
DRAFT = "walk_in"  # user_data: {"event": id, "title": title} while the organiser searches

START = r"^oe:wf:\d+$"
PICK = r"^oe:wi:\d+:\d+$"
BACK = r"^oe:ck:\d+:\d+$"


def _back(t: Translator, event_id: int) -> InlineKeyboardButton:
    return keyboards.button(t("‹ Back to the check-in list"), f"oe:ck:{event_id}:0")


def _again(t: Translator, event_id: int) -> InlineKeyboardButton:
    return keyboards.button(t("🔎 Search again"), f"oe:wf:{event_id}")


def _label(walk_in: WalkIn) -> str:
    """Name and organisation (the region when there is none): two Karen Jensens differ."""
    where = walk_in.organisation or walk_in.region_name
    return keyboards.label(f"{walk_in.name} – {where}" if where else walk_in.name, 60)


def _draft(context: Context) -> dict[str, Any] | None:
    user_data = context.user_data
    draft = user_data.get(DRAFT) if user_data is not None else None
    if isinstance(draft, dict) and isinstance(draft.get("event"), int):
        return draft
    return None


def _end(context: Context) -> int:
    user_data = context.user_data
    if user_data is not None:
        user_data.pop(DRAFT, None)
    return ConversationHandler.END


async def ask(update: Update, context: Context) -> str | int:
    """The question (again): who came?"""
    draft = _draft(context)
    if draft is None:
        return _end(context)
    t = context.t
    await send(
        update,
        t(
            "Who came to “{title}” without answering? Type their name (or part of it) or their "
            "Telegram @username.",
            title=str(draft.get("title", "")),
        ),
        keyboards.rows([_back(t, draft["event"])]),
    )
    return SEARCH


async def start_pressed(update: Update, context: Context) -> str | int:
    """ "Check in someone not on the list" (or "Search again")."""
    event_id = callbacks.number(await answer_press(update))
    try:
        view = await event_attendance.walk_in_event(
            context.uow(), acting(context), event_id, now=context.now
        )
    except DomainError as error:
        await send(update, error_text(context.t, error))
        return _end(context)
    user_data = context.user_data
    assert user_data is not None
    user_data[DRAFT] = {"event": view.id, "title": view.title}
    return await ask(update, context)


async def name_typed(update: Update, context: Context) -> str | int:
    draft = _draft(context)
    if draft is None:
        return _end(context)
    t = context.t
    event_id: int = draft["event"]
    query = typed_text(update)
    try:
        search = await event_attendance.find_walk_ins(
            context.uow(), acting(context), event_id, query, now=context.now
        )
    except InvalidInput as error:  # too short: type again
        await send(update, error_text(t, error), keyboards.rows([_back(t, event_id)]))
        return SEARCH
    except DomainError as error:  # the event was cancelled meanwhile, the organiser's role gone
        await send(update, error_text(t, error))
        return _end(context)
    shown = keyboards.label(" ".join(query.split()), 40)
    if search.more:
        text = t.plural(
            "More than {n} member matches “{query}”. Please type more of the name.",
            "More than {n} members match “{query}”. Please type more of the name.",
            len(search.found),
            query=shown,
        )
        await send(update, text, keyboards.rows([_back(t, event_id)]))
    elif not search.found:
        text = t("No member matches “{query}”. Type another name or @username.", query=shown)
        await send(update, text, keyboards.rows([_again(t, event_id), _back(t, event_id)]))
    else:
        rows = [
            [keyboards.button(_label(w), f"oe:wi:{event_id}:{w.member_id}")] for w in search.found
        ]
        rows.append([_again(t, event_id), _back(t, event_id)])
        text = t("Members matching “{query}”: tap the one who came.", query=shown)
        await send(update, text, InlineKeyboardMarkup(rows))
    return SEARCH  # another name typed is another search


async def picked(update: Update, context: Context) -> int:
    """A member from the results: checked in. Storage checks again whether the organiser may
    check this member in, so a forged button is refused as an unknown member."""
    query = update.callback_query
    assert query is not None
    data = query.data or ""
    event_id, member_id = callbacks.number(data, 2), callbacks.number(data, 3)
    t = context.t
    actor = acting(context)
    try:
        added = await event_attendance.set_checked_in(
            context.uow(), actor, event_id, member_id, True, now=context.now
        )
        report = await event_attendance.attendees(context.uow(), actor, event_id)
    except DomainError as error:
        await query.answer(error_text(t, error), show_alert=True)
        return _end(context)
    await query.answer(t("Checked in."))
    name = next((a.name for a in report.attendees if a.member_id == member_id), "")
    text = (
        t("✅ {name} is checked in.", name=name)
        if added
        else t("{name} was already checked in.", name=name)
    )
    markup = keyboards.rows(
        [keyboards.button(t("➕ Check in someone else"), f"oe:wf:{event_id}")],
        [_back(t, event_id)],
    )
    if query.message is not None:
        await redraw(update, text, markup)
    else:
        await send(update, text, markup)
    return _end(context)


async def back_pressed(update: Update, context: Context) -> int:
    """Back to the check-in list: the search ends."""
    _end(context)
    await checkin_list_pressed(update, context)
    return ConversationHandler.END


async def cancelled(update: Update, context: Context) -> int:
    await send(update, context.t("Stopped: nothing was changed."))
    return _end(context)


def handler() -> ConversationHandler[Context]:
    """The persistent search behind "Check in someone not on the list"."""
    return conversation(
        "walk_in",
        [CallbackQueryHandler(start_pressed, pattern=callbacks.matching(START))],
        {
            SEARCH: [
                MessageHandler(TEXT, name_typed),
                CallbackQueryHandler(picked, pattern=callbacks.matching(PICK)),
                CallbackQueryHandler(start_pressed, pattern=callbacks.matching(START)),
                CallbackQueryHandler(back_pressed, pattern=callbacks.matching(BACK)),
            ]
        },
        asks={SEARCH: ask},
        text_states={SEARCH},
        own_buttons=r"^oe:w[fi]:",
        cancel=cancelled,
    )


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    """A result pressed after the search ended (an older message): the same check-in."""
    return [CallbackQueryHandler(picked, pattern=callbacks.matching(PICK))]
