"""/people: the member directory. Consent first; then search by sector, region, topic and
words, paged, own region first; each card offers "Ask for an introduction". A member's own
card: the two lines, topics, e-mail for introductions, listed or hidden."""

from __future__ import annotations

import html
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import Context
from bot.people.common import parse_id, tell_error
from bot.ui import callbacks, keyboards
from bot.ui.chat import PRIVATE, acting, answer_press, send
from bot.ui.texts import SIGN_UP_FIRST
from storage import regions
from storage.errors import DomainError
from storage.people import directory, topics
from storage.people.cards import SECTOR_NAMES, card_text
from storage.people.directory import Filters, MyDirectory, Page
from templates.i18n import Translator

FILTERS = "people_filters"


def _explain(t: Translator) -> str:
    return "\n\n".join(
        [
            t("The member directory"),
            t(
                "Members who say yes can be found by other members: by name, organisation, "
                "sector, region and topics. You can add a line “I can help with …” and a line "
                "“I am looking for …”, and up to five topics. Your e-mail address is never "
                "shown in the directory."
            ),
            t(
                "Others can then ask you for an introduction; you decide each time. You can "
                "change your answer at any time here, in /profile or in /privacy."
            ),
            t("Do you want to be listed in the directory?"),
        ]
    )


def _menu_markup(t: Translator, mine: MyDirectory) -> InlineKeyboardMarkup:
    return keyboards.rows(
        [
            keyboards.button(t("Everyone"), "pp:find:all"),
            keyboards.button(t("By sector"), "pp:find:sec"),
        ],
        [
            keyboards.button(t("By region"), "pp:find:reg"),
            keyboards.button(t("By topic"), "pp:find:top"),
        ],
        [keyboards.button(t("My directory card"), "pp:me")],
    )


def _status_line(t: Translator, mine: MyDirectory) -> str:
    if mine.listed:
        return t("You are listed in the directory.")
    return t("You are not listed in the directory: others cannot find you.")


async def _menu(
    update: Update, context: Context, mine: MyDirectory, *, status: str | None = None
) -> None:
    """The directory's menu; ``status`` replaces the line saying whether the member is listed
    (right after they answered whether to be)."""
    t = context.t
    text = "\n\n".join(
        [
            t("The member directory"),
            status or _status_line(t, mine),
            t("Search by words: send /people followed by the words, e.g. /people housing aarhus."),
        ]
    )
    await send(update, text, _menu_markup(t, mine))


async def people_command(update: Update, context: Context) -> None:
    t = context.t
    member = context.member
    if member is None:
        await send(update, t(SIGN_UP_FIRST))
        return
    try:
        mine = await directory.mine(context.uow(), member.id)
        if not mine.verified:
            await send(
                update,
                t(
                    "The member directory is for members who have confirmed their e-mail "
                    "address. Please type the code we sent you, or send /profile to change the "
                    "address."
                ),
            )
            return
        if not mine.asked:
            await send(
                update,
                _explain(t),
                keyboards.rows(
                    [
                        keyboards.button(t("Yes, list me"), "pp:consent:yes"),
                        keyboards.button(t("No, thank you"), "pp:consent:no"),
                    ]
                ),
            )
            return
        words = " ".join(context.args or []).strip()
        if words:
            await _show_page(update, context, Filters(text=words[:100]), 0)
            return
        await _menu(update, context, mine)
    except DomainError as error:
        await tell_error(update, context, error)


async def consent(update: Update, context: Context) -> None:
    data = await answer_press(update, keep_buttons=False)
    member = context.member
    if member is None:
        await send(update, context.t(SIGN_UP_FIRST))
        return
    t = context.t
    listed = data.endswith(":yes")
    try:
        mine = await directory.set_listed(context.uow(), member.id, listed=listed, now=context.now)
    except DomainError as error:
        await tell_error(update, context, error)
        return
    if listed:
        status = t(
            "You are listed. Add what you can help with, what you are looking for and your "
            "topics on your directory card, so that the right people find you."
        )
    else:
        status = t("All right: you are not listed, and nobody can find you.")
    await _menu(update, context, mine, status=status)  # the menu has "My directory card"


