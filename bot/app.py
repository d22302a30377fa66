"""Builds the python-telegram-bot Application: handlers, persistence, error handler, menu."""

from __future__ import annotations

import warnings
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, TypeHandler
from telegram.request import BaseRequest
from telegram.warnings import PTBUserWarning

from bot import commands
from bot.broadcasts import compose as broadcast
from bot.channels import manage as channels
from bot.channels import posts as channel_posts
from bot.context import CONTEXT_TYPES, AppType, Services, load_viewer
from bot.errors import on_error
from bot.events import attendees, walk_ins
from bot.events import browse as events
from bot.events import create as new_event
from bot.events import followup as event_followup
from bot.events import manage as manage_event
from bot.events import materials as event_materials
from bot.events import report as event_report
from bot.events import stats as event_stats
from bot.inline import share as inline_share
from bot.members import admin, menu, preferences, privacy, profile, signup, verify
from bot.ordering import OrderedUpdateProcessor
from bot.people import directory as people
from bot.people import introductions, membership
from bot.people import participants as people_participants
from bot.people import stats as people_stats
from bot.people import topics as people_topics
from bot.persistence import DatabasePersistence
from bot.timebank import overview as timebank
from bot.ui.guards import private_only
from samvirke.logs import quiet_noisy_libraries
from scheduler.telegram.botcalls import SharedRateLimiter
from scheduler.telegram.ratelimit import RateLimiter
from templates import channel_cards

VIEWER_GROUP = -3
GATE_GROUP = -2  # after the viewer is known, before any feature
MEMBERSHIP_GROUP = -1  # after the gate: waiting members (approval mode) are held here
CHANNELS_GROUP = 1  # the bot's own place in channels and groups (bot.channels.manage)


def _handlers(admins: frozenset[int]) -> list[Any]:
    # Conversations come first: while a member is in one, it gets their messages. The last
    # resort handlers answer whatever nothing else took.
    with warnings.catch_warnings():
        # per_message=False is what we want: a conversation follows the person, not a message.
        warnings.filterwarnings("ignore", category=PTBUserWarning, message=".*per_message.*")
        conversations = [signup.handler(admins), *profile.handlers(), broadcast.handler()]
        conversations += [new_event.handler(), manage_event.handler()]
        conversations += timebank.conversations()
        conversations.append(introductions.conversation())
        conversations += [event_followup.conversation(), event_materials.conversation()]
        conversations.append(walk_ins.handler())
    return [
        *conversations,
        *menu.handlers(),
        *verify.handlers(),
        *preferences.handlers(),
        *privacy.handlers(),
        *admin.handlers(),
        *events.handlers(),
        *attendees.handlers(),
        *walk_ins.handlers(),
        *event_stats.handlers(),
        *event_report.handlers(),
        *event_followup.handlers(),
        *event_materials.handlers(),
        *broadcast.handlers(),
        *channels.handlers(),
        *channel_posts.handlers(),
        *inline_share.handlers(),
        *timebank.handlers(),
        *people.handlers(),
        *membership.handlers(),
        *people_stats.handlers(),
        *people_participants.handlers(),
        *introductions.handlers(),
        *people_topics.handlers(),
        *menu.last_resort_handlers(),
    ]


async def _post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data["services"]
    await commands.register_defaults(application.bot, services.settings.default_language)
    await commands.register_admins(application.bot, services)


def build_application(
    services: Services,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    persistence_interval: float = 1.0,
    limiter: RateLimiter | None = None,
) -> AppType:
    """The bot, talking to ``SAMVIRKE_TELEGRAM_API_URL`` for every call and file download.

    With a ``limiter`` (``samvirke run`` passes the one the outbox uses) every Bot API call
    the handlers make keeps to Telegram's limits and waits out a 429."""
    settings = services.settings
    quiet_noisy_libraries()
    if settings.telegram_token is None:
        raise ValueError("SAMVIRKE_TELEGRAM_TOKEN is not set")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token.get_secret_value())
        .base_url(f"{settings.api_base}/bot")
        .base_file_url(f"{settings.api_base}/file/bot")
        .context_types(CONTEXT_TYPES)
        .persistence(
            DatabasePersistence(
                services.db, clock=services.clock, update_interval=persistence_interval
            )
        )
        .post_init(_post_init)
        .concurrent_updates(OrderedUpdateProcessor(settings.concurrent_updates))
    )
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    if limiter is not None:
        builder = builder.rate_limiter(SharedRateLimiter(limiter))
    application: AppType = builder.build()
    application.bot_data["services"] = services
    application.add_handler(TypeHandler(Update, load_viewer), group=VIEWER_GROUP)
    # The answer buttons under an event's post in a group are made for the group.
    gate = private_only(group_safe=(channel_cards.CALLBACK_PREFIX,))
    application.add_handler(CallbackQueryHandler(gate), group=GATE_GROUP)
    application.add_handler(membership.guard_handler(), group=MEMBERSHIP_GROUP)
    application.add_handlers(_handlers(settings.admins))
    application.add_handlers(channels.membership_handlers(), group=CHANNELS_GROUP)
    application.add_error_handler(on_error)
    return application
