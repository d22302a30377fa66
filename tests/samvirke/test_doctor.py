"""``samvirke doctor`` against real servers on loopback: aiosmtpd (right and wrong password,
down), the stand-in Bot API (right and wrong token, webhook), a database with a pending
migration. One line per check, secrets never printed, exit status 1 on a failure."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import storage
from samvirke import doctor
from samvirke.settings import Settings
from storage.migrate import upgrade_engine
from storage.uow import Database
from tests.support.botapi_server import BotApiServer
from tests.support.mailserver import RecordingHandler, SmtpServer, free_port

TOKEN = "999000:DOCTOR-SECRET-TOKEN"
SMTP_PASSWORD = "smtp-secret-pw"
SAMVIRKE = str(Path(sys.executable).with_name("samvirke"))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


@pytest.fixture
async def smtp(certificate: tuple[Path, Path]) -> AsyncIterator[SmtpServer]:
    """STARTTLS required, login over TLS only (aiosmtpd's default), as real providers do."""
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(*certificate)
    handler = RecordingHandler()
    server = SmtpServer(
        handler,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=handler.authenticator("samvirke", SMTP_PASSWORD),
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def botapi() -> AsyncIterator[BotApiServer]:
    server = await BotApiServer(token=TOKEN).start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'samvirke.db'}"
    (tmp_path / "var").mkdir()
    db = Database(url)
    try:
        await upgrade_engine(db.engine)
    finally:
        await db.dispose()
    return url


def settings_for(tmp_path: Path, database: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database,
        "telegram_token": TOKEN,
        "mail_from": "Samvirke <samvirke@localhost.localdomain>",
        "mail_dir": tmp_path / "var" / "mail",
        **overrides,
    }
    return Settings(_env_file=None, **values)


def by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


def assert_no_secret(checks: list[doctor.Check]) -> None:
    for output in (doctor.report(checks, as_json=False), doctor.report(checks, as_json=True)):
        assert TOKEN not in output
        assert "DOCTOR-SECRET" not in output
        assert SMTP_PASSWORD not in output


async def test_a_healthy_setup(
    tmp_path: Path,
    database: str,
    smtp: SmtpServer,
    botapi: BotApiServer,
    client_tls: ssl.SSLContext,
) -> None:
    settings = settings_for(
        tmp_path,
        database,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="starttls",
        smtp_username="samvirke",
        smtp_password=SMTP_PASSWORD,
        telegram_api_url=botapi.url,
    )
    checks = await doctor.run_checks(settings, tls_context=client_tls)
    found = by_name(checks)
    assert found["database"].status == "ok"
    assert found["migrations"].status == "ok"
    assert found["smtp"].status == "ok"
    assert "login" in found["smtp"].message
    assert smtp.handler.logins == ["samvirke"]
    assert smtp.handler.received == []  # nothing sent
    assert found["bot api"].message == "token valid: @sv_bot"
    assert found["webhook"].status == "ok"
    assert found["public url"].status == "warn"  # not set
    assert not doctor.failed(checks)
    assert_no_secret(checks)
    lines = doctor.report(checks, as_json=False).splitlines()
    assert len(lines) == len(checks)


async def test_wrong_smtp_password(
    tmp_path: Path,
    database: str,
    smtp: SmtpServer,
    botapi: BotApiServer,
    client_tls: ssl.SSLContext,
) -> None:
    settings = settings_for(
        tmp_path,
        database,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="starttls",
        smtp_username="samvirke",
        smtp_password="not-the-" + SMTP_PASSWORD,
        telegram_api_url=botapi.url,
    )
    checks = await doctor.run_checks(settings, tls_context=client_tls)
    smtp_check = by_name(checks)["smtp"]
    assert smtp_check.status == "fail"
    assert "login refused (535)" in smtp_check.message
    assert "SAMVIRKE_SMTP_PASSWORD" in smtp_check.hint
    assert doctor.failed(checks)
    assert_no_secret(checks)
    assert "not-the-" not in doctor.report(checks, as_json=False)


async def test_smtp_down_and_wrong_token(
    tmp_path: Path, database: str, botapi: BotApiServer
) -> None:
    settings = settings_for(
        tmp_path,
        database,
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_security="none",
        telegram_api_url=botapi.url,
        telegram_token="999000:WRONG-TOKEN",
    )
    checks = await doctor.run_checks(settings)
    found = by_name(checks)
    assert found["smtp"].status == "fail"
    assert "cannot connect" in found["smtp"].message
    assert found["bot api"].status == "fail"
    assert found["bot api"].message == "the Bot API refused the token"
    output = doctor.report(checks, as_json=False)
    assert "WRONG-TOKEN" not in output


async def test_webhook_mismatch_and_last_error(
    tmp_path: Path, database: str, botapi: BotApiServer
) -> None:
    botapi.webhook_url = "https://old.example.org/telegram/webhook"
    settings = settings_for(tmp_path, database, telegram_api_url=botapi.url)
    found = by_name(await doctor.run_checks(settings))
    assert found["webhook"].status == "warn"
    assert "long polling expected" in found["webhook"].message

    botapi.webhook_url = "https://bot.example.org/telegram/webhook"
    botapi.webhook_error = "Connection timed out"
    settings = settings_for(
        tmp_path, database, telegram_api_url=botapi.url, public_url="https://bot.example.org"
    )
    found = by_name(await doctor.run_checks(settings))
    assert found["webhook"].status == "fail"
    assert "Connection timed out" in found["webhook"].message
    assert found["public url"].status == "fail"  # bot.example.org does not answer here


async def test_pending_migration(tmp_path: Path, botapi: BotApiServer) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    try:
        await upgrade_engine(db.engine, "0001")
    finally:
        await db.dispose()
    checks = await doctor.run_checks(settings_for(tmp_path, url, telegram_api_url=botapi.url))
    migrations = by_name(checks)["migrations"]
    assert migrations.status == "fail"
    later = len(list((Path(storage.__file__).parent / "migrations" / "versions").glob("0*.py"))) - 1
    assert migrations.message.startswith(f"{later} pending")
    assert "samvirke migrate" in migrations.hint


async def test_unreachable_database(tmp_path: Path, botapi: BotApiServer) -> None:
    url = f"postgresql+asyncpg://samvirke:db-secret@127.0.0.1:{free_port()}/samvirke"
    checks = await doctor.run_checks(settings_for(tmp_path, url, telegram_api_url=botapi.url))
    database = by_name(checks)["database"]
    assert database.status == "fail"
    assert "db-secret" not in doctor.report(checks, as_json=True)


def run_doctor(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAMVIRKE_")}
    return subprocess.run(
        [SAMVIRKE, "doctor", *args],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_command_exit_status_and_json(
    tmp_path: Path, database: str, botapi: BotApiServer
) -> None:
    env = {
        "SAMVIRKE_DATABASE_URL": database,
        "SAMVIRKE_TELEGRAM_TOKEN": TOKEN,
        "SAMVIRKE_TELEGRAM_API_URL": botapi.url,
        "SAMVIRKE_MAIL_FROM": "samvirke@localhost.localdomain",
    }
    import asyncio

    healthy = await asyncio.to_thread(run_doctor, tmp_path, "--json", **env)
    assert healthy.returncode == 0, healthy.stdout
    report = json.loads(healthy.stdout)
    assert report["ok"] is True
    assert {c["name"] for c in report["checks"]} >= {"database", "migrations", "smtp", "bot api"}
    assert TOKEN not in healthy.stdout + healthy.stderr

    broken = await asyncio.to_thread(
        run_doctor, tmp_path, **env | {"SAMVIRKE_TELEGRAM_TOKEN": "999000:WRONG"}
    )
    assert broken.returncode == 1
    assert "FAIL bot api: the Bot API refused the token -> " in broken.stdout

    bad_setting = await asyncio.to_thread(run_doctor, tmp_path, SAMVIRKE_HTTP_PORT="x")
    assert bad_setting.returncode == 1
    assert bad_setting.stdout.startswith("FAIL settings: SAMVIRKE_HTTP_PORT")
