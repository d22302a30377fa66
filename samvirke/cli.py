"""The ``samvirke`` command line."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from samvirke import report
from samvirke.settings import ConfigurationError, Settings, load_settings

log = logging.getLogger("samvirke")


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser(
        "run",
        help="migrate the database, then run the bot, the scheduler and the HTTP server",
        description="Migrate the database, then run the bot (long polling, or a webhook when "
        "SAMVIRKE_PUBLIC_URL is set), the mail delivery and the HTTP server in one process. "
        "Needs SAMVIRKE_TELEGRAM_TOKEN.",
    )


def _add_migrate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    migrate = sub.add_parser(
        "migrate",
        help="apply database migrations and exit",
        description="Apply the database migrations (Alembic) to SAMVIRKE_DATABASE_URL and exit.",
    )
    migrate.add_argument(
        "--dry-run", action="store_true", help="only list the migrations that would run"
    )


def _add_doctor(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = sub.add_parser(
        "doctor",
        help="check the configuration, database, mail, Bot API and public URL",
        description="Check everything that is configured, one line per check with what to do "
        "when it fails: settings, database and migrations, disk space and permissions, SMTP "
        "(connect, EHLO, TLS, login; sends nothing), the Bot API (token, webhook), "
        "SAMVIRKE_PUBLIC_URL, the time zone and SAMVIRKE_MAIL_FROM. Exit status 1 when a check "
        "fails. Secrets are never printed.",
    )
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")


def _add_backup(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser(
        "backup",
        help="make a consistent copy of the database while Samvirke runs",
        description="Copy the database while the bot runs: SQLite with its online backup API, "
        "PostgreSQL with pg_dump (from postgresql-client). The file is named with the date "
        "and time (samvirke-YYYYMMDD-HHMMSS.db or .dump) and readable only by its owner.",
    )
    backup.add_argument(
        "--output",
        metavar="FILE",
        help="the file, or a folder to put the dated file in (default: var/backups/ beside "
        "a SQLite database, ./var/backups/ for PostgreSQL)",
    )
    backup.add_argument(
        "--keep",
        type=int,
        metavar="N",
        help="afterwards delete all but the newest N dated backups in that folder",
    )


def _add_restore(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    restore = sub.add_parser(
        "restore",
        help="replace the database with a backup and migrate it",
        description="Replace the contents of SAMVIRKE_DATABASE_URL with a backup made by "
        "`samvirke backup`, then apply the migrations the backup is missing. Stop Samvirke "
        "first. Refuses a database that holds members or events unless --force is given.",
    )
    restore.add_argument("file", type=Path, metavar="FILE", help="the backup file")
    restore.add_argument("--force", action="store_true", help="replace a database that holds data")


def _add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser(
        "worker",
        help="run only the scheduler and outbox delivery",
        description="Run only the scheduler: the periodic jobs (digests, reminders, timebank "
        "expiry, outbox sweeper) and the outbox delivery (mail and Telegram messages), e.g. "
        "beside a bot running elsewhere. Several workers never send the same message twice.",
    )


def _add_send_digests(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="samvirke",
        description="Samvirke: the Telegram bot and background jobs of a social-innovation "
        "network. Configured with SAMVIRKE_* environment variables or a .env file.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (_add_run, _add_migrate, _add_doctor, _add_backup, _add_restore, _add_worker):
        add(sub)
    _add_send_digests(sub)
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


def _migrate_apart() -> None:
    """``samvirke migrate`` as a child process, for the commands that then run for days (``run``,
    ``worker``): what the migration imports (Alembic, Mako, Pygments: about 8 MB) is not kept
    in their memory. The child reads the same environment and ``.env``."""
    child = subprocess.run([sys.executable, "-m", "samvirke.cli", "migrate"], check=False)
    if child.returncode != 0:
        raise SystemExit(child.returncode)


def _doctor(as_json: bool) -> int:
    from samvirke import doctor

    try:
        settings = load_settings()
    except ConfigurationError as error:
        checks = [doctor.settings_failure(str(error))]
    else:
        checks = asyncio.run(doctor.run_checks(settings))
    print(doctor.report(checks, as_json=as_json))
    return 1 if doctor.failed(checks) else 0


def _dry_run(settings: Settings) -> int:
    from storage.migrate import pending_for

    try:
        todo = pending_for(settings.database_url)
    except Exception as error:
        raise SystemExit(
            f"samvirke: cannot read the database at SAMVIRKE_DATABASE_URL: {type(error).__name__}"
        ) from None
    if not todo:
        print("The database is up to date: no migration would run.")
    for revision in todo:
        print(f"would apply {revision.revision}: {revision.doc}")
    return 0


def _backup(settings: Settings, output: str | None, keep: int | None) -> int:
    from samvirke.backup import BackupError, backup, prune

    if keep is not None and keep < 1:
        raise SystemExit("samvirke: --keep needs a number of backups, 1 or more")
    try:
        made = backup(settings.database_url, output, now=dt.datetime.now(dt.UTC))
    except BackupError as error:
        raise SystemExit(f"samvirke: backup failed: {error}") from None
    print(f"backup written to {made} ({made.stat().st_size} bytes)")
    if keep is not None:
        for old in prune(made.parent, keep, made.suffix):
            print(f"deleted old backup {old}")
    return 0


def _restore(settings: Settings, file: Path, force: bool) -> int:
    from samvirke.backup import BackupError, restore

    try:
        migrated = restore(settings.database_url, file, force=force)
    except BackupError as error:
        raise SystemExit(f"samvirke: restore refused: {error}") from None
    extra = f", then applied {migrated} migration(s)" if migrated else ""
    print(f"restored {file}{extra}")
    return 0


def _run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    if args.dry_run:
        return _dry_run(settings)
    _migrate(settings)
    return 0


def _run(_args: argparse.Namespace, settings: Settings) -> int:
    if settings.telegram_token is None:
        raise SystemExit(
            "samvirke: set SAMVIRKE_TELEGRAM_TOKEN to the bot token from @BotFather "
            "(in the environment or in a .env file)"
        )
    _migrate_apart()
    from telegram.error import InvalidToken, NetworkError

    from samvirke import runtime

    try:
        asyncio.run(runtime.run(settings))
    except InvalidToken:
        raise SystemExit(
            "samvirke: the Bot API refused SAMVIRKE_TELEGRAM_TOKEN; check the token from @BotFather"
        ) from None
    except NetworkError as error:
        raise SystemExit(
            f"samvirke: cannot reach the Bot API at SAMVIRKE_TELEGRAM_API_URL "
            f"({settings.api_base}): {error}"
        ) from None
    except OSError as error:
        raise SystemExit(
            f"samvirke: cannot listen on SAMVIRKE_HTTP_PORT {settings.http_port}: {error.strerror}"
        ) from None
    return 0


def _send_digests(args: argparse.Namespace, settings: Settings) -> int:
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


def _report(args: argparse.Namespace, settings: Settings) -> int:
    _migrate(settings)
    return report.run(args, settings)


def _worker(_args: argparse.Namespace, settings: Settings) -> int:
    _migrate_apart()
    from samvirke import runtime

    asyncio.run(runtime.worker(settings))
    return 0


# The commands that need the settings (``doctor`` reports a configuration error instead).
COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "migrate": _run_migrate,
    "backup": lambda args, settings: _backup(settings, args.output, args.keep),
    "restore": lambda args, settings: _restore(settings, args.file, args.force),
    "run": _run,
    "send-digests": _send_digests,
    "report": _report,
    "worker": _worker,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "doctor":
        return _doctor(args.json)
    settings = _settings()
    from samvirke import logs

    secrets = [s.get_secret_value() for s in (settings.telegram_token, settings.smtp_password) if s]
    logs.configure(secrets=secrets, format=settings.log_format)
    command = COMMANDS.get(args.command)
    return command(args, settings) if command is not None else 2


if __name__ == "__main__":
    sys.exit(main())
