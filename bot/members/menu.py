"""The welcome-back menu, /help, and what a member sees right after signing up."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import commands
from bot.context import Context
from bot.ui import callbacks, keyboards
from bot.ui.callbacks import answer_stale
from bot.ui.chat import PRIVATE
from storage.members.profiles import MemberView
from storage.permissions import Actor
from templates.i18n import Translator


def verify_keyboard(context: Context) -> InlineKeyboardMarkup:
    """Under every "type the code" message: a new code, or another address (a mistyped one is
    fixed right there, through the same e-mail change as /profile's)."""
    t = context.t
    return keyboards.column(
        [
            keyboards.button(t("Send the code again"), "verify:resend"),
            keyboards.button(t("Wrong address? Change it"), "pf:edit:email"),
        ]
    )


def menu_markup(context: Context) -> InlineKeyboardMarkup:
    """The main menu: the screens a member uses most, one tap each."""
    t = context.t
    return keyboards.rows(
        [
            keyboards.button(t("Events"), "menu:events"),
            keyboards.button(t("My events"), "menu:myevents"),
        ],
        [
            keyboards.button(t("My profile"), "menu:profile"),
            keyboards.button(t("Settings"), "menu:settings"),
        ],
        [
            keyboards.button(t("Privacy"), "menu:privacy"),
            keyboards.button(t("Help"), "menu:help"),
        ],
        [keyboards.button(t("Timebank"), "menu:timebank")],
    )


async def after_signup(update: Update, context: Context, member: MemberView) -> None:
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(
        t(
            "Thank you, {name}, you are signed up! We have sent a six-digit code to {email}. "
            "Please type it here to confirm your address. Until then we send you no other e-mail.",
            name=member.name,
            email=member.pending_email or member.email,
        ),
        reply_markup=verify_keyboard(context),
    )
    await commands.set_for_chat(context.bot, chat.id, context.actor, context.t)
    from bot.events import browse as events

    await events.after_signup(update, context)  # the event whose link brought them here


async def welcome_back(update: Update, context: Context) -> None:
    t = context.t
    member = context.member
    assert member is not None
    chat = update.effective_chat
    assert chat is not None
    lines = [t("Welcome back, {name}!", name=member.name)]
    if not member.email_verified or member.pending_email:
        lines.append(
            t(
                "Your e-mail address {email} is not confirmed yet: type the code we sent you.",
                email=member.pending_email or member.email,
            )
        )
    await chat.send_message("\n\n".join(lines), reply_markup=menu_markup(context))


async def show_menu(update: Update, context: Context) -> None:
    """The menu on its own (the way back from a screen)."""
    chat = update.effective_chat
    assert chat is not None
    if context.member is None:
        await chat.send_message(context.t("Hello! Send /start to sign up."))
        return
    await chat.send_message(
        context.t("What would you like to do?"), reply_markup=menu_markup(context)
    )


async def help_command(update: Update, context: Context) -> None:
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    actor = context.actor
    if context.member is None and not (actor is not None and actor.is_admin):
        await chat.send_message(
            t("I am Samvirke, the network's assistant. Send /start to sign up.")
        )
        return
    lines = [t("This is what I can do for you:"), ""]
    for command, description in commands.for_actor(actor, t):
        lines.append(f"/{command} – {description}")
    if actor is not None and actor.is_organiser:
        lines += ["", role_line(t, actor, context.member)]
    if context.member is None:  # an administrator who has not signed up (they need not)
        lines += [
            "",
            t(
                "Your administrator commands work without signing up. Send /start to sign up "
                "as a member too (for events and the timebank)."
            ),
        ]
    await chat.send_message("\n".join(lines))


def role_line(t: Translator, actor: Actor, member: MemberView | None) -> str:
    """What an organiser's or administrator's role covers, for /help."""
    if actor.is_admin:
        return t(
            "You are an administrator: you can organise events in all regions and appoint "
            "organisers."
        )
    region = member.organiser_region_name if member is not None else None
    if region:
        return t("You are an organiser for {region}.", region=region)
    return t("You are an organiser for all regions.")


async def menu_button(update: Update, context: Context) -> None:
    """The buttons of the welcome-back menu open the same screens as the commands."""
    from bot.events import browse as events
    from bot.members import preferences, privacy, profile
    from bot.timebank import overview as timebank

    query = update.callback_query
    assert query is not None
    await query.answer()
    target = (query.data or "").removeprefix("menu:")
    screens = {
        "profile": profile.show,
        "settings": preferences.show,
        "privacy": privacy.show,
        "help": help_command,
        "events": events.events_command,
        "myevents": events.my_events_command,
        "timebank": timebank.show,
    }
    if target == "home":
        await show_menu(update, context)
    elif target in screens:
        await screens[target](update, context)


async def fallback_text(update: Update, context: Context) -> None:
    """Anything no other handler took: guide the person to what they can do."""
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    member = context.member
    if member is None:
        await chat.send_message(t("Hello! Send /start to sign up."))
    elif not member.email_verified or member.pending_email:
        await chat.send_message(
            t(
                "Please type the six-digit code we sent to {email}, or press the button to get "
                "a new one.",
                email=member.pending_email or member.email,
            ),
            reply_markup=verify_keyboard(context),
        )
    else:
        await chat.send_message(
            t("Sorry, I did not understand that. Send /help to see what I can do.")
        )


async def stale_button(update: Update, context: Context) -> None:
    """A press no handler took: an old or forged button."""
    await answer_stale(update, context)


def handlers() -> list[object]:
    return [
        CommandHandler("help", help_command, filters=PRIVATE),
        CallbackQueryHandler(menu_button, pattern=callbacks.matching(r"^menu:")),
    ]


def last_resort_handlers() -> list[object]:
    from telegram.ext import MessageHandler

    return [
        CallbackQueryHandler(stale_button),
        MessageHandler(PRIVATE, fallback_text),
    ]