# --- my card ---------------------------------------------------------------------------------


def _my_card_text(t: Translator, mine: MyDirectory) -> str:
    lines = [_status_line(t, mine), "", card_text(t, mine.card), ""]
    if mine.share_email:
        lines.append(t("Your e-mail address is shared with the members you are introduced to."))
    else:
        lines.append(t("Your e-mail address is not shared, not even on introductions."))
    return "\n".join(lines)


def _my_card_markup(t: Translator, mine: MyDirectory) -> InlineKeyboardMarkup:
    return keyboards.column(
        [
            keyboards.button(t("Change “I can help with”"), "pp:line:can_help"),
            keyboards.button(t("Change “I am looking for”"), "pp:line:looking_for"),
            keyboards.button(t("Choose topics"), "pp:topics"),
            keyboards.button(
                t("Stop sharing my e-mail on introductions")
                if mine.share_email
                else t("Share my e-mail on introductions"),
                "pp:mail:off" if mine.share_email else "pp:mail:on",
            ),
            keyboards.button(
                t("Hide me from the directory") if mine.listed else t("List me in the directory"),
                "pp:hide" if mine.listed else "pp:show",
            ),
        ]
    )


async def show_my_card(update: Update, context: Context, mine: MyDirectory) -> None:
    await send(
        update,
        _my_card_text(context.t, mine),
        _my_card_markup(context.t, mine),
        parse_mode=ParseMode.HTML,
    )


async def my_card(update: Update, context: Context) -> None:
    data = await answer_press(update)
    member = context.member
    if member is None:
        await send(update, context.t(SIGN_UP_FIRST))
        return
    uow, now = context.uow(), context.now
    try:
        if data == "pp:hide" or data == "pp:show":
            mine = await directory.set_listed(uow, member.id, listed=data == "pp:show", now=now)
            await send(
                update,
                context.t("You are listed in the directory.")
                if mine.listed
                else context.t("Done: you are hidden from the directory and every list."),
            )
        elif data.startswith("pp:mail:"):
            mine = await directory.set_share_email(
                uow, member.id, share=data.endswith(":on"), now=now
            )
        else:
            mine = await directory.mine(uow, member.id)
    except DomainError as error:
        await tell_error(update, context, error)
        return
    await show_my_card(update, context, mine)


