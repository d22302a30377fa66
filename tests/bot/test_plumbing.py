"""The bot's shared plumbing stays shared (issue 10 item 4): one PRIVATE filter, the sign-up
text written once, no ``# type: ignore`` in bot/, every button pattern read one way."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"


def _sources() -> dict[str, str]:
    return {str(p.relative_to(BOT)): p.read_text(encoding="utf-8") for p in BOT.rglob("*.py")}


def test_no_type_ignore_in_the_bot() -> None:
    assert [name for name, text in _sources().items() if "type: ignore" in text] == []


def test_private_chat_filter_and_sign_up_text_are_defined_once() -> None:
    sources = _sources()
    assert [n for n, text in sources.items() if "filters.ChatType.PRIVATE" in text] == [
        "ui/chat.py"
    ]
    assert [n for n, text in sources.items() if "Please sign up first" in text] == ["ui/texts.py"]


def test_every_button_pattern_is_made_by_callbacks_matching() -> None:
    """A raw pattern lets Unicode digits and ids beyond the database's integer through to a
    handler (issue 17 item 5); ``callbacks.matching`` refuses them before any handler runs."""
    raw = []
    for name, text in _sources().items():
        for node in ast.walk(ast.parse(text)):
            if not (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "CallbackQueryHandler"
            ):
                continue
            for keyword in node.keywords:
                value = keyword.value
                made = (
                    isinstance(value, ast.Call)
                    and isinstance(value.func, ast.Attribute)
                    and ast.unparse(value.func) == "callbacks.matching"
                )
                if keyword.arg == "pattern" and not made:
                    raw.append(f"{name}:{node.lineno}")
    assert raw == []
