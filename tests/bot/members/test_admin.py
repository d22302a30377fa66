"""Roles and organiser tools: /members (overview, CSV, appointing organisers) and /regions."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from storage.members import privacy
from storage.members import profiles as members
from storage.models import Region, Role
from storage.permissions import Actor
from storage.uow import Database
from templates.i18n import translator
from tests.support.botkit import (
    ADMIN_ID,
    BotHarness,
    SentMessage,
    find_member,
    outbox_rows,
    record_filenames,
    sign_up_member,
    snapshot,
    verify_member,
)
from tests.support.regions import region_id

KAREN = 5001  # becomes an organiser
LARS = 5002  # a plain member
SOEREN = 5003
INGRID = 5004

ORGANISERS_ONLY = "Sorry, that is for the network's organisers."
ADMINS_ONLY = "Sorry, that is for administrators."
CSV_HEADER = [
    "Name", "E-mail", "Organisation", "Sector", "Region", "Language", "E-mail confirmed", "Joined"
]  # fmt: skip
ROLE_BUTTONS = [  # of a member who is not an organiser: the current role is ticked
    "Organiser for all regions",
    "Organiser for one region",
    "✓ Member (no organiser rights)",
]


@pytest.fixture
def bot(bot: BotHarness) -> BotHarness:
    """The bot of tests/bot/conftest.py, with Anne (the administrator) known to it."""
    bot.chat.user(ADMIN_ID, "Anne", "Admin", language_code="en")
    return bot


@pytest.fixture
async def network(bot: BotHarness, db: Database) -> dict[int, int]:
    """Four members in three regions (Karen and Søren confirmed their address); member ids."""
    await sign_up_member(
        bot,
        KAREN,
        first_name="Karen",
        last_name="Jensen",
        email="karen@example.dk",
        organisation="Teknologisk Institut",
        sector="academia",
        region="Region Midtjylland",
    )
    await verify_member(bot, db, KAREN)
    await sign_up_member(
        bot,
        LARS,
        first_name="Lars",
        last_name="Holm",
        email="lars@example.dk",
        organisation="Aarhus Kommune",
        sector="public",
        region="Region Midtjylland",
    )
    await sign_up_member(
        bot,
        SOEREN,
        first_name="Søren",
        last_name="Ærbø Ålund",
        language_code="da",
        email="soeren@example.dk",
        organisation="Fonden for Socialt Ansvar",
        sector="foundation",
        region="Region Hovedstaden",
    )
    await verify_member(bot, db, SOEREN)
    await sign_up_member(
        bot,
        INGRID,
        first_name="Ingrid",
        last_name="Öberg",
        language_code="sv",
        email="ingrid@example.se",
        organisation=None,
        sector="civil_society",
        region="Region Skåne",
    )
    ids = {}
    for user in (KAREN, LARS, SOEREN, INGRID):
        member = await find_member(db, user)
        ids[user] = int(member.id)
    return ids


ADMIN = Actor(ADMIN_ID, None, is_admin=True)


async def make_organiser(
    bot: BotHarness, db: Database, member_id: int, region_id: int | None = None
) -> None:
    await members.set_role(
        db.unit_of_work(),
        ADMIN,
        member_id,
        Role.ORGANISER,
        region_id=region_id,
        now=bot.clock.now,
    )


async def region_count(db: Database) -> int:
    async with db.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(Region)) or 0)


async def open_card(
    bot: BotHarness, query: str, button: str, roles: list[str] = ROLE_BUTTONS
) -> SentMessage:
    """The admin searches with /members <query> and opens the member's card (``roles``: its
    buttons, the current role ticked)."""
    replies = await bot.chat.send(ADMIN_ID, f"/members {query}")
    assert [m.text for m in replies] == ["Choose a member:"]
    listing = replies[-1]
    assert button in listing.button_texts
    assert await bot.chat.press(ADMIN_ID, listing, button) == []  # the list becomes the card
    assert listing.button_texts == roles
    return listing


def csv_rows(document: bytes) -> list[list[str]]:
    assert document.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, for spreadsheet programs"
    return list(csv.reader(io.StringIO(document.decode("utf-8-sig"), newline="")))


async def members_list(bot: BotHarness, user: int) -> tuple[str, list[list[str]]]:
    """/members as ``user``: the overview text and the rows of members.csv."""
    filenames = record_filenames(bot.request)
    replies = await bot.chat.send(user, "/members")
    assert [m.document is not None for m in replies] == [False, True]
    overview, file = replies
    assert file.text.startswith("All members")
    assert file.text.endswith(", as a spreadsheet (CSV).")
    assert filenames == ["members.csv"]
    return overview.text, csv_rows(file.document or b"")


# --- who may use /members -----------------------------------------------------------------


async def test_a_member_is_told_politely_that_members_is_for_organisers(
    bot: BotHarness, network: dict[int, int]
) -> None:
    replies = await bot.chat.send(LARS, "/members")
    assert [m.text for m in replies] == [ORGANISERS_ONLY]
    assert bot.request.calls_of("sendDocument") == []


async def test_someone_not_signed_up_is_told_members_is_for_organisers(bot: BotHarness) -> None:
    bot.chat.user(9999, language_code="en")
    replies = await bot.chat.send(9999, "/members")
    assert [m.text for m in replies] == [ORGANISERS_ONLY]


async def test_the_refusal_is_in_the_members_language(
    bot: BotHarness, network: dict[int, int]
) -> None:
    replies = await bot.chat.send(SOEREN, "/members")
    assert [m.text for m in replies] == [translator("da")(ORGANISERS_ONLY)]


# --- appointing organisers ---------------------------------------------------------------


async def test_admin_makes_a_member_organiser_for_all_regions(
    bot: BotHarness, db: Database, network: dict[int, int]
) -> None:
    card = await open_card(bot, "Karen", "Karen Jensen (Teknologisk Institut)")
    assert card.text.splitlines()[0] == "Karen Jensen: member"

    await bot.chat.press(ADMIN_ID, card, "Organiser for all regions")

    assert card.text.splitlines()[0] == "Karen Jensen: organiser for all regions"
    assert card.button_texts == [
        "✓ Organiser for all regions",
        "Organiser for one region",
        "Member (no organiser rights)",
    ]
    karen = await find_member(db, KAREN)
    assert (karen.role, karen.organiser_region_id) == ("organiser", None)
    assert bot.request.calls_of("answerCallbackQuery")[-1].params.get("text") == "Saved."
    menu = bot.request.calls_of("setMyCommands")[-1]
    assert menu.params["scope"] == {"type": "chat", "chat_id": KAREN}
    assert "members" in [c["command"] for c in menu.params["commands"]]
    # Her /members works now.
    overview, rows = await members_list(bot, KAREN)
    assert overview.splitlines()[0] == "4 members"
    assert len(rows) == 1 + 4


async def test_the_card_tells_two_members_of_the_same_name_apart(
    bot: BotHarness, db: Database, network: dict[int, int]
) -> None:
    await sign_up_member(
        bot, 6010, first_name="Karen", last_name="Jensen", email="kj@example.se",
        organisation="Lunds universitet", sector="academia", region="Region Skåne",
    )  # fmt: skip
    bot.clock.advance(days=3)
    replies = await bot.chat.send(ADMIN_ID, "/members Karen Jensen")
    listing = replies[-1]
    assert len(listing.button_texts) == 2
    await bot.chat.press(ADMIN_ID, listing, "Karen Jensen (Teknologisk Institut)")
    assert listing.text == (
        "Karen Jensen: member\n\n"
        "E-mail: karen@example.dk\n"
        "Organisation: Teknologisk Institut\n"
        "Region: Region Midtjylland\n"
        "Sector: University or research\n"
        "Joined: 25 November 2026"
    )
    replies = await bot.chat.send(ADMIN_ID, "/members Karen Jensen")
    await bot.chat.press(ADMIN_ID, replies[-1], "Karen Jensen (Lunds universitet)")
    lines = replies[-1].text.splitlines()
    assert lines[2:5] == [
        "E-mail: kj@example.se (not confirmed yet)",
        "Organisation: Lunds universitet",
        "Region: Region Skåne",
    ]


async def test_organiser_gets_a_csv_of_the_members(
    bot: BotHarness, db: Database, network: dict[int, int]
) -> None:
    await make_organiser(bot, db, network[KAREN])
    # Someone who erased their data is no longer listed (and no longer consents).
    await sign_up_member(bot, 6001, first_name="Gone", last_name="Person", email="g@example.dk")
    gone = await find_member(db, 6001)
    await privacy.erase(db.unit_of_work(), gone.id, now=bot.clock.now)

    overview, rows = await members_list(bot, KAREN)

    assert rows[0] == CSV_HEADER
    by_name = {row[0]: row for row in rows[1:]}
    assert sorted(by_name) == ["Ingrid Öberg", "Karen Jensen", "Lars Holm", "Søren Ærbø Ålund"]
    assert by_name["Søren Ærbø Ålund"] == [
        "Søren Ærbø Ålund",
        "soeren@example.dk",
        "Fonden for Socialt Ansvar",
        "Foundation",
        "Region Hovedstaden",
        "Dansk",
        "Yes",
        "2026-11-25",
    ]
    assert by_name["Ingrid Öberg"][2:7] == ["", "Civil society", "Region Skåne", "Svenska", "No"]
    # An address not yet confirmed is left out.
    assert by_name["Lars Holm"][1] == ""
    assert all(len(row) == len(CSV_HEADER) for row in rows)
    lines = overview.splitlines()
    assert lines[0] == "4 members"
    assert lines[1] == "of whom 2 have confirmed their e-mail address"
    assert "  Region Midtjylland: 2" in lines
    assert "  Region Skåne: 1" in lines


async def test_a_swedish_organiser_gets_a_members_list_swedish_excel_opens(
    bot: BotHarness, db: Database, network: dict[int, int]
) -> None:
    await make_organiser(bot, db, network[INGRID])
    replies = await bot.chat.send(INGRID, "/members")
    document = replies[-1].document
    assert document is not None
    assert document.startswith(b"\xef\xbb\xbf")
    text = document.decode("utf-8-sig")
    assert text.splitlines()[0] == (
        "Namn;E-post;Organisation;Sektor;Region;Språk;E-post bekräftad;Medlem sedan"
    )
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    [soeren] = [r for r in rows if r[0] == "Søren Ærbø Ålund"]
    assert soeren[3:7] == ["Stiftelse", "Region Hovedstaden", "Dansk", "Ja"]


async def test_a_name_that_looks_like_a_formula_is_not_run_by_a_spreadsheet(
    bot: BotHarness, db: Database, network: dict[int, int]
) -> None:
    await make_organiser(bot, db, network[KAREN])
    await sign_up_member(
        bot,
        6002,
        first_name='=HYPERLINK("http://x.example")',
        last_name=None,
        email="f@example.dk",
        organisation="+45 1234",
    )
    _, rows = await members_list(bot, KAREN)
    [row] = [r for r in rows if "HYPERLINK" in r[0]]
    assert row[0] == '\'=HYPERLINK("http://x.example")'
    assert row[2] == "'+45 1234"


async def test_an_email_address_that_looks_like_a_formula_is_not_run_by_a_spreadsheet(
    bot: BotHarness, db: Database, network: dict[int, int]
) -> None:
    await make_organiser(bot, db, network[KAREN])
    await sign_up_member(
        bot, 6003, first_name="Eve", last_name=None, email="=cmd|'/Ccalc'!A0@example.dk"
    )
    await verify_member(bot, db, 6003)
    _, rows = await members_list(bot, KAREN)
    [row] = [r for r in rows if r[0] == "Eve"]
    assert not row[1].startswith(("=", "+", "-", "@"))


async def test_the_administrator_gets_the_list_without_signing_up(
    bot: BotHarness, network: dict[int, int]
) -> None:
    overview, rows = await members_list(bot, ADMIN_ID)
    assert overview.splitlines()[0] == "4 members"
    assert len(rows) == 1 + 4
    assert overview.splitlines()[-1] == (
        "To make someone an organiser: /members followed by their name, @username or Telegram id."
    )


async def test_members_with_nobody_signed_up_sends_no_file(bot: BotHarness) -> None:
    replies = await bot.chat.send(ADMIN_ID, "/members")
    assert [m.document for m in replies] == [None]
    assert replies[0].text.splitlines()[0] == "0 members"
    assert bot.request.calls_of("sendDocument") == []


async def test_admin_makes_a_member_organiser_for_one_region(
    bot: BotHarness, db: Database, network: dict[int, int]
) -> None:
    card = await open_card(bot, "karen@example.dk", "Karen Jensen (Teknologisk Institut)")

    await bot.chat.press(ADMIN_ID, card, "Organiser for one region")

    assert card.text == "Organiser for which region?"
    assert "Region Hovedstaden" in card.button_texts
    # « Back returns to the member's card without changing anything.
    assert card.button_texts[-1] == "« Back"
    await bot.chat.press(ADMIN_ID, card, "« Back")
    assert card.text.splitlines()[0] == "Karen Jensen: member"
    assert (await find_member(db, KAREN)).role == "member"
    await bot.chat.press(ADMIN_ID, card, "Organiser for one region")
    await bot.chat.press(ADMIN_ID, card, "Region Hovedstaden")

    assert card.text.splitlines()[0] == "Karen Jensen: organiser for Region Hovedstaden"
    karen = await find_member(db, KAREN)
    assert karen.role == "organiser"
    assert karen.organiser_region_id == await region_id(db, "Region Hovedstaden")
    # Her /members counts and lists only her region (she lives in another one).
    [overview_message, file] = await bot.chat.send(KAREN, "/members")
    overview = overview_message.text
    rows = csv_rows(file.document or b"")
    # Both say which region the view is limited to.
    assert overview.splitlines()[0] == "1 member in Region Hovedstaden"
    assert file.text == "All members in Region Hovedstaden, as a spreadsheet (CSV)."
    assert [row[0] for row in rows[1:]] == ["Søren Ærbø Ålund"]
    assert "  Region Midtjylland: 2" not in overview.splitlines()


async def test_back_to_member_takes_the_rights_away(
    bot: BotHarness, db: Database, network: dict[int, int]
) -> None:
    await make_organiser(bot, db, network[KAREN], await region_id(db, "Region Skåne"))
    ticked = ["Organiser for all regions", "✓ Organiser for one region", ROLE_BUTTONS[2][2:]]
    card = await open_card(bot, "Karen", "Karen Jensen (Teknologisk Institut)", ticked)
    assert card.text.splitlines()[0] == "Karen Jensen: organiser for Region Skåne"

    await bot.chat.press(ADMIN_ID, card, "Member (no organiser rights)")

    assert card.text.splitlines()[0] == "Karen Jensen: member"
    karen = await find_member(db, KAREN)
    assert (karen.role, karen.organiser_region_id) == ("member", None)
    menu = bot.request.calls_of("setMyCommands")[-1]
    assert menu.params["scope"] == {"type": "chat", "chat_id": KAREN}
    assert "members" not in [c["command"] for c in menu.params["commands"]]
    replies = await bot.chat.send(KAREN, "/members")
    assert [m.text for m in replies] == [ORGANISERS_ONLY]


async def test_admin_can_find_a_member_by_username_and_telegram_id(
    bot: BotHarness, db: Database, network: dict[int, int]
) -> None:
    await sign_up_member(bot, 6004, first_name="Nina", email="nina@example.dk", username="nina_n")
    for query in ("@nina_n", "6004"):
        replies = await bot.chat.send(ADMIN_ID, f"/members {query}")
        assert replies[-1].button_texts == ["Nina Jensen (Sociale Entreprenører i Danmark)"]


async def test_a_changed_telegram_username_is_found_from_the_members_next_message(
    bot: BotHarness, db: Database, network: dict[int, int]
) -> None:
    await sign_up_member(bot, 6005, first_name="Ole", email="ole@example.dk", username="ole_old")
    bot.chat.user(6005, "Ole", "Jensen", language_code="en", username="ole_new")
    await bot.chat.send(6005, "/help")  # any message from the member

    found = await bot.chat.send(ADMIN_ID, "/members @ole_new")
    assert found[-1].button_texts == ["Ole Jensen (Sociale Entreprenører i Danmark)"]
    stale = await bot.chat.send(ADMIN_ID, "/members @ole_old")
    assert [m.text for m in stale] == ["No member matches “@ole_old”."]


async def test_admin_search_without_a_match(bot: BotHarness, network: dict[int, int]) -> None:
    replies = await bot.chat.send(ADMIN_ID, "/members Nobody")
    assert [m.text for m in replies] == ["No member matches “Nobody”."]


async def test_admin_finds_names_with_nordic_capital_letters(
    bot: BotHarness, network: dict[int, int]
) -> None:
    for query, expected in (("Ærbø", "Søren Ærbø Ålund"), ("öberg", "Ingrid Öberg")):
        replies = await bot.chat.send(ADMIN_ID, f"/members {query}")
        assert replies[-1].text == "Choose a member:", query
        assert [b.split(" (")[0] for b in replies[-1].button_texts] == [expected]


async def test_an_organiser_cannot_search_or_appoint(
    bot: BotHarness, db: Database, network: dict[int, int]
) -> None:
    await make_organiser(bot, db, network[KAREN])
    replies = await bot.chat.send(KAREN, "/members Lars")
    assert [m.text for m in replies] == [ADMINS_ONLY]


@pytest.mark.parametrize(
    "callback",
    ["ad:role:{lars}:all", "ad:role:{lars}:region:1", "ad:card:{lars}", "ad:pick:{lars}"],
)
@pytest.mark.parametrize("presser", [LARS, KAREN], ids=["member", "organiser"])
async def test_a_non_admin_pressing_an_admin_button_is_refused(
    bot: BotHarness, db: Database, network: dict[int, int], callback: str, presser: int
) -> None:
    await make_organiser(bot, db, network[KAREN])
    data = callback.format(lars=network[LARS])
    crafted = SentMessage(
        message_id=1,
        chat_id=presser,
        text="Lars Holm: member",
        buttons=[{"text": "crafted", "callback_data": data}],
    )

    replies = await bot.chat.press(presser, crafted, data)

    assert [m.text for m in replies] == [ADMINS_ONLY]
    lars = await find_member(db, LARS)
    assert (lars.role, lars.organiser_region_id) == ("member", None)


async def test_a_member_pressing_the_admins_own_card_is_refused(
    bot: BotHarness, db: Database, network: dict[int, int]
) -> None:
    card = await open_card(bot, "Lars", "Lars Holm (Aarhus Kommune)")
    replies = await bot.chat.press(LARS, card, "Organiser for all regions")
    assert [m.text for m in replies] == [ADMINS_ONLY]
    assert card.text.splitlines()[0] == "Lars Holm: member"
    assert (await find_member(db, LARS)).role == "member"


# --- /regions ----------------------------------------------------------------------------


async def test_admin_adds_a_region_that_sign_up_then_offers(bot: BotHarness, db: Database) -> None:
    replies = await bot.chat.send(ADMIN_ID, "/regions add Region Västra Götaland")
    assert [m.text for m in replies] == ["Region added: Region Västra Götaland"]

    bot.chat.user(INGRID, "Ingrid", "Öberg", language_code="sv")
    replies = await bot.chat.send(INGRID, "/start")
    await bot.chat.press(INGRID, replies[-1], "su:name")
    await bot.chat.send(INGRID, "ingrid@example.se")
    replies = await bot.chat.press(INGRID, bot.chat.last(INGRID), "su:org:skip")
    replies = await bot.chat.press(INGRID, replies[-1], "su:sector:public")
    assert "Region Västra Götaland" in replies[-1].button_texts
    replies = await bot.chat.press(INGRID, replies[-1], "Region Västra Götaland")
    await bot.chat.press(INGRID, replies[-1], "su:consent:yes")
    assert (await find_member(db, INGRID)).region.name == "Region Västra Götaland"

    [listing] = await bot.chat.send(ADMIN_ID, "/regions")
    assert "  Region Västra Götaland" in listing.text.splitlines()


async def test_regions_lists_the_regions_for_the_admin(bot: BotHarness) -> None:
    [reply] = await bot.chat.send(ADMIN_ID, "/regions")
    lines = reply.text.splitlines()
    assert lines[0] == "Regions:"
    assert lines[1:7] == [
        "  Region Hovedstaden",
        "  Region Sjælland",
        "  Region Syddanmark",
        "  Region Midtjylland",
        "  Region Nordjylland",
        "  Region Skåne",
    ]
    assert lines[-1] == "To add one: /regions add followed by its name."


@pytest.mark.parametrize("name", ["Region Skåne", "region skåne"])
async def test_adding_a_region_twice_is_refused(bot: BotHarness, db: Database, name: str) -> None:
    before = await region_count(db)
    replies = await bot.chat.send(ADMIN_ID, f"/regions add {name}")
    assert [m.text for m in replies] == ["That region exists already."]
    assert await region_count(db) == before


@pytest.mark.parametrize("user", [LARS, KAREN], ids=["member", "organiser"])
async def test_a_non_admin_sending_regions_is_refused(
    bot: BotHarness, db: Database, network: dict[int, int], user: int
) -> None:
    await make_organiser(bot, db, network[KAREN])
    before = await region_count(db)
    replies = await bot.chat.send(user, "/regions add Region Gotland")
    assert [m.text for m in replies] == [ADMINS_ONLY]
    assert await region_count(db) == before
    replies = await bot.chat.send(user, "/regions")
    assert [m.text for m in replies] == [ADMINS_ONLY]


# --- administrators at once; being told of a new role -----------------------------------------


async def role_notices(db: Database, member_id: int) -> list[str]:
    return [
        r.payload["text"] for r in await outbox_rows(db, member_id) if r.key.startswith("role:")
    ]


async def test_an_administrator_can_use_members_in_the_middle_of_signing_up(
    bot: BotHarness, network: dict[int, int]
) -> None:
    replies = await bot.chat.send(ADMIN_ID, "/start")
    assert replies[-1].text.endswith("What is your name? Type it, or use the button.")
    replies = await bot.chat.send(ADMIN_ID, "/members")
    assert replies[0].text.splitlines()[0] == "4 members"
    assert replies[1].document is not None
    # Sign-up goes on where it was.
    [ask_email] = await bot.chat.send(ADMIN_ID, "Anne Admin")
    assert ask_email.text.startswith("What is your e-mail address?")
    # Someone else in the middle of signing up is kept in the flow.
    bot.chat.user(7001, "Nils", None, language_code="en")
    await bot.chat.send(7001, "/start")
    replies = await bot.chat.send(7001, "/members")
    assert replies[0].text.startswith("You are in the middle of signing up.")


async def test_help_lists_what_an_administrator_can_do_without_signing_up(
    bot: BotHarness,
) -> None:
    [help_text] = await bot.chat.send(ADMIN_ID, "/help")
    lines = help_text.text.splitlines()
    assert lines[0] == "This is what I can do for you:"
    for line in (
        "/newevent – Create an event",
        "/members – Member overview and list (CSV)",
        "/broadcast – Send a message to many members",
        "/regions – See and add regions",
    ):
        assert line in lines
    assert (
        "You are an administrator: you can organise events in all regions and appoint "
        "organisers." in lines
    )
    assert lines[-1].startswith("Your administrator commands work without signing up.")
    draft, *_ = await bot.chat.send(ADMIN_ID, "/newevent")
    assert draft.text.startswith("Let us create an event.")


async def test_an_administrator_gets_their_command_menu_when_the_bot_starts(
    bot: BotHarness,
) -> None:
    await bot.app.post_init(bot.app)
    [menu] = [
        c
        for c in bot.request.calls_of("setMyCommands")
        if c.params.get("scope") == {"type": "chat", "chat_id": ADMIN_ID}
    ]
    assert {"members", "newevent", "regions"} <= {c["command"] for c in menu.params["commands"]}


async def test_a_member_is_told_in_their_language_when_they_become_or_stop_being_organiser(
    bot: BotHarness, db: Database, network: dict[int, int]
) -> None:
    card = await open_card(bot, "Karen", "Karen Jensen (Teknologisk Institut)")
    await bot.chat.press(ADMIN_ID, card, "Organiser for all regions")
    [notice] = await role_notices(db, network[KAREN])
    lines = notice.splitlines()
    assert lines[0] == "You are now an organiser for all regions in Samvirke."
    assert "/newevent – create an event" in lines
    assert "/members – the member overview and list" in lines
    # The same choice again changes nothing and tells nobody anything new.
    await bot.chat.press(ADMIN_ID, snapshot(card), f"ad:role:{network[KAREN]}:all")
    assert len(await role_notices(db, network[KAREN])) == 1
    bot.clock.advance(minutes=1)
    await bot.chat.press(ADMIN_ID, card, "Member (no organiser rights)")
    assert (await role_notices(db, network[KAREN]))[-1].startswith(
        "You are no longer an organiser in Samvirke."
    )

    # Søren reads Danish: his notice is in Danish and names his region.
    card = await open_card(bot, "Søren", "Søren Ærbø Ålund (Fonden for Socialt Ansvar)")
    await bot.chat.press(ADMIN_ID, card, "Organiser for one region")
    await bot.chat.press(ADMIN_ID, card, "Region Hovedstaden")
    [notice] = await role_notices(db, network[SOEREN])
    da = translator("da")
    assert notice.splitlines()[0] == da(
        "You are now an organiser for {region} in Samvirke.", region="Region Hovedstaden"
    )
    assert notice.splitlines()[0] != "You are now an organiser for Region Hovedstaden in Samvirke."
    assert da("Events, broadcasts and member lists are limited to {region}.",
              region="Region Hovedstaden") in notice  # fmt: skip