async def choose_topics(update: Update, context: Context) -> None:
    data = await answer_press(update)
    member = context.member
    t = context.t
    if member is None:
        await send(update, t(SIGN_UP_FIRST))
        return
    try:
        if data.startswith("pp:tp:"):
            topic_id = parse_id(data.removeprefix("pp:tp:"))
            if topic_id is None:
                await send(update, t("That topic is no longer on the list."))
                return
            mine = await directory.toggle_topic(context.uow(), member.id, topic_id, now=context.now)
        else:
            mine = await directory.mine(context.uow(), member.id)
        available = await topics.all_topics(context.uow())
    except DomainError as error:
        await tell_error(update, context, error)
        return
    chosen = {topic.id for topic in mine.card.topics}
    buttons = [
        keyboards.button(
            ("✓ " if topic.id in chosen else "") + topic.name(t.language), f"pp:tp:{topic.id}"
        )
        for topic in available
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([keyboards.button(t("Done"), "pp:me")])
    await send(
        update,
        t("Choose up to five topics (press again to remove one)."),
        InlineKeyboardMarkup(rows),
    )


# --- search ----------------------------------------------------------------------------------


def _filters_of(context: Context) -> Filters:
    stored = context.user_data.get(FILTERS) if context.user_data is not None else None
    if not isinstance(stored, dict):
        return Filters()
    return Filters(
        sector=stored.get("sector"),
        region_id=stored.get("region_id"),
        topic_id=stored.get("topic_id"),
        text=stored.get("text"),
    )


def _remember(context: Context, filters: Filters) -> None:
    if context.user_data is not None:
        context.user_data[FILTERS] = {
            "sector": filters.sector,
            "region_id": filters.region_id,
            "topic_id": filters.topic_id,
            "text": filters.text,
        }


def _page_markup(t: Translator, context: Context, page: Page) -> InlineKeyboardMarkup:
    actor = acting(context)
    rows: list[list[InlineKeyboardButton]] = []
    for card in page.cards:
        rows.append(
            [
                keyboards.button(
                    t("Ask {name} for an introduction", name=card.name), f"pp:ask:{card.member_id}"
                )
            ]
        )
        if actor.is_organiser:
            rows.append(
                [
                    keyboards.button(
                        t("Introduce {name} to …", name=card.name), f"pp:intro:{card.member_id}"
                    )
                ]
            )
    nav = []
    if page.page > 0:
        nav.append(keyboards.button(t("‹ Previous"), f"pp:pg:{page.page - 1}"))
    if page.page + 1 < page.pages:
        nav.append(keyboards.button(t("Next ›"), f"pp:pg:{page.page + 1}"))
    if nav:
        rows.append(nav)
    return InlineKeyboardMarkup(rows)


async def _show_page(update: Update, context: Context, filters: Filters, number: int) -> None:
    t = context.t
    member = context.member
    assert member is not None
    page = await directory.search(context.uow(), member.id, filters, page=number)
    _remember(context, filters)
    if not page.cards:
        await send(update, t("Nobody in the directory matches that yet."))
        return
    header = t.plural("{n} member found", "{n} members found", page.total)
    if page.pages > 1:
        header += " " + t("(page {page} of {pages})", page=page.page + 1, pages=page.pages)
    text = "\n\n".join([html.escape(header), *(card_text(t, card) for card in page.cards)])
    await send(update, text, _page_markup(t, context, page), parse_mode=ParseMode.HTML)


async def find(update: Update, context: Context) -> None:
    data = await answer_press(update)
    t = context.t
    if context.member is None:
        await send(update, t(SIGN_UP_FIRST))
        return
    try:
        kind, _, value = data.removeprefix("pp:").partition(":")
        if kind == "find" and value == "all":
            await _show_page(update, context, Filters(), 0)
        elif kind == "find" and value == "sec":
            await send(update, t("Which sector?"), keyboards.sectors(t, "pp:fs"))
        elif kind == "find" and value == "reg":
            available = await regions.list_active(context.uow())
            await send(update, t("Which region?"), keyboards.regions(available, "pp:fr"))
        elif kind == "find" and value == "top":
            available_topics = await topics.all_topics(context.uow())
            buttons = [
                keyboards.button(topic.name(t.language), f"pp:ft:{topic.id}")
                for topic in available_topics
            ]
            markup = InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])
            await send(update, t("Which topic?"), markup)
        elif kind == "fs" and value in SECTOR_NAMES:
            await _show_page(update, context, Filters(sector=value), 0)
        elif kind in ("fr", "ft") and parse_id(value) is not None:
            number = parse_id(value)
            filters = Filters(region_id=number) if kind == "fr" else Filters(topic_id=number)
            await _show_page(update, context, filters, 0)
        elif kind == "pg" and value.isdigit() and len(value) <= 4:
            await _show_page(update, context, _filters_of(context), int(value))
        else:
            await send(update, t("Please choose one of the buttons."))
    except DomainError as error:
        await tell_error(update, context, error)


def handlers() -> list[BaseHandler[Update, Context, Any]]:
    return [
        CommandHandler("people", people_command, filters=PRIVATE),
        CallbackQueryHandler(consent, pattern=callbacks.matching(r"^pp:consent:(yes|no)$")),
        CallbackQueryHandler(
            my_card, pattern=callbacks.matching(r"^pp:(me|hide|show|mail:(on|off))$")
        ),
        CallbackQueryHandler(
            choose_topics, pattern=callbacks.matching(r"^pp:(topics|tp:\d{1,10})$")
        ),
        CallbackQueryHandler(
            find,
            pattern=callbacks.matching(
                r"^pp:(find:(all|sec|reg|top)|fs:\w{1,20}|fr:\d{1,10}|ft:\d{1,10}|pg:\d{1,4})$"
            ),
        ),
    ]
