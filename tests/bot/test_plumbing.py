"""The bot's shared plumbing stays shared (issue 10 item 4): one PRIVATE filter, the sign-up
text written once, no ``# type: ignore`` in bot/."""

from __future__ import annotations

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
