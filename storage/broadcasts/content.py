"""The message of a broadcast: Telegram HTML (what python-telegram-bot's ``Message.text_html``
gives for the formatting the organiser used in Telegram), checked by :func:`validate_html`: only
the tags Telegram knows, properly nested, links to http(s), tg: or mailto: only, within the
length Telegram allows; and the outbox payload of one recipient's copy.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from storage.errors import InvalidInput
from storage.models import MediaKind
from templates.i18n import Translator

TEXT_MAX = 4096  # Telegram's limit for a message, counted after the markup is parsed
CAPTION_MAX = 1024  # ... and for the caption of a photo or document
FILE_ID_MAX = 255
PARSE_MODE = "HTML"
# Every member's copy starts with a label naming the network and the organiser who sent it (in
# the member's language); the organiser's own text may use the rest of Telegram's limit.
LABEL_BUDGET = 160
NAME_IN_LABEL = 50

# The HTML Telegram understands (https://core.telegram.org/bots/api#html-style), with the
# attributes each tag may carry.
ALLOWED_TAGS: dict[str, frozenset[str]] = {
    "b": frozenset(),
    "strong": frozenset(),
    "i": frozenset(),
    "em": frozenset(),
    "u": frozenset(),
    "ins": frozenset(),
    "s": frozenset(),
    "strike": frozenset(),
    "del": frozenset(),
    "span": frozenset({"class"}),
    "tg-spoiler": frozenset(),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "blockquote": frozenset({"expandable"}),
    "tg-emoji": frozenset({"emoji-id"}),
}


LINK_SCHEMES = frozenset({"http", "https", "tg", "mailto"})
ENTITIES = frozenset({"lt", "gt", "amp", "quot"})


def row_key(broadcast_id: int, member_id: int) -> str:
    return f"broadcast:{broadcast_id}:{member_id}"


def report_key(broadcast_id: int) -> str:
    # Not under "broadcast:{id}:" so that counting the recipients' rows never counts it.
    return f"broadcast-report:{broadcast_id}"


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.visible: list[str] = []
        self.error: str | None = None

    def _fail(self, problem: str) -> None:
        self.error = self.error or problem

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        allowed = ALLOWED_TAGS.get(tag)
        if allowed is None:
            self._fail(f"tag <{tag}> is not supported")
            return
        for name, value in attrs:
            if name not in allowed:
                self._fail(f"attribute {name} of <{tag}> is not supported")
            elif tag == "a" and not _safe_link(value or ""):
                self._fail("link is not http(s), tg or mailto")
            elif tag == "span" and value != "tg-spoiler":
                self._fail("span must be a spoiler")
        if tag == "a" and not any(name == "href" for name, _ in attrs):
            self._fail("link without href")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._fail(f"self-closing <{tag}/> is not supported")

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self._fail(f"</{tag}> does not close the open tag")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self._fail("unescaped < or >")
        self.visible.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in ENTITIES:
            self._fail(f"entity &{name}; is not supported")
        self.visible.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.visible.append(html.unescape(f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        self._fail("comments are not supported")

    def handle_decl(self, decl: str) -> None:
        self._fail("declarations are not supported")

    def handle_pi(self, data: str) -> None:
        self._fail("processing instructions are not supported")

    def unknown_decl(self, data: str) -> None:
        self._fail("declarations are not supported")


def _safe_link(href: str) -> bool:
    parts = urlsplit(href.strip())
    if parts.scheme.lower() not in LINK_SCHEMES:
        return False
    return parts.scheme.lower() in ("tg", "mailto") or bool(parts.netloc)


def telegram_length(text: str) -> int:
    """Telegram counts UTF-16 code units (an emoji outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def validate_html(text: str, *, limit: int = TEXT_MAX, caption: bool = False) -> str:
    """The message as Telegram HTML, or InvalidInput (``broadcast_empty``,
    ``broadcast_too_long`` with ``max``, ``broadcast_markup``)."""
    text = text.strip()
    checker = _Checker()
    try:
        checker.feed(text)
        checker.close()
    except AssertionError:  # html.parser's way of refusing some malformed input
        raise InvalidInput("broadcast_markup") from None
    if checker.error is not None or checker.open:
        raise InvalidInput("broadcast_markup")
    visible = "".join(checker.visible)
    if not caption and not visible.strip():
        raise InvalidInput("broadcast_empty")
    if telegram_length(visible) > limit:
        raise InvalidInput("broadcast_too_long", max=limit)
    return text


@dataclass(frozen=True)
class BroadcastContent:
    """What the members get: HTML text, or a photo or document with an HTML caption."""

    text: str
    media_kind: str | None = None
    media_file_id: str | None = None


def validate_content(
    text: str, *, media_kind: str | None = None, media_file_id: str | None = None
) -> BroadcastContent:
    if media_kind is None:
        return BroadcastContent(validate_html(text, limit=TEXT_MAX - LABEL_BUDGET))
    if media_kind not in set(MediaKind) or not media_file_id or len(media_file_id) > FILE_ID_MAX:
        raise InvalidInput("broadcast_media")
    return BroadcastContent(
        validate_html(text, limit=CAPTION_MAX - LABEL_BUDGET, caption=True),
        media_kind,
        media_file_id,
    )


@dataclass(frozen=True)
class Sender:
    """Who a broadcast is from, for the label on every copy: the network (the bot's name in
    Telegram) and the organiser (their name)."""

    network: str
    organiser: str


def _short(name: str) -> str:
    name = " ".join(name.split())
    return name if len(name) <= NAME_IN_LABEL else name[: NAME_IN_LABEL - 1] + "…"


def label_html(t: Translator, sender: Sender) -> str:
    """The first line of a member's copy, in their language (Telegram HTML)."""
    return "<b>{}</b>".format(
        html.escape(
            t(
                "📣 {network} · from {organiser}",
                network=_short(sender.network),
                organiser=_short(sender.organiser),
            ),
            quote=False,
        )
    )


def labelled(content: BroadcastContent, t: Translator, sender: Sender | None) -> str:
    """The text (or caption) of a member's copy: the label, then the organiser's message."""
    if sender is None:
        return content.text
    return f"{label_html(t, sender)}\n\n{content.text}".strip()


def telegram_payload(
    content: BroadcastContent, chat_id: int, text: str | None = None
) -> dict[str, Any]:
    """The outbox payload of one recipient's message (see storage.outbox)."""
    payload: dict[str, Any] = {
        "chat_id": chat_id,
        "text": content.text if text is None else text,
        "parse_mode": PARSE_MODE,
        "buttons": None,
    }
    if content.media_kind is not None:
        payload[content.media_kind] = content.media_file_id
    return payload
