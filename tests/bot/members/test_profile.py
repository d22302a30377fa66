"""A member who has signed up: the welcome-back menu, /help, /profile and /settings."""

from __future__ import annotations

import pytest

from storage.members import profiles as members
from storage.models import Role
from storage.permissions import Actor
from storage.uow import Database
from templates.i18n import translator
from tests.support.botkit import (
    ADMIN_ID,
    BotHarness,
    SentMessage,
    asked_again,
    find_member,
    latest_code,
    outbox_rows,
    sign_up_member,
    verify_member,
)

KAREN = 3001
EMAIL = "karen@example.dk"

KEEP_IT = "Send /cancel to keep it as it is."
ASK = {
    "name": "Type your name.",
    "email": (
        "Type your new e-mail address. We send a code there; until you confirm it, we keep "
        "using the old one."
    ),
    "organisation": "Type the name of your organisation, or press Remove.",
    "sector": "Which sector do you work in?",
    "region": "Which region are you in?",
}
CHANGE_BUTTONS = [
    "Change name",
    "Change e-mail",
    "Change organisation",
    "Change sector",
    "Change region",
    "Member directory",
]
IN_PROFILE_CHANGE = "You are changing your profile. Please answer the question, or send /cancel."
MEMBER_COMMANDS = [
    "start",
    "events",
    "myevents",
    "people",
    "timebank",
    "profile",
    "settings",
    "privacy",
    "help",
]
ORGANISER_COMMANDS = ["newevent", "attendees", "stats", "report", "members", "broadcast", "invite"]


@pytest.fixture
async def karen(bot: BotHarness, db: Database) -> int:
    """Karen signed up in English and confirmed her address; returns her member id."""
    await sign_up_member(
        bot,
        KAREN,
        first_name="Karen",
        last_name="Jensen",
        email=EMAIL,
        organisation="Teknologisk Institut",
        sector="academia",
        region="Region Midtjylland",
    )
    await verify_member(bot, db, KAREN)
    member = await find_member(db, KAREN)
    assert member.email_verified_at is not None
    return int(member.id)


def question(field: str) -> str:
    return f"{ASK[field]}\n{KEEP_IT}"


async def start_change(bot: BotHarness, field: str) -> SentMessage:
    """Open /profile and press the change button of ``field``; returns the question."""
    profile = (await bot.chat.send(KAREN, "/profile"))[-1]
    replies = await bot.chat.press(KAREN, profile, f"pf:edit:{field}")
    assert [m.text for m in replies] == [question(field)]
    return replies[-1]


def commands_listed(help_text: str) -> list[str]:
    return [line.split()[0].removeprefix("/") for line in help_text.splitlines() if line[:1] == "/"]


# --- a returning member -------------------------------------------------------------------


async def test_start_from_a_member_shows_the_welcome_back_menu(
    bot: BotHarness, db: Database, karen: int
) -> None:
    replies = await bot.chat.send(KAREN, "/start")

    assert [m.text for m in replies] == ["Welcome back, Karen Jensen!"]
    assert replies[-1].button_texts == [
        "Events",
        "My events",
        "My profile",
        "Settings",
        "Privacy",
        "Help",
        "Timebank",
    ]
    assert len(await outbox_rows(db)) == 1  # no second sign-up, no second code


async def test_welcome_back_reminds_an_unconfirmed_member_of_the_code(
    bot: BotHarness, db: Database
) -> None:
    await sign_up_member(bot, KAREN, email=EMAIL)
    replies = await bot.chat.send(KAREN, "/start")
    assert [m.text for m in replies] == [
        "Welcome back, Karen Jensen!\n\nYour e-mail address karen@example.dk is not confirmed "
        "yet: type the code we sent you."
    ]


async def test_welcome_back_is_in_the_members_language(bot: BotHarness, db: Database) -> None:
    t = translator("da")
    await sign_up_member(bot, KAREN, first_name="Søren", last_name="Ørsted", language_code="da")
    await verify_member(bot, db, KAREN)
    replies = await bot.chat.send(KAREN, "/start")
    assert [m.text for m in replies] == [t("Welcome back, {name}!", name="Søren Ørsted")]
    assert replies[-1].button_texts == [
        t(label)
        for label in (
            "Events",
            "My events",
            "My profile",
            "Settings",
            "Privacy",
            "Help",
            "Timebank",
        )
    ]


