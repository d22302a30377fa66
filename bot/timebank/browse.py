"""Browsing the timebank's offers and requests (by category and region, page by page), and
contact requests: asking a listing's poster to be put in touch, and their answer."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import Context
from bot.timebank.common import page_buttons, two_columns
from bot.timebank.listings import category_buttons, listing_text, new_listing_buttons
from bot.ui import callbacks, keyboards
from bot.ui.chat import answer_press, redraw, send
from bot.ui.guards import member_of
from storage import regions
from storage.timebank import contacts as timebank_contacts
from storage.timebank import listings as timebank_listings

# --- browsing -------------------------------------------------------------------------------


async def browse_pressed(update: Update, context: Context) -> None:
    t = context.t
    await answer_press(update)
    member_of(context)
    buttons = [keyboards.button(t("All categories"), "tb:bc:0")]
    buttons += await category_buttons(context, "tb:bc")
    await send(
        update,
        t("Browse offers and requests: which category?"),
        InlineKeyboardMarkup(two_columns(buttons)),
    )


async def browse_category(update: Update, context: Context) -> None:
    t = context.t
    data = await answer_press(update, keep_buttons=False)
    category = callbacks.number(data)
    available = await regions.list_active(context.uow())
    # Each region button leads to the first page of that category and region.
    buttons = [keyboards.button(t("All regions"), f"tb:bl:{category}:0:0")]
    buttons += [keyboards.button(r.name, f"tb:bl:{category}:{r.id}:0") for r in available]
    await send(update, t("Which region?"), InlineKeyboardMarkup(two_columns(buttons)))


async def browse_list(update: Update, context: Context) -> None:
    t = context.t
    data = await answer_press(update)
    member = member_of(context)
    _, _, category_id, region_id, page_number = data.split(":")
    page = await timebank_listings.browse(
        context.uow(),
        category_id=int(category_id) or None,
        region_id=int(region_id) or None,
        page=int(page_number),
    )
    if not page.total:
        await send(
            update,
            t("Nothing here yet. Be the first: offer help or ask for it."),
            keyboards.rows(new_listing_buttons(t), [keyboards.button(t("Browse"), "tb:br")]),
        )
        return
    lines = [
        t(
            "Offers and requests, newest first (page {page} of {pages}):",
            page=page.page + 1,
            pages=page.pages,
        )
    ]
    rows: list[list[InlineKeyboardButton]] = []
    for number, listing in enumerate(page.listings, start=1):
        lines += ["", f"{number}. " + listing_text(t, listing, with_poster=True)]
        if listing.member_id != member.id:
            rows.append(
                [
                    keyboards.button(t("Contact {number}", number=number), f"tb:ct:{listing.id}"),
                    keyboards.button(
                        t("Log hours {number}", number=number), f"tb:log:l{listing.id}"
                    ),
                ]
            )
    nav = page_buttons(
        t, page.page, page.pages, lambda other: f"tb:bl:{category_id}:{region_id}:{other}"
    )
    if nav:
        rows.append(nav)
    text, markup = "\n".join(lines), InlineKeyboardMarkup(rows)
    query = update.callback_query
    if query is not None and query.message is not None and int(page_number) != 0:
        await redraw(update, text, markup)
    else:
        await send(update, text, markup)


# --- contact requests -----------------------------------------------------------------------


async def contact_pressed(update: Update, context: Context) -> None:
    t = context.t
    data = await answer_press(update)
    member = member_of(context)
    result = await timebank_contacts.request_contact(
        context.uow(), member.id, callbacks.number(data), now=context.now
    )
    if not result.changed:
        await send(update, t("You have already asked about “{title}”.", title=result.listing.title))
        return
    await send(
        update,
        t(
            "I have asked {name} whether they want to get in touch about “{title}”. If they "
            "accept, I introduce you to each other here.",
            name=result.listing.poster_name or t("a former member"),
            title=result.listing.title,
        ),
    )


async def contact_answered(update: Update, context: Context) -> None:
    t = context.t
    data = await answer_press(update, keep_buttons=False)
    member = member_of(context)
    accept = data.startswith("tb:cra:")
    result = await timebank_contacts.answer_contact(
        context.uow(), member.id, callbacks.number(data), accept=accept, now=context.now
    )
    if accept:
        await send(
            update,
            t("Accepted. I have introduced you to each other.")
            if result.changed
            else t("You have already accepted."),
        )
    else:
        await send(
            update,
            t("Declined. They have not been told who you are.")
            if result.changed
            else t("You have already declined."),
        )
