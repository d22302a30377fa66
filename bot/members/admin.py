"""Organiser and administrator tools: /members (overview, CSV, roles) and /regions."""

from __future__ import annotations

import contextlib
from zoneinfo import ZoneInfo

from babel.dates import format_date
from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import commands
from bot.context import Context
from bot.people import membership as people_membership
from bot.ui import callbacks, keyboards
from bot.ui.chat import PRIVATE, redraw
from bot.ui.spreadsheets import CsvSpool, csv_safe
from bot.ui.texts import sector_label
from storage import regions
from storage.members import profiles as members
from storage.members.profiles import MembersOverview, MemberView
from storage.models import Role
from storage.permissions import Actor, require_admin, require_organiser, visible_region_ids
from templates.formatting import LOCALES
from templates.i18n import Translator, translator

LANGUAGE_NAMES = {"da": "Dansk", "sv": "Svenska", "en": "English"}


def _actor(context: Context) -> Actor:
    actor = context.actor
    assert actor is not None
    return actor


def members_header(t: Translator, *, origins: bool) -> list[str]:
    """The member CSV's columns; with ``origins`` (administrators) also who invited and
    approved whom."""
    header = [
        t("Name"),
        t("E-mail"),
        t("Organisation"),
        t("Sector"),
        t("Region"),
        t("Language"),
        t("E-mail confirmed"),
        t("Joined"),
    ]
    return [*header, t("Invited by"), t("Approved by")] if origins else header


def member_rows(
    t: Translator,
    batch: list[MemberView],
    origins: dict[int, tuple[str, str]] | None = None,
) -> list[list[str]]:
    """Members as CSV rows in the organiser's language (see ``members_header``)."""
    return [
        [
            csv_safe(m.name),
            csv_safe(m.email) if m.email_verified else "",
            csv_safe(m.organisation or ""),
            sector_label(t, m.sector) if m.sector else "",
            m.region_name or "",
            LANGUAGE_NAMES.get(m.language, m.language),
            t("Yes") if m.email_verified else t("No"),
            m.created_at.date().isoformat(),
            *([csv_safe(v) for v in origins.get(m.id, ("", ""))] if origins is not None else []),
        ]
        for m in batch
    ]


async def _send_members_csv(
    update: Update, context: Context, actor: Actor, limited_to: str | None
) -> None:
    """Every member of the overview as a spreadsheet, written batch by batch as the database
    streams them."""
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    with CsvSpool(t.language, members_header(t, origins=actor.is_admin)) as spool:
        async with contextlib.aclosing(members.listing(context.reader(), actor)) as batches:
            async for batch in batches:
                origins = (
                    await people_membership.origin_columns(context, [m.id for m in batch])
                    if actor.is_admin
                    else None
                )
                spool.write(member_rows(t, batch, origins))
        await chat.send_document(
            InputFile(spool.finished(), filename="members.csv"),
            caption=t("All members, as a spreadsheet (CSV).")
            if limited_to is None
            else t("All members in {region}, as a spreadsheet (CSV).", region=limited_to),
        )


def _overview_text(t: Translator, overview: MembersOverview, region: str | None) -> str:
    """The counts; ``region`` names the region a regional organiser's view is limited to."""
    lines = [
        t.plural("{n} member", "{n} members", overview.total)
        if region is None
        else t.plural(
            "{n} member in {region}", "{n} members in {region}", overview.total, region=region
        ),
        t.plural(
            "of whom {n} has confirmed their e-mail address",
            "of whom {n} have confirmed their e-mail address",
            overview.verified,
        ),
        "",
        t("By sector:"),
    ]
    lines += [f"  {sector_label(t, s)}: {n}" for s, n in overview.by_sector.items()]
    lines += ["", t("By region:")]
    lines += [f"  {r or '–'}: {n}" for r, n in overview.by_region.items()]
    return "\n".join(lines)


async def members_command(update: Update, context: Context) -> None:
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    actor = _actor(context)
    require_organiser(actor)
    query = " ".join(context.args or [])
    if query:
        await _find(update, context, query)
        return
    overview = await members.overview(context.reader(), actor)
    limited_to = None
    if visible_region_ids(actor) is not None:
        member = context.member
        limited_to = (member.organiser_region_name if member else None) or "–"
    text = _overview_text(t, overview, limited_to)
    if actor.is_admin:
        text += "\n\n" + t(
            "To make someone an organiser: /members followed by their name, @username or "
            "Telegram id."
        )
    await chat.send_message(text)
    if overview.total:
        await _send_members_csv(update, context, actor, limited_to)


async def _find(update: Update, context: Context, query: str) -> None:
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    found = await members.find_for_admin(context.uow(), _actor(context), query)
    if not found:
        await chat.send_message(t("No member matches “{query}”.", query=query))
        return
    buttons = [
        keyboards.button(f"{m.name} ({m.organisation or '–'})", f"ad:card:{m.id}") for m in found
    ]
    await chat.send_message(t("Choose a member:"), reply_markup=keyboards.column(buttons))


