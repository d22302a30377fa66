"""Translations: gettext catalogs (``locale/<lang>/LC_MESSAGES/messages.po``) read with Babel.

The ``.po`` files are the single source; they are compiled in memory when first used, so no
build step is needed. In code, user-facing text is written as ``t("English text {name}",
name=...)`` (or ``t.plural(...)``) and extracted with ``pybabel extract -F babel.cfg``.
"""

from __future__ import annotations

import functools
import io
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, PackageLoader, select_autoescape

LANGUAGES: Final = ("da", "sv", "en")
DOMAIN: Final = "messages"


def N_(message: str) -> str:
    """Mark a module-level string for extraction; translate it later with ``t(...)``."""
    return message


@dataclass(frozen=True)
class PluralText:
    """A module-level text with a number in it: its singular and plural forms, and the name of
    the parameter that holds the number (``t.text(...)`` picks the form)."""

    singular: str
    plural: str
    count: str = "n"


def plural(singular: str, plural: str, count: str = "n", /) -> PluralText:
    """Mark a module-level text with a count for extraction as a plural message (the name
    ``plural`` is what the extractor looks for: ``-k plural:1,2``)."""
    return PluralText(singular, plural, count)


def catalog_path(language: str) -> str:
    return str(files("templates") / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po")


@functools.cache
def _translations(language: str) -> NullTranslations:
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    resource = files("templates") / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with resource.open("rb") as po_file:
        catalog = read_po(po_file, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)


class _SafeFormatter(string.Formatter):
    """``str.format`` that leaves unknown placeholders visible instead of raising."""

    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if isinstance(key, str) and key not in kwargs:
            return "{" + key + "}"
        return super().get_value(key, args, kwargs)


_formatter = _SafeFormatter()


class Translator:
    """User-facing text in one language."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._gettext = _translations(language)

    def __call__(self, message: str, /, **params: object) -> str:
        text = self._gettext.gettext(message)
        return _formatter.format(text, **params) if params else text

    def plural(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        text = self._gettext.ngettext(singular, plural, n)
        return _formatter.format(text, n=n, **params)

    def text(self, message: str | PluralText, /, **params: object) -> str:
        """A marked text (``N_`` or ``plural``) in this language, the plural form chosen by
        the number in its count parameter."""
        if isinstance(message, str):
            return self(message, **params)
        count = params.get(message.count)
        n = count if isinstance(count, int) else 2
        text = self._gettext.ngettext(message.singular, message.plural, n)
        return _formatter.format(text, **params)


@functools.cache
def translator(language: str) -> Translator:
    return Translator(language)


def pick_language(*candidates: str | None, default: str) -> str:
    """The first candidate that is a supported language ("da-DK" counts as "da")."""
    for candidate in candidates:
        if candidate:
            short = candidate.split("-")[0].split("_")[0].lower()
            if short in LANGUAGES:
                return short
    return default


@functools.cache
def mail_environment(language: str) -> Environment:
    """A Jinja2 environment for mail templates, with the i18n extension in ``language``."""
    env = Environment(
        loader=PackageLoader("templates", "mail"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.install_gettext_translations(_translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


@functools.cache
def page_environment(language: str) -> Environment:
    """A Jinja2 environment for the public web pages (``templates/pages/``), in ``language``."""
    env = Environment(
        loader=PackageLoader("templates", "pages"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(_translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env
