"""Pure input rules: what a name, an e-mail address, an organisation or a title may be."""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from storage.errors import InvalidInput

NAME_MAX = 100
ORGANISATION_MAX = 200
EMAIL_MAX = 254
REGION_NAME_MAX = 100


# Invisible characters that change how text around them is shown (bidi embeddings, overrides
# and isolates, marks) or hide in it (zero-width space, byte-order mark): never stored.
_DROPPED = frozenset(
    "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)
# Joiners (ZWJ, ZWNJ) are kept inside a word or an emoji sequence (👩‍💻, Persian and Indic
# scripts need them) and dropped only where they join nothing (at the start or end of a word).
_JOINERS = "\u200c\u200d"


def clean_text(value: str) -> str:
    """Normalise to NFC, turn control characters into spaces (no line breaks in names), drop
    bidi controls and stray joiners, squeeze spaces. Other format characters (joiners inside
    words, emoji tags) and characters newer than Python's Unicode tables are kept."""
    value = unicodedata.normalize("NFC", value)
    kept: list[str] = []
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cc":
            kept.append(" ")
        elif category != "Cs" and ch not in _DROPPED:
            kept.append(ch)
    return " ".join(word.strip(_JOINERS) for word in "".join(kept).split() if word.strip(_JOINERS))


def ascii_number(text: str, *, max_digits: int = 18) -> int | None:
    """The value of a whole number typed with the ASCII digits 0-9 only, else None.

    ``"²".isdigit()`` and ``"٣".isdigit()`` are true, but neither is a number a member typed
    on purpose; ``max_digits`` bounds the value (18 digits fit a 64-bit database integer)."""
    if not text or len(text) > max_digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def clean_multiline(value: str) -> str:
    """Like ``clean_text`` but keeping line breaks (at most one empty line in a row)."""
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    lines = [clean_text(line) for line in value.split("\n")]
    text = "\n".join(lines).strip()
    return re.sub(r"\n{3,}", "\n\n", text)


def checked_title(value: str, *, max_length: int) -> str:
    """A title of an event or a timebank listing: one line, not empty, not too long."""
    title = clean_text(value)
    if not title:
        raise InvalidInput("title_empty")
    if len(title) > max_length:
        raise InvalidInput("title_too_long", max=max_length)
    return title


def validate_name(value: str) -> str:
    name = clean_text(value)
    if not name:
        raise InvalidInput("name_empty")
    if len(name) > NAME_MAX:
        raise InvalidInput("name_too_long", max=NAME_MAX)
    return name


def validate_organisation(value: str) -> str:
    organisation = clean_text(value)
    if not organisation:
        raise InvalidInput("organisation_empty")
    if len(organisation) > ORGANISATION_MAX:
        raise InvalidInput("organisation_too_long", max=ORGANISATION_MAX)
    return organisation


def validate_region_name(value: str) -> str:
    name = clean_text(value)
    if not name or len(name) > REGION_NAME_MAX:
        raise InvalidInput("region_name_invalid", max=REGION_NAME_MAX)
    return name


def validate_email_address(value: str) -> str:
    """A syntactically valid address, normalised (domain lower-cased, IDNA handled)."""
    candidate = value.strip()
    if len(candidate) > EMAIL_MAX or any(ch in candidate for ch in '\r\n\t <>,;"'):
        raise InvalidInput("email_invalid")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidInput("email_invalid") from None
    if not result.local_part.isascii():
        # Letters such as æ, ø, å before the @ need SMTPUTF8, which the mail path does not
        # use: the code mail could never be sent, so the member could never confirm.
        raise InvalidInput("email_not_ascii")
    return str(result.normalized)


def region_code(name: str) -> str:
    """A stable ASCII code for a region name ("Region Sjælland" -> "region-sjaelland")."""
    table = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ä": "ae", "ö": "oe", "ü": "ue"})
    folded = unicodedata.normalize("NFKD", name.lower().translate(table))
    ascii_only = "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch == " "))
    return "-".join(ascii_only.split())[:40] or "region"
