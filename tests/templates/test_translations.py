"""Every user-facing text is translated into Danish and Swedish, with the same placeholders."""

from __future__ import annotations

import ast
import io
import re
from importlib.resources import files
from pathlib import Path

import pytest
from babel.messages.extract import extract, extract_from_dir
from babel.messages.pofile import read_po

from templates.i18n import LANGUAGES, catalog_path, pick_language, translator

KEYWORDS = {"t": None, "plural": (1, 2), "N_": None, "_": None, "gettext": None, "ngettext": (1, 2)}
METHODS = [
    ("**.py", "python"),
    ("mail/**.txt", "jinja2"),
    ("mail/**.html", "jinja2"),
]
PLACEHOLDER = re.compile(r"\{(\w+)\}|%\((\w+)\)s")


def _package_dir(name: str) -> Path:
    return Path(str(files(name)))


def _source_messages() -> set[str]:
    found: set[str] = set()
    for package in ("bot", "templates", "storage", "scheduler"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            _package_dir(package),
            method_map=METHODS,
            options_map={"mail/**": {"extensions": "jinja2.ext.i18n"}},
            keywords=KEYWORDS,
        ):
            # A plural entry is found in a catalog by its singular form.
            found.add(message if isinstance(message, str) else message[0])
    return found


def _placeholders(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


def test_the_code_has_user_facing_messages() -> None:
    assert len(_source_messages()) > 50


@pytest.mark.parametrize("language", ["da", "sv"])
def test_every_message_is_translated(language: str) -> None:
    with open(catalog_path(language), "rb") as po:
        catalog = read_po(po, locale=language)
    missing, fuzzy, broken = [], [], []
    for msgid in sorted(_source_messages()):
        entry = catalog.get(msgid)
        if (
            entry is None
            or not entry.string
            or (isinstance(entry.string, tuple) and not all(entry.string))
        ):
            missing.append(msgid)
            continue
        if entry.fuzzy:
            fuzzy.append(msgid)
        translations = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for translation in translations:
            if _placeholders(str(translation)) - _placeholders(str(msgid)):
                broken.append(msgid)
    assert not missing, f"{len(missing)} untranslated in {language}: {missing[:5]}"
    assert not fuzzy, f"fuzzy in {language}: {fuzzy[:5]}"
    assert not broken, f"unknown placeholders in {language}: {broken[:5]}"


def test_every_plural_call_is_extracted_as_a_plural_message() -> None:
    """Babel's extractor reads ``t.plural("…", "…", n, x=f(t))`` as a singular message (the
    nested ``t`` confuses it); the catalog would then hold no plural entry and the text would
    stay English. Every ``.plural(`` call in the sources must come out as a plural."""
    misread = []
    for package in ("bot", "storage", "scheduler", "samvirke"):
        folder = _package_dir(package)
        paths = folder.glob("*.py") if package == "samvirke" else folder.rglob("*.py")
        for path in paths:
            source = path.read_bytes()
            extracted = {
                line: message
                for line, message, _comments, _context in extract(
                    "python", io.BytesIO(source), keywords=KEYWORDS
                )
            }
            for node in ast.walk(ast.parse(source)):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "plural"
                    and node.args
                    and not isinstance(extracted.get(node.args[0].lineno), tuple)
                ):
                    misread.append(f"{path.name}:{node.args[0].lineno}")
    assert not misread


def test_languages_are_picked_from_telegram_and_fall_back() -> None:
    assert pick_language("da-DK", default="en") == "da"
    assert pick_language(None, "sv", default="da") == "sv"
    assert pick_language("de", default="da") == "da"
    assert set(LANGUAGES) == {"da", "sv", "en"}


def test_translator_formats_and_keeps_unknown_placeholders_visible() -> None:
    t = translator("en")
    assert t("Name: {value}", value="Åse") == "Name: Åse"
    assert t("Name: {value}") == "Name: {value}"


