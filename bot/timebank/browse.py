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
#
# Browse opens the newest listings at once (every category, every region); "Filter" narrows
# them by category and region. Each listing of someone else has a button with its title that
# opens it whole, with "Contact <poster>", "Log hours with <poster>" and a way back to the list.
# Browsing redraws one message, so the chat does not fill up with pages.


def _list_data(category_id: int, region_id: int, page: int) -> str:
    return f"tb:bl:{category_id}:{region_id}:{page}"


async def browse_pressed(update: Update, context: Context) -> None:
    await answer_press(update)
    text, markup = await _list_screen(context, 0, 0, 0)
    await send(update, text, markup)


async def browse_filter(update: Update, context: Context) -> None:
    t = context.t
    data = await answer_press(update)
    member_of(context)
    _, _, category_id, region_id = data.split(":")
    buttons = [keyboards.button(t("All categories"), "tb:bc:0")]
    buttons += await category_buttons(context, "tb:bc")
    rows = two_columns(buttons)
    rows.append(
        [keyboards.button(t("« Back to the list"), _list_data(int(category_id), int(region_id), 0))]
    )
    await redraw(
        update, t("Browse offers and requests: which category?"), InlineKeyboardMarkup(rows)
    )


async def browse_category(update: Update, context: Context) -> None:
    t = context.t
    data = await answer_press(update)
    category = callbacks.number(data)
    available = await regions.list_active(context.uow())
    # Each region button leads to the first page of that category and region.
    buttons = [keyboards.button(t("All regions"), _list_data(category, 0, 0))]
    buttons += [keyboards.button(r.name, _list_data(category, r.id, 0)) for r in available]
    rows = two_columns(buttons)
    rows.append([keyboards.button(t("« Back"), f"tb:bf:{category}:0")])
    await redraw(update, t("Which region?"), InlineKeyboardMarkup(rows))


async def _list_screen(
    context: Context, category_id: int, region_id: int, page_number: int
) -> tuple[str, InlineKeyboardMarkup]:
    t = context.t
    member = member_of(context)
    page = await timebank_listings.browse(
        context.uow(),
        category_id=category_id or None,
        region_id=region_id or None,
        page=page_number,
    )
    filter_button = keyboards.button(t("Filter"), f"tb:bf:{category_id}:{region_id}")
    if not page.total:
        return t("Nothing here yet. Be the first: offer help or ask for it."), keyboards.rows(
            new_listing_buttons(t), [filter_button]
        )
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
                    keyboards.button(
                        keyboards.label(f"{number}. {listing.title}"),
                        f"tb:lv:{listing.id}:{category_id}:{region_id}:{page.page}",
                    )
                ]
            )
    nav = page_buttons(
        t, page.page, page.pages, lambda other: _list_data(category_id, region_id, other)
    )
    if nav:
        rows.append(nav)
    rows.append([filter_button])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def browse_list(update: Update, context: Context) -> None:
    data = await answer_press(update)
    _, _, category_id, region_id, page_number = data.split(":")
    text, markup = await _list_screen(context, int(category_id), int(region_id), int(page_number))
    await redraw(update, text, markup)


async def listing_opened(update: Update, context: Context) -> None:
    """One listing whole, with what the member can do about it and the way back."""
    t = context.t
    data = await answer_press(update)
    member = member_of(context)
    _, _, listing_id, category_id, region_id, page_number = data.split(":")
    listing = await timebank_listings.get_active_listing(context.uow(), int(listing_id))
    back = keyboards.button(
        t("« Back to the list"), _list_data(int(category_id), int(region_id), int(page_number))
    )
    rows: list[list[InlineKeyboardButton]] = []
    if listing.member_id != member.id:
        name = keyboards.label(listing.poster_name or t("a former member"), 30)
        rows.append([keyboards.button(t("Contact {name}", name=name), f"tb:ct:{listing.id}")])
        rows.append(
            [keyboards.button(t("Log hours with {name}", name=name), f"tb:log:l{listing.id}")]
        )
    rows.append([back])
    text = listing_text(t, listing, with_poster=True, whole=True)
    await redraw(update, text, InlineKeyboardMarkup(rows))


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
            t(
                "Declined. They are told only that it did not work out this time; your "
                "Telegram contact has not been shared."
            )
            if result.changed
            else t("You have already declined."),
        )
