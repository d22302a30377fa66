"""When the digests are built: the periodic job and ``samvirke send-digests``.

What a digest says and for whom is ``storage/digests/``; how it looks, ``templates/mail/digest.*``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Sequence

from samvirke.settings import Settings
from storage.digests import runs as digests
from storage.digests import unsubscribe
from storage.digests.sections import Sections
from storage.models import DigestFrequency
from storage.uow import Database

log = logging.getLogger(f"samvirke.{__name__}")

FREQUENCIES = (DigestFrequency.WEEKLY, DigestFrequency.MONTHLY)


async def build_digests(
    db: Database,
    settings: Settings,
    *,
    now: dt.datetime,
    frequencies: Sequence[str] = FREQUENCIES,
    dry_run: bool = False,
    bot_username: str | None = None,
    sections: Sections | None = None,
) -> list[digests.DigestRun]:
    """Queue (or, dry, count) the current period's digests; a second run queues nothing new."""
    key = settings.signing_key()
    runs = []
    for frequency in frequencies:
        run = await digests.build(
            db.unit_of_work,
            frequency=frequency,
            now=now,
            tz=settings.tz,
            unsubscribe_token=lambda member_id: unsubscribe.make_token(key, member_id),
            dry_run=dry_run,
            bot_username=bot_username,
            sections=sections,
        )
        log.info(
            "digests %s %s: %d %s, %d queued before, %d with nothing to say",
            run.frequency,
            run.period,
            sum(run.by_language_and_region.values()),
            "would go (dry run)" if dry_run else "queued",
            run.already_queued,
            run.nothing_to_say,
        )
        runs.append(run)
    return runs


async def bot_username(settings: Settings) -> str | None:
    """The bot's @username (for links that open an event in the bot), None if unknown."""
    if settings.telegram_token is None:
        return None
    from scheduler.telegram.delivery import make_bot

    bot = make_bot(settings, connections=1)
    try:
        await bot.initialize()
    except Exception as error:  # the digest goes out without links rather than not at all
        log.warning("digest: cannot ask the Bot API for the bot's name: %s", type(error).__name__)
        return None
    else:
        return bot.username
    finally:
        with contextlib.suppress(Exception):
            await bot.shutdown()


def describe(runs: Sequence[digests.DigestRun], *, dry_run: bool) -> str:
    """What ``samvirke send-digests`` prints: per frequency, and per language and region."""
    lines = []
    for run in runs:
        count = sum(run.by_language_and_region.values())
        verb = "would go" if dry_run else "queued"
        lines.append(
            f"{run.frequency} digest for {run.period}: {count} mail(s) {verb}"
            f" ({run.already_queued} queued before, {run.nothing_to_say} with nothing to say)"
        )
        for (language, region), n in sorted(run.by_language_and_region.items()):
            lines.append(f"  {language}  {region or '(no region)'}: {n}")
    return "\n".join(lines)
