"""The member's own timebank listings: each with Pause or Resume, Edit and Delete, and editing one
field of a listing (a conversation)."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler

from bot.context import Context
from bot.timebank.common import two_columns
from bot.timebank.listings import (
    EDIT_DRAFT,
    category_buttons,
    listing_card,
    new_cancel,
    new_listing_buttons,
    region_markup,
)
from bot.ui import callbacks, drafts, keyboards
from bot.ui.chat import TEXT, answer_press, send, typed_text
from bot.ui.conversation import ask_again, conversation
from bot.ui.guards import member_of
from storage.errors import InvalidInput
from storage.models import ListingStatus
from storage.timebank import listings as timebank_listings
from templates.i18n import N_

EDIT_TEXT, EDIT_CHOICE = "edit_text", "edit_choice"
EDIT_QUESTIONS = {
    "title": N_("Type the new title."),
    "description": N_("Type the new description."),
    "category": N_("Which category?"),
    "region": N_("Where? Choose a region, or the whole network."),
}


async def edit_start(update: Update, context: Context) -> str | int:
    data = await answer_press(update, keep_buttons=False)
    member_of(context)
    _, _, listing_id, field = data.split(":")
    drafts.start(context, EDIT_DRAFT, {"listing": int(listing_id), "field": field})
    return await ask_edit(update, context)


async def ask_edit(update: Update, context: Context) -> str:
    t = context.t
    draft = drafts.peek(context, EDIT_DRAFT)
    field = str(draft.get("field", "title"))
    question = t(EDIT_QUESTIONS.get(field, EDIT_QUESTIONS["title"]))
    if field == "category":
        buttons = await category_buttons(context, "tb:le:set")
        await send(update, question, InlineKeyboardMarkup(two_columns(buttons)))
        return EDIT_CHOICE
    if field == "region":
        markup = await region_markup(context, "tb:le:set", t("The whole network"))
        await send(update, question, markup)
        return EDIT_CHOICE
    await send(update, question + "\n" + t("Send /cancel to keep it as it is."))
    return EDIT_TEXT


async def _save_edit(update: Update, context: Context, value: str | int | None) -> str | int:
    member = member_of(context)
    draft = drafts.peek(context, EDIT_DRAFT)
    try:
        listing = await timebank_listings.update_listing(
            context.uow(),
            member.id,
            int(draft.get("listing", 0)),
            str(draft.get("field", "")),
            value,
            now=context.now,
        )
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_edit)
    drafts.drop(context, EDIT_DRAFT)
    await send(update, context.t("Saved."))
    await listing_card(update, context, listing)
    return ConversationHandler.END


async def edit_typed(update: Update, context: Context) -> str | int:
    return await _save_edit(update, context, typed_text(update))


async def edit_chosen(update: Update, context: Context) -> str | int:
    data = await answer_press(update, keep_buttons=False)
    return await _save_edit(update, context, callbacks.number(data) or None)


# --- my listings ----------------------------------------------------------------------------


async def my_listings(update: Update, context: Context) -> None:
    t = context.t
    await answer_press(update)
    member = member_of(context)
    listings = await timebank_listings.my_listings(context.uow(), member.id)
    if not listings:
        await send(
            update,
            t("You have no offers or requests yet."),
            keyboards.rows(new_listing_buttons(t)),
        )
        return
    await send(update, t("Your offers and requests:"))
    for listing in listings:
        await listing_card(update, context, listing)


async def listing_status_pressed(update: Update, context: Context) -> None:
    t = context.t
    data = await answer_press(update, keep_buttons=False)
    member = member_of(context)
    action = data.split(":")[1]
    status = {"lp": ListingStatus.PAUSED, "lr": ListingStatus.ACTIVE, "ldy": ListingStatus.DELETED}
    listing = await timebank_listings.set_listing_status(
        context.uow(), member.id, callbacks.number(data), status[action], now=context.now
    )
    if listing is None:
        await send(update, t("Deleted."))
        return
    await send(
        update, t("Paused.") if listing.status == ListingStatus.PAUSED else t("Active again.")
    )
    await listing_card(update, context, listing)


async def delete_asked(update: Update, context: Context) -> None:
    t = context.t
    data = await answer_press(update)
    listing_id = callbacks.number(data)
    await send(
        update,
        t("Delete this listing for good?"),
        keyboards.rows(
            [
                keyboards.button(t("Yes, delete it"), f"tb:ldy:{listing_id}"),
                keyboards.button(t("No, keep it"), "tb:mine"),
            ]
        ),
    )


async def edit_fields(update: Update, context: Context) -> None:
    t = context.t
    data = await answer_press(update)
    listing_id = callbacks.number(data)
    labels = {
        "title": t("Title"),
        "description": t("Description"),
        "category": t("Category"),
        "region": t("Region"),
    }
    await send(
        update,
        t("What do you want to change?"),
        keyboards.column(
            keyboards.button(label, f"tb:le:{listing_id}:{field}")
            for field, label in labels.items()
        ),
    )


def edit_conversation() -> ConversationHandler[Context]:
    """Editing one field of a listing."""
    return conversation(
        "timebank_edit",
        [
            CallbackQueryHandler(
                edit_start,
                pattern=callbacks.matching(r"^tb:le:\d+:(title|description|category|region)$"),
            )
        ],
        {
            EDIT_TEXT: [MessageHandler(TEXT, edit_typed)],
            EDIT_CHOICE: [
                CallbackQueryHandler(edit_chosen, pattern=callbacks.matching(r"^tb:le:set:\d+$"))
            ],
        },
        asks={EDIT_TEXT: ask_edit, EDIT_CHOICE: ask_edit},
        text_states=(EDIT_TEXT,),
        own_buttons=r"^tb:le:",
        cancel=new_cancel,
    )