def _role_text(t: Translator, member: MemberView) -> str:
    if member.role == Role.ORGANISER:
        if member.organiser_all_regions:
            return t("organiser for all regions")
        if member.organiser_region_name:
            return t("organiser for {region}", region=member.organiser_region_name)
        return t("organiser whose region was removed")
    return t("member")


def card_text(t: Translator, member: MemberView, *, tz: ZoneInfo) -> str:
    """The administrator's card of a member: enough to tell two people of the same name apart
    (address, organisation, region, sector, when they joined)."""
    email = member.email
    if not member.email_verified:
        email = t("{email} (not confirmed yet)", email=email)
    joined = format_date(
        member.created_at.astimezone(tz).date(),
        format="long",
        locale=LOCALES.get(t.language, "en_GB"),
    )
    return "\n".join(
        [
            t("{name}: {role}", name=member.name, role=_role_text(t, member)),
            "",
            t("E-mail: {value}", value=email),
            t("Organisation: {value}", value=member.organisation or "–"),
            t("Region: {region}", region=member.region_name or "–"),
            t("Sector: {value}", value=sector_label(t, member.sector)),
            t("Joined: {date}", date=joined),
        ]
    )


async def _card(update: Update, context: Context, member: MemberView, *, edit: bool) -> None:
    t = context.t
    text = card_text(t, member, tz=context.services.settings.tz)
    text += await people_membership.origin_line(context, member.id)
    organiser = member.role == Role.ORGANISER
    everywhere = organiser and member.organiser_all_regions
    checked = keyboards.checked  # the member's role now
    markup = keyboards.column(
        [
            keyboards.button(
                checked(t("Organiser for all regions"), everywhere), f"ad:role:{member.id}:all"
            ),
            keyboards.button(
                checked(t("Organiser for one region"), organiser and not everywhere),
                f"ad:pick:{member.id}",
            ),
            keyboards.button(
                checked(t("Member (no organiser rights)"), not organiser),
                f"ad:role:{member.id}:member",
            ),
        ]
    )
    query = update.callback_query
    if edit and query is not None:
        await redraw(update, text, markup)
    else:
        chat = update.effective_chat
        assert chat is not None
        await chat.send_message(text, reply_markup=markup)


async def card(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    require_admin(_actor(context))
    member = await members.get(context.uow(), int((query.data or "").rsplit(":", 1)[-1]))
    await _card(update, context, member, edit=True)


async def pick_region(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    require_admin(_actor(context))
    member_id = int((query.data or "").rsplit(":", 1)[-1])
    available = await regions.list_active(context.uow())
    picker = keyboards.regions(available, f"ad:role:{member_id}:region")
    back = [keyboards.button(context.t("« Back"), f"ad:card:{member_id}")]
    await redraw(
        update,
        context.t("Organiser for which region?"),
        reply_markup=InlineKeyboardMarkup([*picker.inline_keyboard, back]),
    )


async def set_role(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split(":")  # ad:role:<member>:all|member|region:<id>
    member_id, choice = int(parts[2]), parts[3]
    role = Role.MEMBER if choice == "member" else Role.ORGANISER
    region_id = int(parts[4]) if choice == "region" else None
    member = await members.set_role(
        context.uow(), _actor(context), member_id, role, region_id=region_id, now=context.now
    )
    await query.answer(context.t("Saved."))
    await _card(update, context, member, edit=True)
    if member.telegram_user_id is not None:
        # Give the member the command menu of their new role, in their language.
        await commands.set_for_chat(
            context.bot,
            member.telegram_user_id,
            member.actor(context.services.settings.admins),
            translator(member.language),
        )


async def regions_command(update: Update, context: Context) -> None:
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    actor = _actor(context)
    require_admin(actor)
    args = context.args or []
    if args[:1] == ["add"] and len(args) > 1:
        region = await regions.add(context.uow(), actor, " ".join(args[1:]), now=context.now)
        await chat.send_message(t("Region added: {name}", name=region.name))
        return
    available = await regions.list_active(context.uow())
    lines = [t("Regions:"), *(f"  {r.name}" for r in available), ""]
    lines.append(t("To add one: /regions add followed by its name."))
    await chat.send_message("\n".join(lines))


def handlers() -> list[BaseHandler[Update, Context, None]]:
    return [
        CommandHandler("members", members_command, filters=PRIVATE),
        CommandHandler("regions", regions_command, filters=PRIVATE),
        CallbackQueryHandler(card, pattern=callbacks.matching(r"^ad:card:\d+$")),
        CallbackQueryHandler(pick_region, pattern=callbacks.matching(r"^ad:pick:\d+$")),
        CallbackQueryHandler(
            set_role, pattern=callbacks.matching(r"^ad:role:\d+:(all|member|region:\d+)$")
        ),
    ]
