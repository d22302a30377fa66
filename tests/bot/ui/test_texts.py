"""Every error code the system raises has its own localised message (issue 10 item 6): a new
code without one fails here instead of reaching a member as the generic apology."""

from __future__ import annotations

import ast
from pathlib import Path

from bot.ui.texts import ERROR_MESSAGES, error_text
from storage.errors import InvalidInput
from templates.i18n import translator

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("storage", "bot", "scheduler", "samvirke")


def _trees() -> list[ast.Module]:
    return [
        ast.parse(path.read_text(encoding="utf-8"))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


def _error_classes(trees: list[ast.Module]) -> dict[str, str | None]:
    """DomainError and every class deriving from it, with its own ``code`` (if it sets one)."""
    classes = [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    found: dict[str, str | None] = {"DomainError": None}
    grew = True
    while grew:
        grew = False
        for cls in classes:
            bases = {b.id for b in cls.bases if isinstance(b, ast.Name)}
            if cls.name not in found and bases & found.keys():
                found[cls.name] = next(
                    (
                        stmt.value.value
                        for stmt in cls.body
                        if isinstance(stmt, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == "code" for t in stmt.targets)
                        and isinstance(stmt.value, ast.Constant)
                        and isinstance(stmt.value.value, str)
                    ),
                    None,
                )
                grew = True
    return found


def raised_codes() -> set[str]:
    """The codes in ``InvalidInput("code")``-style calls, and the class codes of errors raised
    without one, across the sources."""
    trees = _trees()
    classes = _error_classes(trees)
    codes: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in classes
            ):
                continue
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                codes.add(first.value)
            elif first is None and classes[node.func.id]:
                codes.add(str(classes[node.func.id]))
    return codes


def test_the_scan_finds_the_codes() -> None:
    codes = raised_codes()
    # Examples from storage, the bot itself, a subclass with its own code, a LimitExceeded.
    assert {"title_empty", "own_listing", "resend_too_soon", "balance_below_minimum"} <= codes


def test_every_raised_code_has_a_message() -> None:
    missing = sorted(raised_codes() - ERROR_MESSAGES.keys())
    assert missing == []


def test_the_formerly_missing_codes_are_not_the_generic_text() -> None:
    t = translator("da")
    generic = t("Sorry, that did not work. Please try again.")
    for code in ("answer_unknown", "broadcast_draft", "broadcast_unknown", "field_unknown"):
        assert error_text(t, InvalidInput(code)) != generic
    assert error_text(t, InvalidInput("period_unknown")) == "Denne knap virker ikke længere."