@pytest.mark.parametrize(
    ("button", "first_line"),
    [
        ("My profile", "Your profile"),
        ("Settings", "Your settings"),
        ("Privacy", "Your data"),
        ("Help", "This is what I can do for you:"),
    ],
)
async def test_the_menu_buttons_open_the_screens(
    bot: BotHarness, karen: int, button: str, first_line: str
) -> None:
    menu = (await bot.chat.send(KAREN, "/start"))[-1]
    replies = await bot.chat.press(KAREN, menu, button)
    assert len(replies) == 1
    assert replies[0].text.splitlines()[0] == first_line


async def test_help_lists_the_member_commands(bot: BotHarness, karen: int) -> None:
    [reply] = await bot.chat.send(KAREN, "/help")
    assert reply.text.startswith("This is what I can do for you:")
    assert commands_listed(reply.text) == MEMBER_COMMANDS
    assert "/profile – See and change your details" in reply.text


async def test_help_for_an_organiser_also_lists_members(
    bot: BotHarness, db: Database, karen: int
) -> None:
    await members.set_role(
        db.unit_of_work(),
        Actor(ADMIN_ID, None, is_admin=True),
        karen,
        Role.ORGANISER,
        region_id=None,
        now=bot.clock.now,
    )
    [reply] = await bot.chat.send(KAREN, "/help")
    assert commands_listed(reply.text) == [*MEMBER_COMMANDS, *ORGANISER_COMMANDS]


async def test_help_for_the_administrator_also_lists_regions(bot: BotHarness, db: Database) -> None:
    await sign_up_member(bot, ADMIN_ID, first_name="Admin", email="admin@example.dk")
    [reply] = await bot.chat.send(ADMIN_ID, "/help")
    assert commands_listed(reply.text) == [
        *MEMBER_COMMANDS,
        *ORGANISER_COMMANDS,
        "regions",
        "topics",
        "channels",
    ]


async def test_help_for_someone_not_signed_up_points_to_start(bot: BotHarness) -> None:
    bot.chat.user(KAREN, language_code="en")
    replies = await bot.chat.send(KAREN, "/help")
    assert [m.text for m in replies] == [
        "I am Samvirke, the network's assistant. Send /start to sign up."
    ]


# --- /profile ------------------------------------------------------------------------------


async def test_profile_shows_every_field(bot: BotHarness, karen: int) -> None:
    [reply] = await bot.chat.send(KAREN, "/profile")
    assert reply.text == (
        "Your profile\n\n"
        "Name: Karen Jensen\n"
        "E-mail: karen@example.dk\n"
        "Organisation: Teknologisk Institut\n"
        "Sector: University or research\n"
        "Region: Region Midtjylland"
    )
    assert reply.button_texts == [*CHANGE_BUTTONS, "« Menu"]


async def test_profile_marks_an_unconfirmed_address(bot: BotHarness) -> None:
    await sign_up_member(bot, KAREN, email=EMAIL, organisation=None)
    [reply] = await bot.chat.send(KAREN, "/profile")
    assert "E-mail: karen@example.dk (not confirmed yet)" in reply.text.splitlines()
    assert "Organisation: –" in reply.text.splitlines()


async def test_profile_from_someone_not_signed_up(bot: BotHarness) -> None:
    bot.chat.user(KAREN, language_code="en")
    replies = await bot.chat.send(KAREN, "/profile")
    assert [m.text for m in replies] == ["Please sign up first: send /start."]


async def test_change_name(bot: BotHarness, db: Database, karen: int) -> None:
    await start_change(bot, "name")

    replies = await bot.chat.send(KAREN, "Karen Ærø")

    assert replies[-1].text.startswith("Saved.\n\n")  # with what was saved
    assert "Name: Karen Ærø" in replies[-1].text.splitlines()
    assert (await find_member(db, KAREN)).name == "Karen Ærø"


