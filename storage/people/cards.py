"""A member's card and contact as text in the reader's language (the bot and the notices that
go through the outbox show the same). Cards are HTML (names and lines are escaped)."""

from __future__ import annotations

import html

from storage.models import Member, Sector
from storage.people.directory import Card
from templates.i18n import N_, Translator

# The same words as the sign-up's sector labels (one translation serves both).
SECTOR_NAMES: dict[str, str] = {
    Sector.CIVIL_SOCIETY: N_("Civil society"),
    Sector.PUBLIC: N_("Public sector (municipality or region)"),
    Sector.BUSINESS: N_("Business"),
    Sector.FOUNDATION: N_("Foundation"),
    Sector.ACADEMIA: N_("University or research"),
}


def sector_name(t: Translator, sector: str | None) -> str:
    return t(SECTOR_NAMES[sector]) if sector in SECTOR_NAMES else "–"


def card_text(t: Translator, card: Card) -> str:
    lines = [f"<b>{html.escape(card.name or t('a former member'))}</b>"]
    about = [p for p in (card.organisation, sector_name(t, card.sector), card.region_name) if p]
    lines.append(html.escape(" · ".join(about)))
    if card.can_help:
        lines.append(t("I can help with: {text}", text=html.escape(card.can_help)))
    if card.looking_for:
        lines.append(t("I am looking for: {text}", text=html.escape(card.looking_for)))
    if card.topics:
        names = ", ".join(html.escape(topic.name(t.language)) for topic in card.topics)
        lines.append(t("Topics: {topics}", topics=names))
    return "\n".join(lines)


def telegram_link(member: Member) -> str:
    """A link that opens a Telegram chat with the member."""
    if member.telegram_username:
        return f"https://t.me/{member.telegram_username}"
    return f"tg://user?id={member.telegram_user_id}"


def contact_text(t: Translator, member: Member, *, share_email: bool) -> str:
    name = html.escape(member.name or t("a former member"))
    text = f'<a href="{html.escape(telegram_link(member))}">{name}</a>'
    if member.telegram_username:
        text += f" (@{html.escape(member.telegram_username)})"
    if share_email and member.email and member.email_verified_at is not None:
        text += "\n" + t("E-mail: {email}", email=html.escape(member.email))
    return text
