"""Header values folded by the rules, whatever the text: RFC 5322 lines and RFC 2047 words.

``email.header.Header`` flattened at 78 characters can write an encoded word of 76 characters
(RFC 2047 allows 75) for long non-ASCII subjects. Here every header this system writes is folded
by hand and handed to the ``compat32`` generator ready-made (see :class:`Folded`):

* non-ASCII text becomes UTF-8 base64 encoded words of at most 75 characters, each holding whole
  characters, one per line (decoders join adjacent encoded words without the space between);
* every line, the header's name included, stays within 78 characters; a structured value that
  cannot be folded there (a very long address or link) stays within the hard limit of 998.
"""

from __future__ import annotations

import base64

MAX_WORD = 75  # RFC 2047: an encoded word is at most 75 characters
MAX_LINE = 78  # RFC 5322: SHOULD
HARD_LINE = 998  # RFC 5322: MUST
_PREFIX = "=?utf-8?b?"
_SUFFIX = "?="
_FOLD = "\r\n "


class Folded:
    """A header value already folded; the ``compat32`` generator takes it as a Header-like
    object and writes it as it is (``encode`` is the method it calls)."""

    def __init__(self, folded: str, text: str) -> None:
        self.folded = folded
        self.text = text  # the value as a reader sees it

    def encode(self, linesep: str = "\n", maxlinelen: int | None = None) -> str:
        return self.folded.replace("\r\n", linesep)

    def __str__(self) -> str:
        return self.text


def _room(used: int) -> int:
    """Bytes of text an encoded word may carry on a line that already holds ``used`` chars."""
    width = min(MAX_WORD, MAX_LINE - used) - len(_PREFIX) - len(_SUFFIX)
    return max(width // 4, 1) * 3


def encoded_words(text: str, used: int) -> list[str]:
    """``text`` as UTF-8 base64 encoded words; the first shares its line with ``used``
    characters, each further one gets a line of its own (after one space)."""
    words: list[str] = []
    chunk = b""
    room = _room(used)
    for character in text:
        data = character.encode()
        if chunk and len(chunk) + len(data) > room:
            words.append(_PREFIX + base64.b64encode(chunk).decode("ascii") + _SUFFIX)
            chunk, room = b"", _room(1)
        chunk += data
    words.append(_PREFIX + base64.b64encode(chunk).decode("ascii") + _SUFFIX)
    return words


def fold_words(words: list[str], used: int) -> str:
    """Join ``words`` with spaces, starting a new line before one that would pass 78. A word
    longer than a line (a long link) stays alone on its line (the first one beside the
    header's name), within the hard limit of 998."""
    lines: list[str] = []
    line = ""
    for word in words:
        width = used + len(line) + 1 + len(word) if line else used + len(word)
        if width > MAX_LINE and line:
            lines.append(line)
            line, used = word, 1
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    folded = _FOLD.join(lines)
    if any(len(line) + 1 > HARD_LINE - used for line in lines):
        raise ValueError("a header value has a word longer than a mail line may be")
    return folded


def _plain_fits(text: str, used: int) -> bool:
    """ASCII text that folds at its spaces within 78 characters and cannot be mistaken for
    encoded words."""
    if not text.isascii() or "=?" in text or not text.isprintable() or text != text.strip():
        return False
    return all(len(word) + 1 <= MAX_LINE - 1 for word in text.split(" ")) and (
        len(text.split(" ")[0]) + used <= MAX_LINE
    )


def _check(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("line break in a header value")
    return value


def unstructured(name: str, text: str) -> Folded:
    """A text header such as Subject: plain when it folds, otherwise encoded words."""
    used = len(name) + 2
    _check(text)
    if not text or (_plain_fits(text, used) and "  " not in text):
        return Folded(fold_words(text.split(" "), used) if text else "", text)
    return Folded(_FOLD.join(encoded_words(text, used)), text)


def mailbox(name: str, display_name: str, addr_spec: str) -> Folded:
    """``Display Name <address>``: an ASCII name quoted where needed, any other name encoded."""
    _check(display_name)
    _check(addr_spec)
    used = len(name) + 2
    address = f"<{addr_spec}>"
    text = f"{display_name} {address}" if display_name else address
    if not display_name:
        return Folded(fold_words([address], used), text)
    if _plain_fits(display_name, used):
        words = _quoted(display_name).split(" ")
        if all(len(word) <= MAX_LINE - 1 for word in words):
            return Folded(fold_words([*words, address], used), text)
    return Folded(fold_words([*encoded_words(display_name, used), address], used), text)


_ATEXT_SPECIALS = set("!#$%&'*+-/=?^_`{|}~ ")


def _quoted(display_name: str) -> str:
    """An ASCII display name as RFC 5322 phrase: atoms as they are, otherwise quoted."""
    if all(c.isalnum() or c in _ATEXT_SPECIALS for c in display_name):
        return display_name
    escaped = display_name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def structured(name: str, value: str) -> Folded:
    """An ASCII structured value (a list of links): folded after its commas and spaces."""
    _check(value)
    if not value.isascii():
        raise ValueError("a structured header value must be ASCII")
    return Folded(fold_words(value.split(" "), len(name) + 2), value)