async def test_change_organisation_then_remove_it(
    bot: BotHarness, db: Database, karen: int
) -> None:
    ask = await start_change(bot, "organisation")
    assert ask.button_texts == ["Remove", "« Back to your profile"]
    replies = await bot.chat.send(KAREN, "Sociale Entreprenører i Danmark")
    assert replies[-1].text.startswith("Saved.\n\n")  # with what was saved
    assert (await find_member(db, KAREN)).organisation == "Sociale Entreprenører i Danmark"

    ask = await start_change(bot, "organisation")
    replies = await bot.chat.press(KAREN, ask, "Remove")

    assert replies[-1].text.startswith("Saved.\n\n")  # with what was saved
    assert "Organisation: –" in replies[-1].text.splitlines()
    assert (await find_member(db, KAREN)).organisation is None


async def test_change_sector_with_the_buttons(bot: BotHarness, db: Database, karen: int) -> None:
    ask = await start_change(bot, "sector")
    assert ask.button_texts == [
        "Civil society",
        "Public sector (municipality or region)",
        "Business",
        "Foundation",
        "University or research",
        "« Back to your profile",
    ]

    replies = await bot.chat.press(KAREN, ask, "Foundation")

    assert replies[-1].text.startswith("Saved.\n\n")  # with what was saved
    assert "Sector: Foundation" in replies[-1].text.splitlines()
    assert (await find_member(db, KAREN)).sector == "foundation"


async def test_change_region_with_the_buttons(bot: BotHarness, db: Database, karen: int) -> None:
    ask = await start_change(bot, "region")
    assert "Region Skåne" in ask.button_texts

    replies = await bot.chat.press(KAREN, ask, "Region Skåne")

    assert replies[-1].text.startswith("Saved.\n\n")  # with what was saved
    assert "Region: Region Skåne" in replies[-1].text.splitlines()
    assert (await find_member(db, KAREN)).region.name == "Region Skåne"


async def change_email_and_confirm(bot: BotHarness, db: Database, member_id: int) -> None:
    """Change the e-mail address to karen@new.example.dk, check each step, type the code."""
    old = await find_member(db, KAREN)
    await start_change(bot, "email")

    replies = await bot.chat.send(KAREN, "karen@new.example.dk")

    assert [m.text for m in replies] == [
        "We have sent a six-digit code to karen@new.example.dk. Type it here to confirm the new "
        "address."
    ]
    assert replies[-1].button_texts == ["Send the code again", "Wrong address? Change it"]
    member = await find_member(db, KAREN)
    assert (member.email, member.email_verified_at) == (EMAIL, old.email_verified_at)
    mail = (await outbox_rows(db, member_id))[-1]
    assert mail.payload["to_email"] == "karen@new.example.dk"
    [profile] = await bot.chat.send(KAREN, "/profile")
    assert "Waiting for confirmation: karen@new.example.dk" in profile.text.splitlines()

    bot.clock.advance(minutes=5)
    replies = await bot.chat.send(KAREN, await latest_code(db, member_id))

    assert [m.text for m in replies] == [
        "Thank you! karen@new.example.dk is confirmed. What would you like to do?"
    ]
    member = await find_member(db, KAREN)
    assert member.email == "karen@new.example.dk"
    assert member.email_verified_at == bot.clock.now
    [profile] = await bot.chat.send(KAREN, "/profile")
    assert "E-mail: karen@new.example.dk" in profile.text.splitlines()
    assert "Waiting for confirmation" not in profile.text


async def test_new_email_replaces_the_old_one_only_when_its_code_is_typed(
    bot: BotHarness, db: Database
) -> None:
    """A member who has not yet confirmed the sign-up address corrects it."""
    await sign_up_member(bot, KAREN, email=EMAIL)
    member = await find_member(db, KAREN)
    await change_email_and_confirm(bot, db, member.id)


async def test_a_confirmed_member_gets_a_code_for_a_new_email(
    bot: BotHarness, db: Database, karen: int
) -> None:
    profile = (await bot.chat.send(KAREN, "/profile"))[-1]
    assert "E-mail: karen@example.dk" in profile.text.splitlines()
    await change_email_and_confirm(bot, db, karen)


async def test_a_wrong_code_for_the_new_email_keeps_the_old_one(
    bot: BotHarness, db: Database, karen: int
) -> None:
    await start_change(bot, "email")
    await bot.chat.send(KAREN, "karen@new.example.dk")
    code = await latest_code(db, karen)
    await bot.chat.send(KAREN, f"{(int(code) + 1) % 1_000_000:06d}")
    assert (await find_member(db, KAREN)).email == EMAIL


