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
