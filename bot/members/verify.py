"""Confirming an e-mail address: the member types the six-digit code, or asks for a new one."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler, filters

from bot.context import Context
from bot.members.menu import menu_markup, verify_keyboard
from bot.ui import callbacks
from bot.ui.chat import PRIVATE
from storage.members import verification
from storage.members.verification import CheckResult

CODE = filters.Regex(r"^\s*[0-9]{3}\s?[0-9]{3}\s*$") & PRIVATE


async def code_typed(update: Update, context: Context) -> None:
    t = context.t
    chat = update.effective_chat
    message = update.effective_message
    assert chat is not None
    assert message is not None
    member = context.member
    if member is None:
        await chat.send_message(t("Hello! Send /start to sign up."))
        return
    check = await verification.check(context.uow(), member.id, message.text or "", now=context.now)
    if check.result is CheckResult.VERIFIED:
        await chat.send_message(
            t("Thank you! {email} is confirmed. What would you like to do?", email=check.email),
            reply_markup=menu_markup(context),
        )
    elif check.result is CheckResult.WRONG:
        await chat.send_message(
            t.plural(
                "That code is not right. You can try {n} more time.",
                "That code is not right. You can try {n} more times.",
                check.tries_left,
            ),
            reply_markup=verify_keyboard(context),
        )
    elif check.result is CheckResult.EXPIRED:
        await chat.send_message(
            t("That code has expired. Press the button to get a new one."),
            reply_markup=verify_keyboard(context),
        )
    elif check.result is CheckResult.TOO_MANY_TRIES:
        wait = (check.locked_until or context.now) - context.now
        await chat.send_message(
            t.plural(
                "Too many wrong tries. You can try again in {n} minute.",
                "Too many wrong tries. You can try again in {n} minutes.",
                max(1, -(-int(wait.total_seconds()) // 60)),
            ),
            reply_markup=verify_keyboard(context),
        )
    else:
        await chat.send_message(t("There is no code waiting to be confirmed."))


async def resend(update: Update, context: Context) -> None:
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None
    assert chat is not None
    await query.answer()
    member = context.member
    if member is None:
        await chat.send_message(context.t("Hello! Send /start to sign up."))
        return
    email = await verification.resend(context.uow(), member.id, now=context.now)
    await chat.send_message(
        context.t.plural(
            "We have sent a new code to {email}. It is valid for {n} minute.",
            "We have sent a new code to {email}. It is valid for {n} minutes.",
            int(verification.CODE_LIFETIME.total_seconds() // 60),
            email=email,
        ),
        reply_markup=verify_keyboard(context),
    )


def handlers() -> list[BaseHandler[Update, Context, None]]:
    return [
        MessageHandler(CODE, code_typed),
        CallbackQueryHandler(resend, pattern=callbacks.matching(r"^verify:resend$")),
    ]