@pytest.mark.parametrize(
    ("field", "typed", "explanation"),
    [
        ("name", "K" * 101, "That name is too long: at most 100 characters, please."),
        ("name", "   ", "Please type a name."),
        (
            "email",
            "karen@",
            "That does not look like an e-mail address. Please type it like name@example.org.",
        ),
        ("email", EMAIL, "That is already your e-mail address."),
        ("organisation", "O" * 201, "That is too long: at most 200 characters, please."),
    ],
    ids=["long-name", "empty-name", "bad-email", "same-email", "long-organisation"],
)
async def test_an_invalid_value_is_explained_and_asked_again(
    bot: BotHarness, db: Database, karen: int, field: str, typed: str, explanation: str
) -> None:
    ask = await start_change(bot, field)

    replies = await bot.chat.send(KAREN, typed)

    assert [m.text for m in replies] == [asked_again(explanation, ask.text)]
    assert replies[-1].buttons == ask.buttons
    member = await find_member(db, KAREN)
    assert (member.name, member.email, member.organisation) == (
        "Karen Jensen",
        EMAIL,
        "Teknologisk Institut",
    )
    assert len(await outbox_rows(db, karen)) == 1
    # Still in the change: a good answer now is taken.
    replies = await bot.chat.send(KAREN, {"email": "k@example.org"}.get(field, "Good Value"))
    assert explanation not in replies[0].text


@pytest.mark.parametrize("field", ["sector", "region"])
async def test_text_where_a_button_is_expected_asks_again(
    bot: BotHarness, db: Database, karen: int, field: str
) -> None:
    ask = await start_change(bot, field)
    replies = await bot.chat.send(KAREN, "Foundation")
    assert [m.text for m in replies] == [asked_again("Please choose one of the buttons.", ask.text)]
    assert replies[-1].buttons == ask.buttons
    member = await find_member(db, KAREN)
    assert (member.sector, member.region.name) == ("academia", "Region Midtjylland")


@pytest.mark.parametrize("field", ["name", "email", "organisation", "sector", "region"])
async def test_cancel_keeps_the_old_value(
    bot: BotHarness, db: Database, karen: int, field: str
) -> None:
    await start_change(bot, field)

    replies = await bot.chat.send(KAREN, "/cancel")

    assert [m.text for m in replies] == ["Nothing changed."]
    member = await find_member(db, KAREN)
    assert (member.name, member.email, member.organisation, member.sector) == (
        "Karen Jensen",
        EMAIL,
        "Teknologisk Institut",
        "academia",
    )
    assert member.region.name == "Region Midtjylland"
    assert len(await outbox_rows(db, karen)) == 1
    # Out of the change: text is no longer taken as the answer.
    replies = await bot.chat.send(KAREN, "Karen Ærø")
    assert (await find_member(db, KAREN)).name == "Karen Jensen"
    assert "profile" not in bot.app.user_data.get(KAREN, {})


async def test_a_command_during_a_change_repeats_the_question(
    bot: BotHarness, db: Database, karen: int
) -> None:
    ask = await start_change(bot, "name")
    replies = await bot.chat.send(KAREN, "/settings")
    assert [m.text for m in replies] == [asked_again(IN_PROFILE_CHANGE, ask.text)]
    assert replies[0].buttons == ask.buttons
    assert (await find_member(db, KAREN)).name == "Karen Jensen"


async def test_profile_changes_in_danish(bot: BotHarness, db: Database) -> None:
    t = translator("da")
    await sign_up_member(bot, KAREN, first_name="Søren", last_name="Ørsted", language_code="da")
    profile = (await bot.chat.send(KAREN, "/profile"))[-1]
    assert profile.text.splitlines()[0] == t("Your profile")
    assert profile.button_texts == [*(t(label) for label in CHANGE_BUTTONS), t("« Menu")]
    replies = await bot.chat.press(KAREN, profile, "pf:edit:name")
    assert [m.text for m in replies] == [f"{t(ASK['name'])}\n{t(KEEP_IT)}"]
    replies = await bot.chat.send(KAREN, "Søren Ærø")
    assert replies[-1].text.startswith(t("Saved.") + "\n\n")  # with what was saved
    assert t("Name: {value}", value="Søren Ærø") in replies[-1].text.splitlines()


# --- /settings -----------------------------------------------------------------------------


