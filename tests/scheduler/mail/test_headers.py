"""Every header of every mail within RFC 2047 (encoded words of at most 75 characters, whole
characters each) and RFC 5322 (lines of at most 78 characters), checked on the raw bytes of
composed mails and decoded back to what was given."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parseaddr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.mail.compose import Mailbox, RenderedMail, compose
from storage.digests.unsubscribe import UnsubscribeLinks
from templates.calendar import CalendarPart

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
SUBJECTS = [
    "Invitation: Innovation på det sociale område – aktører i Region Midt, Teknologisk Institut",
    "Inbjudan: Social innovation i Skåne – så når vi varandra över sektorsgränserna 2027 🎉🇸🇪",
    "Påmindelse: " + "Æblegrødsværksted på Ærø " * 8,
    "👩‍💻🇩🇰" * 30,
    "Digest: " + "x" * 300,  # one ASCII word longer than a line
    "A plain English subject that is long enough to need folding at the spaces between words ok",
    "Looks like =?utf-8?q?an_encoded_word?= but is not",
]
NAMES = [
    "Karen Ærø-Sørensen Østergaard Kjærsgaard Bøgh-Andersen fra Ålborg Kommune og Ærøskøbing",
    "Åsa Öberg-Häggström (Social Innovation Skåne, Malmö stad) 🌱",
    'Jens "the timebank" O\'Brien, Sociale Entreprenører',
    "K" * 120,
    "Mette",
]


def headers_of(raw: bytes) -> list[bytes]:
    """Every header line of every part (the top and each MIME part)."""
    lines: list[bytes] = []
    in_headers = True
    for line in raw.split(b"\r\n"):
        if in_headers and line == b"":
            in_headers = False
        elif line.startswith(b"--") and not line.endswith(b"--"):
            in_headers = True  # a boundary: the part's headers follow
        elif in_headers:
            lines.append(line)
    return lines


def check_rules(raw: bytes) -> None:
    assert raw.isascii()
    for line in raw.split(b"\r\n"):
        assert len(line) <= 998
    for line in headers_of(raw):
        # Only a word that no folding can split (a long link) may pass 78, on a line of its own.
        assert len(line) <= 78 or re.fullmatch(rb"(?:[A-Za-z-]+:)? \S+,?", line), line
        for word in ENCODED_WORD.findall(line):
            assert len(word) <= 75, word


def mail(subject: str, *, name: str = "Karen Ærø", sender: str = "Samvirke") -> bytes:
    return compose(
        RenderedMail(subject=subject, text="Hej", html="<p>Hej</p>"),
        sender=Mailbox(sender, "samvirke@example.org"),
        recipient=Mailbox(name, "karen@example.dk"),
        key="invite:1:2:1",
        now=NOW,
        calendar=CalendarPart(method="REQUEST", data=b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"),
        unsubscribe=UnsubscribeLinks(
            "https://samvirke.example.org/unsubscribe/12." + "a" * 43,
            "mailto:samvirke@example.org?subject=unsubscribe%2012." + "a" * 43,
        ),
    )


def mailbox_of(message: EmailMessage, header: str) -> tuple[str, str]:
    """A mailbox header read by RFC 2047's rule that the space between two adjacent encoded
    words is not part of the text (as mail programs do). ``email.policy.default``'s address
    parser keeps that space inside a phrase, so it is not the judge of display names here."""
    raw = email.message_from_bytes(message.as_bytes(), policy=email.policy.compat32)[header]
    value = " ".join(str(raw).split())  # unfolded
    if "=?" not in value:
        return parseaddr(value)
    phrase, _, address = value.rpartition(" <")
    return str(make_header(decode_header(phrase))), address.removesuffix(">")


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize("subject", SUBJECTS)
def test_long_subjects_stay_within_the_rules_and_read_back_the_same(subject: str) -> None:
    raw = mail(subject)
    check_rules(raw)
    assert parsed(raw)["Subject"] == subject


@pytest.mark.parametrize("name", NAMES)
def test_long_display_names_stay_within_the_rules_and_read_back_the_same(name: str) -> None:
    raw = mail("Hej", name=name, sender=name)
    check_rules(raw)
    message = parsed(raw)
    for header, address in (("To", "karen@example.dk"), ("From", "samvirke@example.org")):
        assert mailbox_of(message, header) == (name, address)
        assert message[header].addresses[0].addr_spec == address


def test_the_subject_that_gave_a_76_character_encoded_word() -> None:
    """The case found: a long Danish invitation title (``Header`` wrote 76 characters)."""
    subject = (
        "Invitation: Innovation på det sociale område – aktører i Region Midt, Teknologisk Institut"
    )
    raw = mail(subject)
    words = [w for line in headers_of(raw) for w in ENCODED_WORD.findall(line)]
    assert words
    assert max(len(w) for w in words) <= 75
    assert parsed(raw)["Subject"] == subject


def test_the_unsubscribe_links_fold_and_read_back() -> None:
    raw = mail("Hej")
    check_rules(raw)
    value = parsed(raw)["List-Unsubscribe"]
    assert value == (
        "<https://samvirke.example.org/unsubscribe/12." + "a" * 43 + ">, "
        "<mailto:samvirke@example.org?subject=unsubscribe%2012." + "a" * 43 + ">"
    )


TEXT = st.text(
    st.characters(categories=("L", "N", "P", "S", "Zs"), exclude_characters="\r\n", codec="utf-8"),
    min_size=1,
    max_size=300,
)


@settings(deadline=None)  # a machine busy with other work must not fail it
@given(subject=TEXT, name=TEXT)
def test_any_subject_and_name_stay_within_the_rules(subject: str, name: str) -> None:
    raw = mail(subject, name=name)
    check_rules(raw)
    message = parsed(raw)
    assert message["Subject"] == subject
    assert mailbox_of(message, "To") == (name, "karen@example.dk")
