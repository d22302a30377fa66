"""``samvirke doctor``: one line per check of what is configured, with what to do when it fails.

Nothing is sent (no mail, no message); secrets never appear in a line (only exception types
and texts written here). ``fail`` makes the exit status non-zero; ``warn`` does not.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import aiohttp
import aiosmtplib
from sqlalchemy import text
from sqlalchemy.engine import make_url

from samvirke.http import WEBHOOK_PATH
from samvirke.settings import Settings
from storage.uow import Database

Status = Literal["ok", "warn", "fail", "skip"]
MIN_FREE_BYTES = 200 * 1024 * 1024
LOW_FREE_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    message: str
    hint: str = ""  # what to do (empty when nothing is to be done)

    def line(self) -> str:
        mark = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "--  "}[self.status]
        hint = f" -> {self.hint}" if self.hint and self.status in ("warn", "fail") else ""
        return f"{mark} {self.name}: {self.message}{hint}"


def _kind(error: BaseException) -> str:
    """An exception as its type (its text may hold a URL with the token, or a password)."""
    return type(error).__name__


async def check_database(settings: Settings) -> list[Check]:
    from storage.migrate import pending

    database = Database(settings.database_url)
    url = make_url(settings.database_url)
    where = f"{url.get_backend_name()} {url.host or url.database or ''}".strip()
    try:
        async with asyncio.timeout(15):
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            todo = await pending(database.engine)
    except Exception as error:
        return [
            Check(
                "database",
                "fail",
                f"cannot connect to {where} ({_kind(error)})",
                "check SAMVIRKE_DATABASE_URL, that the server runs and the user may log in",
            )
        ]
    finally:
        await database.dispose()
    checks = [Check("database", "ok", f"reachable ({where})")]
    if todo:
        names = ", ".join(rev.revision for rev in todo)
        checks.append(
            Check(
                "migrations",
                "fail",
                f"{len(todo)} pending ({names})",
                "run `samvirke migrate` (`samvirke run` migrates at start)",
            )
        )
    else:
        checks.append(Check("migrations", "ok", "current"))
    return checks


def _folder_check(name: str, folder: Path, what: str) -> Check:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        return Check(
            name,
            "fail",
            f"{what} {folder} is not writable by this user",
            f"chown the folder to the service's user (e.g. `chown -R samvirke: {folder}`)",
        )
    free = shutil.disk_usage(probe).free
    if free < MIN_FREE_BYTES:
        return Check(name, "fail", f"{free // 2**20} MiB free at {folder}", "free disk space")
    if free < LOW_FREE_BYTES:
        return Check(name, "warn", f"{free // 2**20} MiB free at {folder}", "free disk space soon")
    return Check(name, "ok", f"{folder} writable, {free // 2**30} GiB free")


def check_storage(settings: Settings) -> list[Check]:
    checks = []
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database).absolute()
        check = _folder_check("data folder", database.parent, "the database's folder")
        if check.status == "ok" and database.exists() and database.stat().st_mode & 0o077:
            check = Check(
                "data folder",
                "warn",
                f"{database.name} is readable by other users",
                f"`chmod 600 {database}`",
            )
        checks.append(check)
    if settings.smtp_host is None:
        checks.append(_folder_check("mail folder", settings.mail_dir.absolute(), "mail folder"))
    return checks


async def check_smtp(settings: Settings, *, tls_context: ssl.SSLContext | None = None) -> Check:
    from scheduler.mail.transports import SmtpTransport

    if settings.smtp_host is None:
        return Check(
            "smtp",
            "warn",
            f"no SMTP host: mail is written as files to {settings.mail_dir}",
            "set SAMVIRKE_SMTP_HOST (and _USERNAME, _PASSWORD) to send real mail",
        )
    transport = SmtpTransport.from_settings(settings, timeout=10, tls_context=tls_context)
    where = transport.description
    client = transport.client()
    try:
        await client.connect()  # connect, EHLO, STARTTLS/TLS, login
        await client.quit()
    except aiosmtplib.SMTPAuthenticationError as error:
        return Check(
            "smtp",
            "fail",
            f"{where}: login refused ({error.code})",
            "check SAMVIRKE_SMTP_USERNAME and SAMVIRKE_SMTP_PASSWORD",
        )
    except (
        aiosmtplib.SMTPConnectError,
        aiosmtplib.SMTPTimeoutError,
        OSError,
        TimeoutError,
    ) as error:
        return Check(
            "smtp",
            "fail",
            f"{where}: cannot connect ({_kind(error)})",
            "check SAMVIRKE_SMTP_HOST and _PORT, and that the firewall lets the server out",
        )
    except aiosmtplib.SMTPException as error:
        return Check(
            "smtp",
            "fail",
            f"{where}: {_kind(error)}",
            "check SAMVIRKE_SMTP_HOST, _PORT and _SECURITY (none/starttls/tls) with your "
            "provider's settings",
        )
    finally:
        client.close()
    login = " and login" if settings.smtp_username else ""
    return Check("smtp", "ok", f"{where}: connect, EHLO{login} fine (nothing sent)")


async def check_bot_api(settings: Settings) -> list[Check]:
    from telegram import Bot
    from telegram.error import InvalidToken, TelegramError

    if settings.telegram_token is None:
        return [
            Check(
                "bot api",
                "fail",
                "SAMVIRKE_TELEGRAM_TOKEN is not set",
                "set it to the token from @BotFather",
            )
        ]
    bot = Bot(
        settings.telegram_token.get_secret_value(),
        base_url=f"{settings.api_base}/bot",
        base_file_url=f"{settings.api_base}/file/bot",
    )
    try:
        async with asyncio.timeout(20):
            me = await bot.get_me()
            info = await bot.get_webhook_info()
    except InvalidToken:
        return [
            Check(
                "bot api",
                "fail",
                "the Bot API refused the token",
                "copy the token again from @BotFather into SAMVIRKE_TELEGRAM_TOKEN",
            )
        ]
    except (TelegramError, OSError, TimeoutError) as error:
        return [
            Check(
                "bot api",
                "fail",
                f"cannot reach {settings.api_base} ({_kind(error)})",
                "check SAMVIRKE_TELEGRAM_API_URL and that the server may reach it",
            )
        ]
    finally:
        await bot.request.shutdown()  # also when getMe failed (then the bot never started)
    checks = [Check("bot api", "ok", f"token valid: @{me.username}")]
    expected = ""
    if settings.webhook_mode and settings.public_url is not None:
        expected = str(settings.public_url).rstrip("/") + WEBHOOK_PATH
    mode = "webhook" if expected else "long polling"
    pending = info.pending_update_count
    if info.url != expected:
        shown = info.url or "none"
        checks.append(
            Check(
                "webhook",
                "warn",
                f"{mode} expected, Telegram has webhook {shown}",
                "start `samvirke run`: it sets or deletes the webhook for SAMVIRKE_TELEGRAM_MODE",
            )
        )
    elif info.last_error_message:
        checks.append(
            Check(
                "webhook",
                "fail",
                f"Telegram's last error calling it: {info.last_error_message[:120]}; "
                f"{pending} update(s) waiting",
                "check Caddy and that SAMVIRKE_PUBLIC_URL reaches this server over HTTPS",
            )
        )
    else:
        checks.append(Check("webhook", "ok", f"{mode}; {pending} update(s) waiting"))
    return checks


async def check_public_url(settings: Settings) -> Check:
    if settings.public_url is None:
        return Check(
            "public url",
            "warn",
            "SAMVIRKE_PUBLIC_URL not set: no unsubscribe links, calendar feeds or webhook",
            "set it to the https address of this server (see deploy/Caddyfile)",
        )
    url = str(settings.public_url).rstrip("/") + "/healthz"
    if settings.public_url.scheme != "https":
        return Check(
            "public url",
            "warn",
            f"{settings.public_url} is not https",
            "put Caddy in front (deploy/Caddyfile) and use https://",
        )
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            status = response.status
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        return Check(
            "public url",
            "fail",
            f"{url} does not answer ({_kind(error)})",
            "check DNS, Caddy (`systemctl status caddy`) and the firewall (ports 80, 443)",
        )
    if status != 200:
        return Check(
            "public url",
            "fail",
            f"{url} answered {status}",
            "check that Caddy forwards to SAMVIRKE_HTTP_HOST:SAMVIRKE_HTTP_PORT",
        )
    return Check("public url", "ok", f"{url} answers over HTTPS")


async def check_mail_from(settings: Settings) -> Check:
    address = settings.mail_from_address
    domain = address.rpartition("@")[2].lower()
    if domain == "localhost" or "." not in domain:
        return Check(
            "mail from",
            "warn" if settings.smtp_host is None else "fail",
            f"{address} is not a real domain; mail servers refuse it",
            "set SAMVIRKE_MAIL_FROM to an address your mail server may send from",
        )
    try:
        async with asyncio.timeout(5):
            await asyncio.get_running_loop().getaddrinfo(domain, None)
    except (OSError, TimeoutError):
        return Check(
            "mail from",
            "warn",
            f"{domain} does not resolve from this server",
            "check the domain of SAMVIRKE_MAIL_FROM (and its SPF/DKIM with your provider)",
        )
    return Check("mail from", "ok", f"{address}")


async def run_checks(
    settings: Settings, *, tls_context: ssl.SSLContext | None = None
) -> list[Check]:
    checks = [Check("settings", "ok", "valid"), Check("time zone", "ok", settings.timezone)]
    checks += await check_database(settings)
    checks += check_storage(settings)
    parts: list[Awaitable[Check | list[Check]]] = [
        check_smtp(settings, tls_context=tls_context),
        check_mail_from(settings),
        check_bot_api(settings),
        check_public_url(settings),
    ]
    for result in await asyncio.gather(*parts):
        checks += result if isinstance(result, list) else [result]
    return checks


def report(checks: list[Check], *, as_json: bool) -> str:
    if as_json:
        ok = all(c.status != "fail" for c in checks)
        return json.dumps({"ok": ok, "checks": [asdict(c) for c in checks]}, indent=2)
    return "\n".join(c.line() for c in checks)


def failed(checks: list[Check]) -> bool:
    return any(c.status == "fail" for c in checks)


def settings_failure(message: str) -> Check:
    return Check("settings", "fail", message, "fix the variable named (environment or .env)")
