"""Keeps the event posts in the network's channels and groups true (see storage.channels.posts):
runs every minute and queues the edits that are due, coalesced."""

from __future__ import annotations

import datetime as dt
import logging

from samvirke.settings import Settings
from scheduler.digests import bot_username
from storage.channels import posts as channel_posts
from storage.uow import Database
from templates import channel_cards

log = logging.getLogger(f"samvirke.{__name__}")
SCHEDULE = "* * * * *"
_usernames: dict[str, str | None] = {}


async def _username(settings: Settings) -> str | None:
    """The bot's @username, asked once per process (None is asked again next time)."""
    key = settings.telegram_token.get_secret_value() if settings.telegram_token else ""
    if _usernames.get(key) is None:
        _usernames[key] = await bot_username(settings)
    return _usernames[key]


def links(settings: Settings, username: str | None) -> channel_cards.Links:
    return channel_cards.Links(
        bot_username=username,
        public_url=str(settings.public_url) if settings.public_url else None,
        language=settings.default_language,
    )


async def keep_posts_true(db: Database, settings: Settings, now: dt.datetime) -> int:
    post_links = links(settings, await _username(settings))
    queued = await channel_posts.sync(db.unit_of_work(), links=post_links, now=now)
    reminders = await channel_posts.queue_reminders(db.unit_of_work(), links=post_links, now=now)
    if queued or reminders:
        log.info("channel posts: %d edits, %d reminders queued", queued, reminders)
    return queued + reminders
