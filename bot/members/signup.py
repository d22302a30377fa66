"""Sign-up with /start: name, e-mail, organisation, sector, region, consent; then the code.

One question at a time. Closed choices are buttons, open answers are text. A wrong answer gets
a short explanation and the same question again; /cancel leaves. The conversation state and the
draft are persisted in the database, so a restart continues where the member was.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.context import Context
from bot.events import browse as events
from bot.members import menu, privacy
from bot.people import membership
from bot.ui import callbacks, drafts, keyboards
from bot.ui.chat import PRIVATE, TEXT, answer_press, prefaced, send, typed_text
from bot.ui.conversation import ask_again, guards
from bot.ui.texts import sector_label
from storage import regions
from storage.errors import InvalidInput
from storage.members import profiles as members
from storage.models import Sector
from storage.rules import validate_email_address, validate_name, validate_organisation
from templates.i18n import N_

Ask = Callable[[Update, Context], Coroutine[Any, Any, str]]

NAME, EMAIL, ORGANISATION, SECTOR, REGION, CONSENT, CHANGE = (
    "name",
    "email",
    "organisation",
    "sector",
    "region",
    "consent",
    "change",
)
DRAFT = "signup"


def _draft(context: Context) -> dict[str, Any]:
    return drafts.draft(context, DRAFT)


async def _then(update: Update, context: Context, ask: Ask) -> str:
    """The next question; back to the summary when the member is changing one answer."""
    if _draft(context).get("reviewing"):
        return await ask_consent(update, context)
    return await ask(update, context)


def _telegram_name(update: Update) -> str:
    user = update.effective_user
    return " ".join(p for p in (user.first_name, user.last_name) if p) if user else ""


async def ask_name(update: Update, context: Context) -> str:
    t = context.t
    suggestion = _draft(context).get("suggested_name") or _telegram_name(update)
    markup = None
    if suggestion:
        _draft(context)["suggested_name"] = suggestion[:100]
        markup = keyboards.column(
            [keyboards.button(t("Use “{name}”", name=keyboards.label(suggestion, 60)), "su:name")]
        )
    await send(update, t("What is your name? Type it, or use the button."), markup)
    return NAME


async def ask_email(update: Update, context: Context) -> str:
    await send(
        update,
        context.t(
            "What is your e-mail address? We send the calendar invitations and the newsletter "
            "there, and first a code to confirm it is yours."
        ),
    )
    return EMAIL


async def ask_organisation(update: Update, context: Context) -> str:
    t = context.t
    await send(
        update,
        t("Which organisation are you part of? Type its name, or press Skip."),
        keyboards.column([keyboards.button(t("Skip"), "su:org:skip")]),
    )
    return ORGANISATION


async def ask_sector(update: Update, context: Context) -> str:
    t = context.t
    await send(update, t("Which sector do you work in?"), keyboards.sectors(t, "su:sector"))
    return SECTOR


async def ask_region(update: Update, context: Context) -> str:
    available = await regions.list_active(context.uow())
    await send(
        update, context.t("Which region are you in?"), keyboards.regions(available, "su:region")
    )
    return REGION


async def ask_consent(update: Update, context: Context) -> str:
    t = context.t
    draft = _draft(context)
    available = {r.id: r.name for r in await regions.list_active(context.uow())}
    summary = "\n".join(
        [
            t("Name: {value}", value=draft.get("name", "")),
            t("E-mail: {value}", value=draft.get("email", "")),
            t("Organisation: {value}", value=draft.get("organisation") or "–"),
            t("Sector: {value}", value=sector_label(t, draft.get("sector"))),
            t("Region: {value}", value=available.get(draft.get("region_id", 0), "–")),
        ]
    )
    text = "\n\n".join(
        [
            t("Please check your details:"),
            summary,
            t(
                "We store these details, your language and your Telegram id so that the network "
                "can invite you to meetings, send you the newsletter you choose, and count "
                "participation by sector and region for its funders. The network's organisers can "
                "see your name, e-mail, organisation, sector and region. We never share them "
                "outside the network. You can see, export or delete your data at any time "
                "with /privacy."
            ),
            t("Do you agree that we store these details?"),
        ]
    )
    markup = keyboards.column(
        [
            keyboards.button(t("Yes, I agree"), "su:consent:yes"),
            keyboards.button(t("Change something"), "su:consent:change"),
            keyboards.button(t("No, cancel sign-up"), "su:consent:no"),
        ]
    )
    draft["reviewing"] = True
    await send(update, text, markup)
    return CONSENT


CHANGE_LABELS = {
    NAME: N_("Name"),
    EMAIL: N_("E-mail"),
    ORGANISATION: N_("Organisation"),
    SECTOR: N_("Sector"),
    REGION: N_("Region"),
}


async def ask_change(update: Update, context: Context) -> str:
    t = context.t
    buttons = [keyboards.button(t(label), f"su:chg:{f}") for f, label in CHANGE_LABELS.items()]
    buttons.append(keyboards.button(t("« Back to the summary"), "su:chg:back"))
    await send(update, t("Which answer do you want to change?"), keyboards.column(buttons))
    return CHANGE


async def change_pressed(update: Update, context: Context) -> str:
    await answer_press(update, keep_buttons=False)
    return await ask_change(update, context)


async def change_chosen(update: Update, context: Context) -> str:
    data = await answer_press(update, keep_buttons=False)
    field = data.rsplit(":", 1)[-1]
    ask = ASK.get(field, ask_consent) if field in CHANGE_LABELS else ask_consent
    return await ask(update, context)


ASK: dict[str, Ask] = {
    NAME: ask_name,
    EMAIL: ask_email,
    ORGANISATION: ask_organisation,
    SECTOR: ask_sector,
    REGION: ask_region,
    CONSENT: ask_consent,
    CHANGE: ask_change,
}


async def start(update: Update, context: Context) -> str | int:
    """/start: welcome back a member, or begin sign-up in their language.

    A deep link (``/start event_<id>``, ``/start checkin_<code>``) opens the event for a
    member; someone not signed up yet sees it right after signing up.
    """
    payload = (context.args or [""])[0]
    if context.member is not None:
        if not await events.handle_start_payload(update, context, payload):
            await menu.welcome_back(update, context)
        return ConversationHandler.END
    if not await membership.gate_start(update, context, payload):  # invite-only networks
        return ConversationHandler.END
    drafts.start(context, DRAFT)
    # Kept beside the draft (which is gone when sign-up ends) until sign-up is done.
    events.remember_for_after_signup(context, payload)
    welcome = context.t(
        "Welcome to Samvirke, where the network's members meet, help each other and hear "
        "about meetings. Signing up takes a minute: a few short questions. "
        "Send /cancel at any time to stop."
    )
    if events.is_start_payload(payload):
        welcome += "\n\n" + context.t("Once you are signed up, I will show you the event.")
    async with prefaced(update, welcome):  # one message: the welcome, then the first question
        return await ask_name(update, context)


async def name_typed(update: Update, context: Context) -> str:
    try:
        _draft(context)["name"] = validate_name(typed_text(update))
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_name)
    return await _then(update, context, ask_email)


async def name_suggested(update: Update, context: Context) -> str:
    await answer_press(update, keep_buttons=False)
    try:
        _draft(context)["name"] = validate_name(_draft(context).get("suggested_name", ""))
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_name)
    return await _then(update, context, ask_email)


async def email_typed(update: Update, context: Context) -> str:
    try:
        _draft(context)["email"] = validate_email_address(typed_text(update))
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_email)
    return await _then(update, context, ask_organisation)


async def organisation_typed(update: Update, context: Context) -> str:
    text = typed_text(update)
    try:
        _draft(context)["organisation"] = validate_organisation(text)
    except InvalidInput as error:
        return await ask_again(update, context, error, ask_organisation)
    return await _then(update, context, ask_sector)


async def organisation_skipped(update: Update, context: Context) -> str:
    await answer_press(update, keep_buttons=False)
    _draft(context)["organisation"] = None
    return await _then(update, context, ask_sector)


async def sector_chosen(update: Update, context: Context) -> str:
    data = await answer_press(update, keep_buttons=False)
    sector = data.rsplit(":", 1)[-1]
    if sector not in set(Sector):
        return await ask_sector(update, context)
    _draft(context)["sector"] = sector
    return await _then(update, context, ask_region)


async def region_chosen(update: Update, context: Context) -> str:
    data = await answer_press(update, keep_buttons=False)
    _draft(context)["region_id"] = int(data.rsplit(":", 1)[-1])
    return await ask_consent(update, context)


async def consent_given(update: Update, context: Context) -> str | int:
    await answer_press(update, keep_buttons=False)
    user = update.effective_user
    assert user is not None
    draft = _draft(context)
    if not await membership.before_registration(update, context):  # the invitation is gone
        drafts.drop(context, DRAFT)
        return ConversationHandler.END
    try:
        registration = await members.register(
            context.uow(),
            telegram_user_id=user.id,
            telegram_username=user.username,
            name=draft.get("name", ""),
            email=draft.get("email", ""),
            organisation=draft.get("organisation"),
            sector=draft.get("sector", ""),
            region_id=int(draft.get("region_id", 0)),
            language=context.t.language,
            now=context.now,
        )
    except InvalidInput as error:
        # The region was removed or a value went stale while the member was answering.
        ask = ask_region if error.code == "region_unknown" else ask_name
        return await ask_again(update, context, error, ask)
    drafts.drop(context, DRAFT)
    context.use_member(registration.member, None)
    await membership.after_registration(update, context, registration.member)
    await menu.after_signup(update, context, registration.member)
    return ConversationHandler.END


async def consent_refused(update: Update, context: Context) -> int:
    await answer_press(update, keep_buttons=False)
    return await cancel(update, context)


async def cancel(update: Update, context: Context) -> int:
    drafts.drop(context, DRAFT)
    await send(
        update,
        context.t("Sign-up cancelled. Nothing was stored. Send /start whenever you want to begin."),
    )
    return ConversationHandler.END


IN_FLOW_COMMAND = N_(
    "You are in the middle of signing up. Please answer the question, or send /cancel to stop."
)


def _guards(state: str, *, expects_text: bool) -> list[BaseHandler[Update, Context, Any]]:
    """Handlers that catch anything a state does not expect (in this order, after its own)."""
    return [
        # /privacy in the middle of signing up says what is kept so far (the question stays).
        CommandHandler("privacy", privacy.show),
        *guards(
            ASK[state],
            cancel=cancel,
            expects_text=expects_text,
            own_buttons=r"^su:",
            in_flow=IN_FLOW_COMMAND,
        ),
    ]


# An administrator's one-screen commands (no conversation of their own) work in the middle of
# signing up: the sign-up conversation lets them through and stays where it was.
ADMIN_COMMANDS_DURING_SIGNUP = frozenset({"members", "regions", "attendees", "stats", "help"})


class SignUpConversation(ConversationHandler[Context]):
    """The sign-up conversation, which lets an administrator's commands through."""

    def __init__(self, *args: Any, admins: frozenset[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.admins = admins

    def check_update(self, update: object) -> Any:
        if isinstance(update, Update) and self._admin_command(update):
            return None
        return super().check_update(update)

    def _admin_command(self, update: Update) -> bool:
        user, message = update.effective_user, update.message
        if user is None or user.id not in self.admins or message is None or not message.text:
            return False
        words = message.text.split(maxsplit=1)
        if not words or not words[0].startswith("/"):
            return False
        return words[0][1:].split("@")[0] in ADMIN_COMMANDS_DURING_SIGNUP


def handler(admins: frozenset[int] = frozenset()) -> ConversationHandler[Context]:
    return SignUpConversation(
        admins=admins,
        entry_points=[CommandHandler("start", start, filters=PRIVATE)],
        states={
            NAME: [
                MessageHandler(TEXT, name_typed),
                CallbackQueryHandler(name_suggested, pattern=callbacks.matching(r"^su:name$")),
                *_guards(NAME, expects_text=True),
            ],
            EMAIL: [MessageHandler(TEXT, email_typed), *_guards(EMAIL, expects_text=True)],
            ORGANISATION: [
                MessageHandler(TEXT, organisation_typed),
                CallbackQueryHandler(
                    organisation_skipped, pattern=callbacks.matching(r"^su:org:skip$")
                ),
                *_guards(ORGANISATION, expects_text=True),
            ],
            SECTOR: [
                CallbackQueryHandler(sector_chosen, pattern=callbacks.matching(r"^su:sector:")),
                *_guards(SECTOR, expects_text=False),
            ],
            REGION: [
                CallbackQueryHandler(region_chosen, pattern=callbacks.matching(r"^su:region:\d+$")),
                *_guards(REGION, expects_text=False),
            ],
            CONSENT: [
                CallbackQueryHandler(
                    consent_given, pattern=callbacks.matching(r"^su:consent:yes$")
                ),
                CallbackQueryHandler(
                    change_pressed, pattern=callbacks.matching(r"^su:consent:change$")
                ),
                CallbackQueryHandler(
                    consent_refused, pattern=callbacks.matching(r"^su:consent:no$")
                ),
                *_guards(CONSENT, expects_text=False),
            ],
            CHANGE: [
                CallbackQueryHandler(
                    change_chosen,
                    pattern=callbacks.matching(
                        r"^su:chg:(name|email|organisation|sector|region|back)$"
                    ),
                ),
                *_guards(CHANGE, expects_text=False),
            ],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="signup",
        persistent=True,
        allow_reentry=False,
    )
