"""Timebank listings in the chat: posting an offer or a request (a conversation), and the listing
texts and category and region buttons that browsing and the member's own listings
(bot.timebank.my_listings) use too."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler

from bot.context import Context
from bot.timebank.common import (
    category_label,
    two_columns,
)
from bot.ui import callbacks, drafts, keyboards
from bot.ui.chat import TEXT, answer_press, prefaced, send, typed_text
from bot.ui.conversation import Ask, ask_again, conversation
from bot.ui.guards import member_of
from bot.ui.texts import error_text
from storage import regions
from storage.errors import InvalidInput
from storage.models import ListingKind, ListingStatus
from storage.timebank import listings as timebank_listings
from storage.timebank.listings import ListingView
from templates.i18n import N_, Translator

PREVIEW_CHARS = 200
KIND_LABELS: dict[str, str] = {ListingKind.OFFER: N_("Offer"), ListingKind.REQUEST: N_("Request")}


# --- posting a listing (a conversation) -------------------------------------------------------


NEW_TITLE, NEW_DESCRIPTION, NEW_CATEGORY, NEW_REGION, NEW_PREVIEW, NEW_CHANGE = (
    "new_title",
    "new_description",
    "new_category",
    "new_region",
    "new_preview",
    "new_change",
)
NEW_DRAFT = "timebank_listing"
EDIT_DRAFT = "timebank_edit"  # bot.timebank.my_listings


def _new(context: Context) -> dict[str, Any]:
    return drafts.draft(context, NEW_DRAFT)


async def new_start(update: Update, context: Context) -> str:
    data = await answer_press(update)
    member_of(context)
    kind = data.rsplit(":", 1)[-1]
    drafts.start(
        context, NEW_DRAFT, {"kind": kind if kind in set(ListingKind) else ListingKind.OFFER}
    )
    return await ask_title(update, context)


async def ask_title(update: Update, context: Context) -> str:
    t = context.t
    if _new(context).get("kind") == ListingKind.REQUEST:
        question = t(
            "What do you need help with? A short title, e.g. “Feedback on a grant application”."
        )
    else:
        question = t("What can you offer? A short title, e.g. “Help with grant applications”.")
    await send(update, question + "\n" + t("Send /cancel to stop."))
    return NEW_TITLE


async def title_typed(update: Update, context: Context) -> str:
    try:
        _new(context)["title"] = timebank_listings.validate_title(typed_text(update))
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_title)
    if _new(context).get("reviewing"):
        return await ask_preview(update, context)
    return await ask_listing_description(update, context)


async def ask_listing_description(update: Update, context: Context) -> str:
    await send(
        update,
        context.t(
            "Describe it in a few sentences: what, when, how much time, anything people should "
            "know."
        ),
    )
    return NEW_DESCRIPTION


async def listing_description_typed(update: Update, context: Context) -> str:
    try:
        _new(context)["description"] = timebank_listings.validate_listing_description(
            typed_text(update)
        )
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_listing_description)
    if _new(context).get("reviewing"):
        return await ask_preview(update, context)
    return await ask_category(update, context)


async def category_buttons(context: Context, prefix: str) -> list[InlineKeyboardButton]:
    return [
        keyboards.button(category_label(context.t, c), f"{prefix}:{c.id}")
        for c in await timebank_listings.categories(context.uow())
    ]


async def ask_category(update: Update, context: Context) -> str:
    buttons = await category_buttons(context, "tb:nl:cat")
    await send(update, context.t("Which category?"), InlineKeyboardMarkup(two_columns(buttons)))
    return NEW_CATEGORY


async def category_chosen(update: Update, context: Context) -> str:
    data = await answer_press(update, keep_buttons=False)
    _new(context)["category_id"] = callbacks.number(data)
    if _new(context).get("reviewing"):
        return await ask_preview(update, context)
    return await ask_listing_region(update, context)


async def region_markup(context: Context, prefix: str, everywhere: str) -> InlineKeyboardMarkup:
    available = await regions.list_active(context.uow())
    buttons = [keyboards.button(everywhere, f"{prefix}:0")]
    buttons += [keyboards.button(r.name, f"{prefix}:{r.id}") for r in available]
    return InlineKeyboardMarkup(two_columns(buttons))


async def ask_listing_region(update: Update, context: Context) -> str:
    t = context.t
    markup = await region_markup(context, "tb:nl:reg", t("The whole network"))
    await send(update, t("Where? Choose a region, or the whole network."), markup)
    return NEW_REGION


async def listing_region_chosen(update: Update, context: Context) -> str:
    data = await answer_press(update, keep_buttons=False)
    _new(context)["region_id"] = callbacks.number(data)
    return await ask_preview(update, context)


async def _draft_view(context: Context) -> ListingView:
    """The listing as it will look once published (nothing is stored)."""
    draft = _new(context)
    category_id = int(draft.get("category_id", 0))
    region_id = int(draft.get("region_id", 0))
    category = next(
        (c for c in await timebank_listings.categories(context.uow()) if c.id == category_id),
        None,
    )
    region = next(
        (r.name for r in await regions.list_active(context.uow()) if r.id == region_id), None
    )
    member = member_of(context)
    return ListingView(
        id=0,
        kind=str(draft.get("kind", ListingKind.OFFER)),
        title=str(draft.get("title", "")),
        description=str(draft.get("description", "")),
        category=category or timebank_listings.CategoryView(category_id, "", "–"),
        region_id=region_id or None,
        region_name=region,
        status=ListingStatus.ACTIVE,
        member_id=member.id,
        poster_name=member.name,
        created_at=context.now,
        updated_at=context.now,
    )


async def ask_preview(update: Update, context: Context) -> str:
    """The listing as members will see it under Browse, before it goes live."""
    t = context.t
    _new(context)["reviewing"] = True
    preview = listing_text(t, await _draft_view(context), with_poster=True, whole=True)
    await send(
        update,
        t("This is how members will see it under Browse:") + "\n\n" + preview,
        keyboards.rows(
            [keyboards.button(t("Publish"), "tb:nl:pub")],
            [
                keyboards.button(t("Change something"), "tb:nl:chg"),
                keyboards.button(t("Cancel"), "tb:nl:cancel"),
            ],
        ),
    )
    return NEW_PREVIEW


async def ask_change(update: Update, context: Context) -> str:
    t = context.t
    labels = {
        "title": t("Title"),
        "description": t("Description"),
        "category": t("Category"),
        "region": t("Region"),
    }
    buttons = [keyboards.button(label, f"tb:nl:fld:{f}") for f, label in labels.items()]
    buttons.append(keyboards.button(t("« Back to the preview"), "tb:nl:back"))
    await send(update, t("What do you want to change?"), keyboards.column(buttons))
    return NEW_CHANGE


async def change_pressed(update: Update, context: Context) -> str:
    await answer_press(update, keep_buttons=False)
    return await ask_change(update, context)


async def change_field_chosen(update: Update, context: Context) -> str:
    data = await answer_press(update, keep_buttons=False)
    questions: dict[str, Callable[[Update, Context], Coroutine[Any, Any, str]]] = {
        "title": ask_title,
        "description": ask_listing_description,
        "category": ask_category,
        "region": ask_listing_region,
        "back": ask_preview,
    }
    return await questions.get(data.rsplit(":", 1)[-1], ask_preview)(update, context)


async def preview_cancelled(update: Update, context: Context) -> int:
    await answer_press(update, keep_buttons=False)
    return await new_cancel(update, context)


async def publish_pressed(update: Update, context: Context) -> str | int:
    t = context.t
    await answer_press(update, keep_buttons=False)
    member = member_of(context)
    draft = _new(context)
    try:
        listing = await timebank_listings.create_listing(
            context.uow(),
            member.id,
            kind=str(draft.get("kind", ListingKind.OFFER)),
            title=str(draft.get("title", "")),
            description=str(draft.get("description", "")),
            category_id=int(draft.get("category_id", 0)),
            region_id=int(draft.get("region_id", 0)) or None,
            now=context.now,
        )
    except InvalidInput as error:
        if error.code == "region_unknown":
            return await ask_again(update, context, error, ask_listing_region)
        if error.code == "category_unknown":
            return await ask_again(update, context, error, ask_category)
        await send(update, error_text(t, error))
        drafts.drop(context, NEW_DRAFT)
        return ConversationHandler.END
    drafts.drop(context, NEW_DRAFT)
    async with prefaced(update, t("Published. Members can now find it under Browse.")):
        await listing_card(update, context, listing)  # one message: the news, then the card
    return ConversationHandler.END


async def new_cancel(update: Update, context: Context) -> int:
    drafts.drop(context, NEW_DRAFT)
    drafts.drop(context, EDIT_DRAFT)
    await send(update, context.t("Nothing changed."))
    return ConversationHandler.END


NEW_ASK: dict[str, Ask] = {
    NEW_TITLE: ask_title,
    NEW_DESCRIPTION: ask_listing_description,
    NEW_CATEGORY: ask_category,
    NEW_REGION: ask_listing_region,
    NEW_PREVIEW: ask_preview,
    NEW_CHANGE: ask_change,
}


# --- a listing as text and as its poster's card (browsing and my listings use them too) ------


def new_listing_buttons(t: Translator) -> list[InlineKeyboardButton]:
    return [
        keyboards.button(t("Offer help"), "tb:new:offer"),
        keyboards.button(t("Ask for help"), "tb:new:request"),
    ]


def listing_text(
    t: Translator, listing: ListingView, *, with_poster: bool, whole: bool = False
) -> str:
    head = " · ".join(
        [
            t(KIND_LABELS.get(listing.kind, KIND_LABELS[ListingKind.OFFER])),
            category_label(t, listing.category),
            listing.region_name or t("The whole network"),
        ]
    )
    description = listing.description
    if not whole and len(description) > PREVIEW_CHARS:
        cut = description[: PREVIEW_CHARS - 1]
        if " " in cut[PREVIEW_CHARS // 2 :]:  # at a word boundary, not in the middle of one
            cut = cut.rsplit(" ", 1)[0]
        description = cut.rstrip(" ,.;:–-\n") + "…"
    lines = [head, listing.title, description]
    if with_poster:
        lines.append("– " + (listing.poster_name or t("a former member")))
    return "\n".join(lines)


async def listing_card(update: Update, context: Context, listing: ListingView) -> None:
    t = context.t
    text = listing_text(t, listing, with_poster=False)
    if listing.status == ListingStatus.PAUSED:
        text = t("Paused (not shown under Browse)") + "\n" + text
        toggle = keyboards.button(t("Resume"), f"tb:lr:{listing.id}")
    else:
        toggle = keyboards.button(t("Pause"), f"tb:lp:{listing.id}")
    markup = keyboards.rows(
        [toggle, keyboards.button(t("Edit"), f"tb:lf:{listing.id}")],
        [keyboards.button(t("Delete"), f"tb:ld:{listing.id}")],
    )
    await send(update, text, markup)


# --- registration ---------------------------------------------------------------------------


def post_conversation() -> ConversationHandler[Context]:
    """Posting a listing."""
    new = conversation(
        "timebank_listing",
        [CallbackQueryHandler(new_start, pattern=callbacks.matching(r"^tb:new:(offer|request)$"))],
        {
            NEW_TITLE: [MessageHandler(TEXT, title_typed)],
            NEW_DESCRIPTION: [MessageHandler(TEXT, listing_description_typed)],
            NEW_CATEGORY: [
                CallbackQueryHandler(
                    category_chosen, pattern=callbacks.matching(r"^tb:nl:cat:\d+$")
                )
            ],
            NEW_REGION: [
                CallbackQueryHandler(
                    listing_region_chosen, pattern=callbacks.matching(r"^tb:nl:reg:\d+$")
                )
            ],
            NEW_PREVIEW: [
                CallbackQueryHandler(publish_pressed, pattern=callbacks.matching(r"^tb:nl:pub$")),
                CallbackQueryHandler(change_pressed, pattern=callbacks.matching(r"^tb:nl:chg$")),
                CallbackQueryHandler(
                    preview_cancelled, pattern=callbacks.matching(r"^tb:nl:cancel$")
                ),
            ],
            NEW_CHANGE: [
                CallbackQueryHandler(
                    change_field_chosen,
                    pattern=callbacks.matching(
                        r"^tb:nl:(fld:(title|description|category|region)|back)$"
                    ),
                )
            ],
        },
        asks=NEW_ASK,
        text_states=(NEW_TITLE, NEW_DESCRIPTION),
        own_buttons=r"^tb:nl:",
        cancel=new_cancel,
    )
    return new
