"""A Telegram outbox row as the message it stands for (``TelegramMessage``: its payload checked,
then sent or, for an event's post in a chat, edited), and what a failed send means
(``classify``: unreachable, failed for good, or worth a retry)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    TelegramError,
)

log = logging.getLogger("samvirke.scheduler.telegram.delivery")  # the delivery's log

# 400 answers that mean the chat cannot be reached (rather than a malformed message).
UNREACHABLE_400 = ("chat not found", "user not found", "peer_id_invalid", "user is deactivated")


# --- what a failure means ----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """``kind``: "unreachable", "failed" (permanent) or "retry". ``error`` may quote the Bot
    API's description (kept in ``last_error``); ``reason`` is safe to log."""

    kind: str
    error: str
    reason: str


def classify(exc: BaseException) -> Outcome:
    name = type(exc).__name__
    message = str(exc)
    if isinstance(exc, Forbidden):
        return Outcome("unreachable", f"403 {message}", name)
    if isinstance(exc, BadRequest):
        if any(marker in message.lower() for marker in UNREACHABLE_400):
            return Outcome("unreachable", f"400 {message}", name)
        return Outcome("failed", f"400 {message}", name)
    if isinstance(exc, ChatMigrated):
        return Outcome("failed", f"chat migrated: {message}", name)
    if isinstance(exc, InvalidToken):
        log.error("telegram delivery: the Bot API refused the token")
        return Outcome("retry", "the Bot API refused the token", name)
    if isinstance(exc, TelegramError | OSError | TimeoutError):
        return Outcome("retry", f"{name}: {message}", name)
    return Outcome("retry", f"{name}: {message}", name)


class PayloadError(ValueError):
    """An outbox row that cannot become a Telegram message (erased, malformed)."""


def _markup(buttons: Any) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    rows = []
    for row in buttons:
        keys = []
        for spec in row:
            if "url" in spec:
                keys.append(InlineKeyboardButton(str(spec["text"]), url=str(spec["url"])))
            else:
                keys.append(
                    InlineKeyboardButton(
                        str(spec["text"]), callback_data=str(spec["callback_data"])
                    )
                )
        rows.append(keys)
    return InlineKeyboardMarkup(rows)


@dataclass(frozen=True)
class TelegramMessage:
    """A Telegram outbox payload, checked (see storage.outbox)."""

    chat_id: int
    text: str
    parse_mode: str | None
    markup: InlineKeyboardMarkup | None
    photo: str | None
    document: str | None
    # An event's post in a channel or group (storage.channels.posts): ``message_id`` to edit
    # that message instead of sending one; ``post_id`` to note the id of the message sent.
    message_id: int | None = None
    post_id: int | None = None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> TelegramMessage:
        try:
            chat_id = int(payload["chat_id"])
            text = str(payload.get("text") or "")
            parse_mode = payload.get("parse_mode")
            markup = _markup(payload.get("buttons"))
            message_id = int(payload["message_id"]) if payload.get("message_id") else None
            post_id = int(payload["post_id"]) if payload.get("post_id") else None
        except (KeyError, TypeError, ValueError) as exc:
            raise PayloadError(f"not a Telegram message: {type(exc).__name__}") from None
        photo, document = payload.get("photo"), payload.get("document")
        if not text and not photo and not document:
            raise PayloadError("nothing to send")
        return cls(
            chat_id,
            text,
            str(parse_mode) if parse_mode else None,
            markup,
            str(photo) if photo else None,
            str(document) if document else None,
            message_id,
            post_id,
        )

    async def send(self, bot: Bot) -> int | None:
        """Send (or edit) it; the id of the message, when Telegram gave one."""
        if self.message_id is not None:
            try:
                await bot.edit_message_text(
                    self.text,
                    chat_id=self.chat_id,
                    message_id=self.message_id,
                    parse_mode=self.parse_mode,
                    reply_markup=self.markup,
                )
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():  # the same text is no failure
                    raise
            return self.message_id
        if self.photo:
            await bot.send_photo(
                self.chat_id,
                self.photo,
                caption=self.text or None,
                parse_mode=self.parse_mode,
                reply_markup=self.markup,
            )
        elif self.document:
            await bot.send_document(
                self.chat_id,
                self.document,
                caption=self.text or None,
                parse_mode=self.parse_mode,
                reply_markup=self.markup,
            )
        else:
            sent = await bot.send_message(
                self.chat_id, self.text, parse_mode=self.parse_mode, reply_markup=self.markup
            )
            return sent.message_id
        return None
