"""The ``samvirke`` command line."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import sys
from collections.abc import Sequence

from samvirke import report
from samvirke.settings import ConfigurationError, Settings, load_settings

log = logging.getLogger("samvirke")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="samvirke",
        description="Samvirke: the Telegram bot and background jobs of a social-innovation "
        "network. Configured with SAMVIRKE_* environment variables or a .env file.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser(
        "run",
        help="migrate the database, then run the bot, the scheduler and the HTTP server",
        description="Migrate the database, then run the bot (long polling, or a webhook when "
        "SAMVIRKE_PUBLIC_URL is set), the mail delivery and the HTTP server in one process. "
        "Needs SAMVIRKE_TELEGRAM_TOKEN.",
    )
    sub.add_parser(
        "migrate",
        help="apply database migrations and exit",
        description="Apply the database migrations (Alembic) to SAMVIRKE_DATABASE_URL and exit.",
    )
    sub.add_parser(
        "worker",
        help="run only the scheduler and outbox delivery",
        description="Run only the scheduler: the periodic jobs (digests, reminders, timebank "
        "expiry, outbox sweeper) and the outbox delivery (mail and Telegram messages), e.g. "
        "beside a bot running elsewhere. Several workers never send the same message twice.",
    )
    digests = sub.add_parser(
        "send-digests",
        help="build and queue this period's digests now",
        description="Build and queue the current period's digest for every verified member "
        "whose newsletter is weekly or monthly (a member with nothing to read gets none). "
        "Running it twice in one period queues nothing new.",
    )
    digests.add_argument(
        "--dry-run",
        action="store_true",
        help="only print how many mails would go, per language and region; send nothing",
    )
    digests.add_argument(
        "--frequency",
        choices=["weekly", "monthly"],
        action="append",
        help="only this frequency (default: both)",
    )
    report.add_parser(sub)
    return parser


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as error:
        raise SystemExit(f"samvirke: configuration error: {error}") from None


def _migrate(settings: Settings) -> None:
    from storage.migrate import upgrade

    try:
        upgrade(settings.database_url)
    except Exception as error:  # a database that cannot be reached: one line, not a traceback
        raise SystemExit(
            f"samvirke: cannot migrate the database at SAMVIRKE_DATABASE_URL: "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        ) from None
    log.info("database is up to date")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = _settings()
    from samvirke import logs

    secrets = [s.get_secret_value() for s in (settings.telegram_token, settings.smtp_password) if s]
    logs.configure(secrets=secrets)
    if args.command == "migrate":
        _migrate(settings)
        return 0
    if args.command == "run":
        if settings.telegram_token is None:
            raise SystemExit(
                "samvirke: set SAMVIRKE_TELEGRAM_TOKEN to the bot token from @BotFather "
                "(in the environment or in a .env file)"
            )
        _migrate(settings)
        from telegram.error import InvalidToken, NetworkError

        from samvirke import runtime

        try:
            asyncio.run(runtime.run(settings))
        except InvalidToken:
            raise SystemExit(
                "samvirke: the Bot API refused SAMVIRKE_TELEGRAM_TOKEN; check the token from "
                "@BotFather"
            ) from None
        except NetworkError as error:
            raise SystemExit(
                f"samvirke: cannot reach the Bot API at SAMVIRKE_TELEGRAM_API_URL "
                f"({settings.api_base}): {error}"
            ) from None
        except OSError as error:
            raise SystemExit(
                f"samvirke: cannot listen on SAMVIRKE_HTTP_PORT {settings.http_port}: "
                f"{error.strerror}"
            ) from None
        return 0
    if args.command == "send-digests":
        _migrate(settings)
        from scheduler import digests
        from storage.uow import Database

        async def send() -> str:
            db = Database(settings.database_url)
            try:
                runs = await digests.build_digests(
                    db,
                    settings,
                    now=dt.datetime.now(dt.UTC),
                    frequencies=args.frequency or digests.FREQUENCIES,
                    dry_run=args.dry_run,
                    bot_username=None if args.dry_run else await digests.bot_username(settings),
                )
            finally:
                await db.dispose()
            return digests.describe(runs, dry_run=args.dry_run)

        try:
            print(asyncio.run(send()))
        except ConfigurationError as error:
            raise SystemExit(f"samvirke: configuration error: {error}") from None
        return 0
    if args.command == "report":
        _migrate(settings)
        return report.run(args, settings)
    if args.command == "worker":
        _migrate(settings)
        from samvirke import runtime

        asyncio.run(runtime.worker(settings))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