async def test_settings_show_language_and_newsletter(bot: BotHarness, karen: int) -> None:
    [reply] = await bot.chat.send(KAREN, "/settings")
    assert reply.text == "Your settings\n\nLanguage: English\nNewsletter by e-mail: Weekly"
    assert reply.button_texts == ["Dansk", "Svenska", "✓ English", "✓ Weekly", "Monthly", "Off"]


@pytest.mark.parametrize(("button", "language"), [("Svenska", "sv"), ("Dansk", "da")])
async def test_choosing_a_language_switches_the_member_to_it(
    bot: BotHarness, db: Database, karen: int, button: str, language: str
) -> None:
    t = translator(language)
    screen = (await bot.chat.send(KAREN, "/settings"))[-1]
    before = len(bot.request.calls_of("setMyCommands"))

    replies = await bot.chat.press(KAREN, screen, button)

    assert replies == []  # the same message is shown again, in the new language
    assert screen.text == "\n".join(
        [
            t("Your settings"),
            "",
            t("Language: {value}", value=button),
            t("Newsletter by e-mail: {value}", value=t("Weekly")),
        ]
    )
    assert f"✓ {button}" in screen.button_texts
    assert f"✓ {t('Weekly')}" in screen.button_texts
    assert (await find_member(db, KAREN)).language == language
    assert bot.request.calls_of("answerCallbackQuery")[-1].params.get("text") == t("Saved.")
    [menu] = bot.request.calls_of("setMyCommands")[before:]
    assert menu.params["scope"] == {"type": "chat", "chat_id": KAREN}
    assert menu.params["commands"][0] == {
        "command": "start",
        "description": t("Sign up, or open the menu"),
    }
    # What the member sees next is in the new language too.
    [reply] = await bot.chat.send(KAREN, "/help")
    assert reply.text.splitlines()[0] == t("This is what I can do for you:")


async def test_language_choice_outlives_the_telegram_language(
    bot: BotHarness, db: Database, karen: int
) -> None:
    screen = (await bot.chat.send(KAREN, "/settings"))[-1]
    await bot.chat.press(KAREN, screen, "Svenska")
    bot.chat.user(KAREN, "Karen", "Jensen", language_code="da")
    [reply] = await bot.chat.send(KAREN, "/start")
    assert reply.text == translator("sv")("Welcome back, {name}!", name="Karen Jensen")


@pytest.mark.parametrize(
    ("button", "stored"), [("Monthly", "monthly"), ("Off", "off"), ("Weekly", "weekly")]
)
async def test_choosing_a_newsletter_frequency_stores_it(
    bot: BotHarness, db: Database, karen: int, button: str, stored: str
) -> None:
    screen = (await bot.chat.send(KAREN, "/settings"))[-1]
    if stored == "weekly":  # the default: go away from it first
        await bot.chat.press(KAREN, screen, "Off")
        assert (await find_member(db, KAREN)).digest_frequency == "off"

    await bot.chat.press(KAREN, screen, button)

    assert (await find_member(db, KAREN)).digest_frequency == stored
    assert screen.text.endswith(f"Newsletter by e-mail: {button}")
    assert f"✓ {button}" in screen.button_texts
    assert bot.request.calls_of("answerCallbackQuery")[-1].params.get("text") == "Saved."


async def test_settings_from_someone_not_signed_up(bot: BotHarness) -> None:
    bot.chat.user(KAREN, language_code="en")
    replies = await bot.chat.send(KAREN, "/settings")
    assert [m.text for m in replies] == ["Please sign up first: send /start."]


async def test_the_profile_has_ways_back(bot: BotHarness, db: Database, karen: int) -> None:
    """« Back to your profile leaves a change without changing anything; « Menu opens the
    menu."""
    ask = await start_change(bot, "name")
    [profile] = await bot.chat.press(KAREN, ask, "« Back to your profile")
    assert profile.text.splitlines()[0] == "Your profile"
    assert ask.button_texts == []  # the question cannot be answered any more
    [again] = await bot.chat.send(KAREN, "Someone Else")
    assert again.text == "Sorry, I did not understand that. Send /help to see what I can do."
    assert (await find_member(db, KAREN)).name == "Karen Jensen"
    [menu] = await bot.chat.press(KAREN, profile, "« Menu")
    assert menu.text == "What would you like to do?"
    assert menu.button_texts[:2] == ["Events", "My events"]