# A placeholder whose name says it holds a number (a count or a limit) ...
COUNT_NAMES = {
    "n", "num", "count", "max", "min", "minutes", "days", "weeks", "people", "going", "members",
    "capacity", "total", "sent", "seats", "events", "listings", "number", "position",
}  # fmt: skip
# ... may be followed by these words without a plural (an ordinal, "3 of 10", "2 h").
NOT_A_NOUN = {"of", "to", "on", "and", "or", "h", "t", "tim"}
COUNT_BEFORE_WORD = re.compile(r"(?:\{(\w+)\}|%\((\w+)\)[sd]) +([A-Za-zÀ-ÿ]+)")


def _source_entries() -> list[str | tuple[str, ...]]:
    entries: list[str | tuple[str, ...]] = []
    for package in ("bot", "templates", "storage", "scheduler", "samvirke"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            _package_dir(package),
            method_map=METHODS,
            options_map={"mail/**": {"extensions": "jinja2.ext.i18n"}},
            keywords=KEYWORDS,
        ):
            entries.append(message)
    return entries


def test_every_count_followed_by_a_word_is_a_plural_message() -> None:
    """ "1 möten och 1 nyheter": a number in front of a noun needs the noun's plural forms,
    which only a plural entry (``t.plural``, ``plural(...)``, ``ngettext``) gives."""
    singular_counts = []
    for message in _source_entries():
        if not isinstance(message, str):
            continue
        for a, b, word in COUNT_BEFORE_WORD.findall(message):
            if (a or b) in COUNT_NAMES and word not in NOT_A_NOUN:
                singular_counts.append(message)
    assert not singular_counts


def test_the_scan_finds_a_count_before_a_noun() -> None:
    """The scan above is not blind: the texts that were found before are caught by it."""
    found = [
        (a or b, word)
        for text in (
            "Samvirke: %(events)s meetings and %(listings)s timebank news",
            "That name is too long: at most {max} characters, please.",
            "… and {n} more: see the list.",
        )
        for a, b, word in COUNT_BEFORE_WORD.findall(text)
        if (a or b) in COUNT_NAMES and word not in NOT_A_NOUN
    ]
    assert found == [
        ("events", "meetings"),
        ("listings", "timebank"),
        ("max", "characters"),
        ("n", "more"),
    ]


@pytest.mark.parametrize(
    ("language", "events", "listings", "subject"),
    [
        ("sv", 1, 1, "Samvirke: 1 möte och 1 nytt i tidsbanken"),
        ("sv", 2, 3, "Samvirke: 2 möten och 3 nya i tidsbanken"),
        ("da", 1, 1, "Samvirke: 1 møde og 1 nyt i tidsbanken"),
        ("da", 2, 5, "Samvirke: 2 møder og 5 nye i tidsbanken"),
        ("en", 1, 2, "Samvirke: 1 meeting and 2 new in the timebank"),
    ],
)
def test_digest_subjects_use_the_plural_forms(
    language: str, events: int, listings: int, subject: str
) -> None:
    from templates.i18n import mail_environment

    template = mail_environment(language).get_template("digest.txt")
    sections: dict[str, list[dict[str, str]]] = {
        "events": [{}] * events,
        "listings": [{}] * listings,
    }
    rendered = "".join(template.blocks["subject"](template.new_context({"sections": sections})))
    assert rendered == subject


@pytest.mark.parametrize(
    ("language", "n", "text"),
    [
        ("da", 1, "Navnet er for langt. Skriv højst 1 tegn."),
        ("sv", 1, "Namnet är för långt. Skriv högst 1 tecken."),
        ("en", 1, "That name is too long: at most 1 character, please."),
        ("en", 80, "That name is too long: at most 80 characters, please."),
    ],
)
def test_error_texts_with_a_count_use_the_plural_forms(language: str, n: int, text: str) -> None:
    from bot.ui.texts import error_text
    from storage.errors import DomainError

    assert error_text(translator(language), DomainError("name_too_long", max=n)) == text
