"""Mail delivery end to end: outbox rows -> MailDelivery -> a real aiosmtpd server on loopback.

What the server received is parsed back with the standard ``email`` package. Every test that
touches the outbox uses the ``db`` fixture, so it runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import logging
import shutil
import ssl
import stat
import subprocess
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy import select

from samvirke.settings import Settings
from scheduler.mail.compose import message_id
from scheduler.mail.delivery import DeliveryOptions, DeliveryReport, MailDelivery
from scheduler.mail.failures import backoff, classify
from scheduler.mail.transports import SmtpTransport
from storage import outbox, regions
from storage.members import profiles as members
from storage.models import OutboxMessage, OutboxStatus
from storage.uow import Database
from tests.support.clock import Clock
from tests.support.mailserver import RecordingHandler, SmtpServer, free_port

MAIL_FROM = "samvirke@samvirke.test"
MINUTE = dt.timedelta(minutes=1)


# --- helpers ------------------------------------------------------------------------------------


def make_settings(tmp_path: Path, port: int | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1" if port is not None else None,
        "smtp_port": port,
        "smtp_security": "none",
        "mail_from": MAIL_FROM,
        "mail_dir": tmp_path / "var" / "mail",
        **overrides,
    }
    return Settings(_env_file=None, **values)


def make_delivery(db: Database, settings: Settings, clock: Clock, **options: Any) -> MailDelivery:
    return MailDelivery(db, settings, options=DeliveryOptions(**options), clock=clock)


async def register(
    db: Database,
    now: dt.datetime,
    *,
    name: str = "Karen Ærø",
    email: str = "karen@example.dk",
    language: str = "da",
) -> members.Registration:
    region = (await regions.list_active(db.unit_of_work()))[0]
    return await members.register(
        db.unit_of_work(),
        telegram_user_id=42,
        telegram_username="karen",
        name=name,
        email=email,
        organisation=None,
        sector="public",
        region_id=region.id,
        language=language,
        now=now,
    )


async def enqueue(db: Database, now: dt.datetime, key: str, **payload: Any) -> None:
    """Queue a verification-style mail directly (bypassing the validation of sign-up)."""
    values: dict[str, Any] = {
        "template": "verification",
        "language": "da",
        "to_name": "Ole Sørensen",
        "to_email": "ole@example.dk",
        "context": {"name": "Ole Sørensen", "code": "246810", "minutes": 30},
        **payload,
    }
    uow = db.unit_of_work()
    async with uow:
        await outbox.enqueue(uow.session, key=key, channel=outbox.EMAIL, payload=values, now=now)
        await uow.commit()


async def rows(db: Database) -> list[OutboxMessage]:
    uow = db.unit_of_work()
    async with uow:
        found = await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        result = list(found.all())
        uow.session.expunge_all()  # keep the loaded values (the unit of work rolls back)
        return result


def plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content()).replace("\r\n", "\n")  # SMTP data has CRLF lines


def html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content()).replace("\r\n", "\n")  # SMTP data has CRLF lines


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def settings(smtp: SmtpServer, tmp_path: Path) -> Settings:
    return make_settings(tmp_path, smtp.port)


@pytest.fixture(scope="session")
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


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


# --- the verification mail ----------------------------------------------------------------------


async def test_verification_mail_arrives_complete(
    db: Database, now: dt.datetime, clock: Clock, smtp: SmtpServer, settings: Settings
) -> None:
    registration = await register(db, now)
    [row] = await rows(db)
    code = row.payload["context"]["code"]

    report = await make_delivery(db, settings, clock).run_once()

    assert report == DeliveryReport(claimed=1, sent=1, retried=0, failed=0)
    [received] = smtp.handler.received
    assert received.mail_from == MAIL_FROM
    assert received.rcpt_tos == ["karen@example.dk"]
    assert received.header_section.isascii()  # ÆØÅ travel as RFC 2047 encoded words
    assert b"=?utf-8?" in received.header_section
    message = received.message()
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Samvirke", MAIL_FROM)
    [recipient] = message["To"].addresses
    assert (recipient.display_name, recipient.addr_spec) == ("Karen Ærø", "karen@example.dk")
    assert message["Subject"] == "Bekræft din e-mailadresse til Samvirke"
    assert parsedate_to_datetime(message["Date"]) == now
    member_id = registration.member.id
    assert message["Message-ID"] == message_id(f"verify:{member_id}:1", "samvirke.test")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    text = plain(message)
    assert "Hej Karen Ærø," in text
    assert f"    {code}\n" in text
    assert "Koden gælder i 30 minutter.\n\nHvis du ikke har bedt om denne kode" in text
    body = html(message)
    assert code in body
    assert '<html lang="da">' in body
    assert "<title>Bekræft din e-mailadresse til Samvirke</title>" in body
    [row] = await rows(db)
    assert (row.status, row.attempts, row.sent_at, row.last_error) == (
        OutboxStatus.SENT,
        1,
        now,
        None,
    )


@pytest.mark.parametrize(
    ("language", "subject", "greeting"),
    [
        ("sv", "Bekräfta din e-postadress för Samvirke", "Hej Åsa Öberg,"),
        ("en", "Confirm your e-mail address for Samvirke", "Hello Åsa Öberg,"),
        ("da", "Bekræft din e-mailadresse til Samvirke", "Hej Åsa Öberg,"),
    ],
)
async def test_subject_and_body_follow_the_members_language(
    db: Database,
    now: dt.datetime,
    clock: Clock,
    smtp: SmtpServer,
    settings: Settings,
    language: str,
    subject: str,
    greeting: str,
) -> None:
    await register(db, now, name="Åsa Öberg", email="asa@example.se", language=language)

    await make_delivery(db, settings, clock).run_once()

    message = smtp.handler.received[0].message()
    assert message["Subject"] == subject
    assert message["To"].addresses[0].display_name == "Åsa Öberg"
    assert plain(message).startswith(greeting)
    assert f'<html lang="{language}">' in html(message)


async def test_html_part_escapes_member_text(
    db: Database, now: dt.datetime, clock: Clock, smtp: SmtpServer, settings: Settings
) -> None:
    await register(db, now, name="Ole <b>Bøg</b> & Co")

    await make_delivery(db, settings, clock).run_once()

    message = smtp.handler.received[0].message()
    assert "Hej Ole &lt;b&gt;Bøg&lt;/b&gt; &amp; Co," in html(message)
    assert "<b>" not in html(message)
    assert "Hej Ole <b>Bøg</b> & Co," in plain(message)


# --- header injection ---------------------------------------------------------------------------


async def test_line_breaks_in_a_name_cannot_add_headers(
    db: Database, now: dt.datetime, clock: Clock, smtp: SmtpServer, settings: Settings
) -> None:
    evil = "Eve\r\nBcc: victim@evil.example\r\nX-Injected: yes"
    await enqueue(db, now, "inject:name", to_name=evil, context={"name": evil, "code": "1"})

    report = await make_delivery(db, settings, clock).run_once()

    assert report.sent == 1
    [received] = smtp.handler.received
    assert received.rcpt_tos == ["ole@example.dk"]
    message = received.message()
    assert message["Bcc"] is None
    assert message["X-Injected"] is None
    assert b"\r\nBcc:" not in received.header_section
    assert b"\r\nX-Injected:" not in received.header_section
    assert set(message.keys()) == {
        "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted",
        "MIME-Version", "Content-Type",
    }  # fmt: skip
    [recipient] = message["To"].addresses
    assert recipient.addr_spec == "ole@example.dk"
    assert recipient.display_name == "Eve Bcc: victim@evil.example X-Injected: yes"


@pytest.mark.parametrize(
    "address",
    ["ole@example.dk\r\nBcc: victim@evil.example", "ole@example.dk, victim@evil.example"],
)
async def test_an_injected_address_is_refused_not_sent(
    db: Database,
    now: dt.datetime,
    clock: Clock,
    smtp: SmtpServer,
    settings: Settings,
    address: str,
) -> None:
    await enqueue(db, now, "inject:address", to_email=address)

    report = await make_delivery(db, settings, clock).run_once()

    assert report == DeliveryReport(claimed=1, failed=1)
    assert smtp.handler.received == []
    assert smtp.connections == 0  # nothing to send: no connection is opened
    [row] = await rows(db)
    assert row.status == OutboxStatus.FAILED
    assert row.last_error is not None
    assert row.last_error.startswith("invalid recipient address")


async def test_a_danish_domain_is_sent_in_its_ascii_form(
    db: Database, now: dt.datetime, clock: Clock, smtp: SmtpServer, settings: Settings
) -> None:
    await enqueue(db, now, "idna", to_email="karen@ærø.dk")
    await enqueue(db, now, "utf8-local-part", to_email="søren@example.dk")

    report = await make_delivery(db, settings, clock).run_once()

    assert report == DeliveryReport(claimed=2, sent=1, failed=1)
    [received] = smtp.handler.received
    assert received.rcpt_tos == ["karen@xn--r-3fa9c.dk"]
    assert received.message()["To"].addresses[0].addr_spec == "karen@xn--r-3fa9c.dk"
    refused = (await rows(db))[1]
    assert refused.status == OutboxStatus.FAILED
    assert refused.last_error is not None
    assert refused.last_error.startswith("invalid recipient address")


# --- batches and connections --------------------------------------------------------------------


async def test_a_batch_of_twenty_uses_one_connection(
    db: Database, now: dt.datetime, clock: Clock, smtp: SmtpServer, settings: Settings
) -> None:
    for n in range(20):
        await enqueue(db, now, f"batch:{n}", to_email=f"member{n}@example.dk")

    report = await make_delivery(db, settings, clock, batch_size=50).run_once()

    assert report == DeliveryReport(claimed=20, sent=20)
    assert smtp.connections == 1
    assert smtp.handler.ehlo_count == 1
    assert sorted(r.rcpt_tos[0] for r in smtp.handler.received) == sorted(
        f"member{n}@example.dk" for n in range(20)
    )
    assert {r.message()["Message-ID"] for r in smtp.handler.received} == {
        message_id(f"batch:{n}", "samvirke.test") for n in range(20)
    }
    assert {row.status for row in await rows(db)} == {OutboxStatus.SENT}


async def test_a_large_batch_goes_over_two_connections_and_each_mail_once(
    db: Database, now: dt.datetime, clock: Clock, smtp: SmtpServer, settings: Settings
) -> None:
    for n in range(60):
        await enqueue(db, now, f"large:{n}", to_email=f"member{n}@example.dk")

    report = await make_delivery(db, settings, clock, batch_size=100, connections=2).run_once()

    assert report == DeliveryReport(claimed=60, sent=60)
    assert smtp.connections == 2
    assert sorted(r.rcpt_tos[0] for r in smtp.handler.received) == sorted(
        f"member{n}@example.dk" for n in range(60)
    )
    assert {row.status for row in await rows(db)} == {OutboxStatus.SENT}


@pytest.mark.parametrize("limit", [1, 3])
async def test_few_rows_are_ever_sent_but_not_yet_recorded(
    db: Database,
    now: dt.datetime,
    clock: Clock,
    smtp: SmtpServer,
    settings: Settings,
    limit: int,
) -> None:
    """What a kill -9 could make the worker send twice: the rows the server has (or is being
    given) that the outbox does not yet show as sent. The server counts them at every DATA."""
    for n in range(50):
        await enqueue(db, now, f"window:{n}", to_email=f"member{n}@example.dk")
    unrecorded: list[int] = []

    async def count_unrecorded() -> None:
        recorded = sum(row.status == OutboxStatus.SENT for row in await rows(db))
        unrecorded.append(len(smtp.handler.received) + 1 - recorded)  # + the one arriving

    smtp.handler.on_data = count_unrecorded
    delivery = make_delivery(db, settings, clock, batch_size=100, max_unmarked=limit)
    report = await delivery.run_once()

    assert report.sent == 50
    assert len(unrecorded) == 50
    assert max(unrecorded) <= limit
    if limit == 1:
        assert set(unrecorded) == {1}  # each row is recorded before the next mail goes out
    assert {row.status for row in await rows(db)} == {OutboxStatus.SENT}


async def test_batch_size_limits_a_run(
    db: Database, now: dt.datetime, clock: Clock, smtp: SmtpServer, settings: Settings
) -> None:
    for n in range(5):
        await enqueue(db, now, f"limit:{n}", to_email=f"member{n}@example.dk")
    delivery = make_delivery(db, settings, clock, batch_size=2)

    reports = [await delivery.run_once() for _ in range(4)]

    assert [r.sent for r in reports] == [2, 2, 1, 0]
    assert smtp.connections == 3  # one per non-empty batch, none for an empty one
    assert len(smtp.handler.received) == 5


async def test_nothing_due_opens_no_connection(
    db: Database, clock: Clock, smtp: SmtpServer, settings: Settings
) -> None:
    assert await make_delivery(db, settings, clock).run_once() == DeliveryReport()
    assert smtp.connections == 0


# --- the server is down, then up ----------------------------------------------------------------


async def test_server_down_keeps_mail_then_delivers_it_exactly_once(
    db: Database, now: dt.datetime, clock: Clock, tmp_path: Path
) -> None:
    """While the server cannot be reached the mail waits, retried every half minute (issue 17,
    item 26: not after a backoff grown during the outage), and the outage uses up none of its
    attempts: the mail was never offered."""
    port = free_port()
    settings = make_settings(tmp_path, port)
    delivery = make_delivery(db, settings, clock)
    await register(db, now)
    half_minute = dt.timedelta(seconds=30)

    report = await delivery.run_once()

    assert report == DeliveryReport(claimed=1, retried=1)
    [row] = await rows(db)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        OutboxStatus.RETRY,
        0,
        now + half_minute,
    )
    assert row.last_error is not None
    assert row.last_error.startswith("connecting failed:")

    for _ in range(12):  # a few minutes of outage: still every half minute, nothing used up
        clock.advance(half_minute)
        await delivery.run_once()
    [row] = await rows(db)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        OutboxStatus.RETRY,
        0,
        clock.now + half_minute,
    )

    server = await SmtpServer(RecordingHandler(), port=port).start()
    try:
        assert await delivery.run_once() == DeliveryReport()  # not due yet
        clock.advance(half_minute)  # back within half a minute of the server's return
        assert await delivery.run_once() == DeliveryReport(claimed=1, sent=1)
        for _ in range(3):
            clock.advance(dt.timedelta(hours=1))
            assert await delivery.run_once() == DeliveryReport()
    finally:
        await server.stop()

    assert len(server.handler.received) == 1
    [row] = await rows(db)
    assert (row.status, row.attempts, row.sent_at, row.last_error) == (
        OutboxStatus.SENT,
        1,
        clock.now - dt.timedelta(hours=3),
        None,
    )


async def test_a_stalled_recorder_lets_exactly_max_unmarked_mails_out(
    db: Database,
    now: dt.datetime,
    clock: Clock,
    smtp: SmtpServer,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 17, item 25: the database is slow to record (another writer holds the lock) and the
    worker is killed during the wait. The server then has exactly ``max_unmarked`` mails the
    outbox does not show as sent: what a restarted worker re-sends. That is the README's
    "at most three"."""
    for n in range(10):
        await enqueue(db, now, f"stall:{n}", to_email=f"member{n}@example.dk")
    release = asyncio.Event()
    original = outbox.mark_sent_many

    async def slow_mark_sent_many(*args: Any, **kwargs: Any) -> Any:
        await release.wait()  # the database is busy: the record waits
        return await original(*args, **kwargs)

    monkeypatch.setattr(outbox, "mark_sent_many", slow_mark_sent_many)
    delivery = make_delivery(db, settings, clock, batch_size=10)
    run = asyncio.create_task(delivery.run_once())
    for _ in range(200):
        await asyncio.sleep(0.02)
        if len(smtp.handler.received) >= DeliveryOptions().max_unmarked:
            await asyncio.sleep(0.2)  # would a fourth go out?
            break
    run.cancel()  # the kill: nothing after this point is recorded
    with contextlib.suppress(asyncio.CancelledError):
        await run

    unrecorded = len(smtp.handler.received) - sum(
        row.status == OutboxStatus.SENT for row in await rows(db)
    )
    assert DeliveryOptions().max_unmarked == 3
    assert unrecorded == DeliveryOptions().max_unmarked
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    assert "re-sends at most\nthree mails" in readme


async def test_gives_up_after_max_attempts(
    db: Database, now: dt.datetime, clock: Clock, smtp: SmtpServer, settings: Settings
) -> None:
    """A server that answers "try later" to this mail every time: given up after max_attempts
    (an unreachable server is not counted against the mail, see above)."""
    smtp.handler.data_reply = "451 4.3.0 Try again later"
    delivery = make_delivery(db, settings, clock, max_attempts=2)
    await register(db, now)

    await delivery.run_once()
    clock.advance(MINUTE)
    report = await delivery.run_once()

    assert report == DeliveryReport(claimed=1, failed=1)
    [row] = await rows(db)
    assert row.status == OutboxStatus.FAILED
    assert row.last_error is not None
    assert row.last_error.startswith("gave up after 2 attempts: SMTPDataError: 451")


async def test_server_dropping_the_connection_mid_batch_loses_nothing(
    db: Database, now: dt.datetime, clock: Clock, smtp: SmtpServer, settings: Settings
) -> None:
    for n in range(3):
        await enqueue(db, now, f"drop:{n}", to_email=f"member{n}@example.dk")
    smtp.handler.drop_at_data = 2
    delivery = make_delivery(db, settings, clock)

    report = await delivery.run_once()

    assert report == DeliveryReport(claimed=3, sent=1, retried=2)
    first, second, third = await rows(db)
    assert first.status == OutboxStatus.SENT
    assert (second.status, third.status) == (OutboxStatus.RETRY, OutboxStatus.RETRY)
    assert second.last_error is not None
    assert second.last_error.startswith("SMTPServerDisconnected")
    assert third.last_error == "not sent: connection lost (SMTPServerDisconnected)"

    clock.advance(MINUTE)
    assert await delivery.run_once() == DeliveryReport(claimed=2, sent=2)
    assert sorted(r.rcpt_tos[0] for r in smtp.handler.received) == [
        "member0@example.dk", "member1@example.dk", "member2@example.dk"
    ]  # fmt: skip


async def test_a_batch_stops_sending_before_its_lease_runs_out(
    db: Database, now: dt.datetime, smtp: SmtpServer, settings: Settings
) -> None:
    for n in range(4):
        await enqueue(db, now, f"lease:{n}", to_email=f"member{n}@example.dk")
    ticks = iter(now + n * dt.timedelta(minutes=2) for n in range(100))
    delivery = MailDelivery(
        db,
        settings,
        options=DeliveryOptions(lease=dt.timedelta(minutes=10)),
        clock=lambda: next(ticks),  # a slow server: two minutes pass at each look at the clock
    )

    report = await delivery.run_once()

    assert report.claimed == 4
    assert report.sent >= 1
    assert report.retried >= 1
    assert report.sent + report.retried == 4
    assert len(smtp.handler.received) == report.sent
    postponed = [row for row in await rows(db) if row.status == OutboxStatus.RETRY]
    assert {row.last_error for row in postponed} == {"not sent: lease running out"}


# --- replies of the server ----------------------------------------------------------------------


async def test_550_for_one_recipient_fails_that_row_only(
    db: Database,
    now: dt.datetime,
    clock: Clock,
    smtp: SmtpServer,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reply = "550 5.1.1 <nobody@example.dk>: Recipient address rejected"
    smtp.handler.rcpt_replies["nobody@example.dk"] = reply
    for n, address in enumerate(["a@example.dk", "nobody@example.dk", "b@example.dk"]):
        await enqueue(db, now, f"reply:{n}", to_email=address, to_name="Nobody Nøgaard")

    with caplog.at_level(logging.DEBUG, logger="samvirke"):
        report = await make_delivery(db, settings, clock).run_once()

    assert report == DeliveryReport(claimed=3, sent=2, failed=1)
    assert smtp.connections == 1
    statuses = [(row.status, row.last_error) for row in await rows(db)]
    assert statuses == [
        (OutboxStatus.SENT, None),
        (OutboxStatus.FAILED, f"recipient refused: {reply}"),
        (OutboxStatus.SENT, None),
    ]
    # Log lines name ids and codes, never addresses, names or the server's reply text.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("samvirke"))
    assert "SMTPRecipientsRefused 550" in logged
    for personal in ("nobody", "example.dk", "Nøgaard", "Recipient address rejected"):
        assert personal not in logged


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        ("451 4.3.0 Temporary local problem, try again", OutboxStatus.RETRY),
        ("452 4.3.1 Insufficient system storage", OutboxStatus.RETRY),
        ("554 5.7.1 Message rejected as spam", OutboxStatus.FAILED),
    ],
)
async def test_reply_to_data_decides_retry_or_failed(
    db: Database,
    now: dt.datetime,
    clock: Clock,
    smtp: SmtpServer,
    settings: Settings,
    reply: str,
    status: OutboxStatus,
) -> None:
    smtp.handler.data_reply = reply
    await register(db, now)

    await make_delivery(db, settings, clock).run_once()

    [row] = await rows(db)
    assert row.status == status
    assert row.last_error == f"SMTPDataError: {reply}"
    assert smtp.handler.received == []


async def test_a_retry_sends_the_same_message_id(
    db: Database, now: dt.datetime, clock: Clock, smtp: SmtpServer, settings: Settings
) -> None:
    smtp.handler.rcpt_replies["karen@example.dk"] = "451 4.7.1 Greylisted, try again later"
    await register(db, now)
    delivery = make_delivery(db, settings, clock)
    await delivery.run_once()
    smtp.handler.rcpt_replies.clear()
    smtp.handler.data_reply = "421 4.3.2 Shutting down"
    clock.advance(MINUTE)
    await delivery.run_once()
    smtp.handler.data_reply = None
    clock.advance(2 * MINUTE)

    report = await delivery.run_once()

    assert report.sent == 1
    [refused] = smtp.handler.refused
    [received] = smtp.handler.received
    assert received.message()["Message-ID"] == refused.message()["Message-ID"]
    assert parsedate_to_datetime(received.message()["Date"]) == clock.now
    [row] = await rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 3)


# --- rows that cannot become mail ---------------------------------------------------------------


async def test_erased_payload_fails_without_sending(
    db: Database, now: dt.datetime, clock: Clock, smtp: SmtpServer, settings: Settings
) -> None:
    uow = db.unit_of_work()
    async with uow:
        await outbox.enqueue(
            uow.session, key="erased", channel=outbox.EMAIL, payload={"erased": True}, now=now
        )
        await uow.commit()

    report = await make_delivery(db, settings, clock).run_once()

    assert report == DeliveryReport(claimed=1, failed=1)
    [row] = await rows(db)
    assert row.last_error == "payload erased (data-protection request)"


async def test_unknown_template_is_retried_as_our_bug(
    db: Database, now: dt.datetime, clock: Clock, smtp: SmtpServer, settings: Settings
) -> None:
    await enqueue(db, now, "future", template="not_yet_deployed")

    report = await make_delivery(db, settings, clock).run_once()

    assert report == DeliveryReport(claimed=1, retried=1)
    [row] = await rows(db)
    assert row.last_error is not None
    assert "TemplateNotFound" in row.last_error
    assert smtp.connections == 0


# --- the .eml file transport --------------------------------------------------------------------


async def test_without_smtp_host_mail_is_written_as_eml_files(
    db: Database, now: dt.datetime, clock: Clock, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, None)
    await register(db, now)
    await enqueue(db, now, "file:2")
    code = (await rows(db))[0].payload["context"]["code"]

    report = await make_delivery(db, settings, clock).run_once()

    assert report == DeliveryReport(claimed=2, sent=2)
    first, second = await rows(db)
    folder = settings.mail_dir
    names = sorted(path.name for path in folder.iterdir())
    assert names == [
        f"20261125T120000Z-{first.id:06d}.eml",
        f"20261125T120000Z-{second.id:06d}.eml",
    ]  # no temporary files are left behind
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # private, like the files in it
    message = email.message_from_bytes(
        (folder / names[0]).read_bytes(), policy=email.policy.default
    )
    assert message["Subject"] == "Bekræft din e-mailadresse til Samvirke"
    assert message["To"].addresses[0].display_name == "Karen Ærø"
    assert code in plain(message)
    assert "context" not in first.payload  # a sent mail keeps no content, such as the code


# --- security modes -----------------------------------------------------------------------------


async def test_starttls_with_login(
    db: Database, now: dt.datetime, clock: Clock, tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    handler = RecordingHandler()
    server = SmtpServer(
        handler,
        tls_context=server_tls(certificate),
        require_starttls=True,
        authenticator=handler.authenticator("samvirke", "s3cret"),
    )
    await server.start()
    settings = make_settings(
        tmp_path,
        server.port,
        smtp_security="starttls",
        smtp_username="samvirke",
        smtp_password="s3cret",
    )
    transport = SmtpTransport.from_settings(settings, tls_context=client_tls(certificate))
    delivery = MailDelivery(db, settings, transport=transport, clock=clock)
    await register(db, now)
    try:
        report = await delivery.run_once()
    finally:
        await server.stop()

    assert report.sent == 1
    assert handler.logins == ["samvirke"]
    assert handler.ehlo_count == 2  # before and after the upgrade
    assert len(handler.received) == 1


async def test_tls_from_the_first_byte(
    db: Database, now: dt.datetime, clock: Clock, tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    server = await SmtpServer(RecordingHandler(), ssl_context=server_tls(certificate)).start()
    settings = make_settings(tmp_path, server.port, smtp_security="tls")
    transport = SmtpTransport.from_settings(settings, tls_context=client_tls(certificate))
    await register(db, now)
    try:
        report = await MailDelivery(db, settings, transport=transport, clock=clock).run_once()
    finally:
        await server.stop()

    assert report.sent == 1
    assert len(server.handler.received) == 1


async def test_starttls_required_but_not_offered_is_retried(
    db: Database, now: dt.datetime, clock: Clock, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, smtp.port, smtp_security="starttls")
    await register(db, now)

    report = await make_delivery(db, settings, clock).run_once()

    assert report == DeliveryReport(claimed=1, retried=1)
    assert smtp.handler.received == []
    [row] = await rows(db)
    assert row.last_error is not None
    assert "STARTTLS" in row.last_error


def test_security_modes_map_to_aiosmtplib_options() -> None:
    def client(security: str) -> aiosmtplib.SMTP:
        transport = SmtpTransport(hostname="mail.example.dk", port=25, security=security)  # type: ignore[arg-type]
        return transport.client()

    assert (client("none").use_tls, client("none")._start_tls_on_connect) == (False, False)
    assert (client("starttls").use_tls, client("starttls")._start_tls_on_connect) == (
        False,
        True,
    )
    assert (client("tls").use_tls, client("tls")._start_tls_on_connect) == (True, False)


async def test_wrong_password_is_retried(
    db: Database, now: dt.datetime, clock: Clock, tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    handler = RecordingHandler()
    server = SmtpServer(
        handler,
        tls_context=server_tls(certificate),
        authenticator=handler.authenticator("samvirke", "right"),
    )
    await server.start()
    settings = make_settings(
        tmp_path, server.port, smtp_security="starttls", smtp_username="samvirke",
        smtp_password="wrong",
    )  # fmt: skip
    transport = SmtpTransport.from_settings(settings, tls_context=client_tls(certificate))
    await register(db, now)
    try:
        report = await MailDelivery(db, settings, transport=transport, clock=clock).run_once()
    finally:
        await server.stop()

    assert report == DeliveryReport(claimed=1, retried=1)
    [row] = await rows(db)
    assert row.last_error is not None
    assert row.last_error.startswith("connecting failed: SMTPAuthenticationError: 535")


# --- the worker loop ----------------------------------------------------------------------------


async def test_run_forever_delivers_and_stops(
    db: Database, now: dt.datetime, smtp: SmtpServer, settings: Settings
) -> None:
    delivery = MailDelivery(db, settings, options=DeliveryOptions(poll_interval=0.02))
    stop = asyncio.Event()
    worker = asyncio.create_task(delivery.run_forever(stop))
    await register(db, dt.datetime.now(dt.UTC))
    async with asyncio.timeout(10):
        await smtp.handler.arrived.wait()
    stop.set()
    async with asyncio.timeout(5):
        await worker
    assert len(smtp.handler.received) == 1


# --- pure rules ---------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap() -> None:
    base, cap = dt.timedelta(seconds=60), dt.timedelta(hours=6)
    waits = [backoff(n, base=base, cap=cap).total_seconds() for n in (1, 2, 3, 4, 9, 10, 500)]
    assert waits == [60, 120, 240, 480, 15360, 21600, 21600]


@pytest.mark.parametrize(
    ("error", "permanent", "connection_lost"),
    [
        (aiosmtplib.SMTPConnectError("refused"), False, True),
        (aiosmtplib.SMTPServerDisconnected("gone"), False, True),
        (aiosmtplib.SMTPReadTimeoutError("slow"), False, True),
        (ConnectionResetError(104, "reset"), False, True),
        (aiosmtplib.SMTPDataError(451, "later"), False, False),
        (aiosmtplib.SMTPDataError(421, "closing"), False, True),
        (aiosmtplib.SMTPDataError(552, "too big"), True, False),
        (aiosmtplib.SMTPSenderRefused(553, "no", "x@example.dk"), True, False),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(450, "busy", "x@example.dk")]
            ),
            False,
            False,
        ),
        (aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported"), True, False),
    ],
)
def test_classify(error: Exception, permanent: bool, connection_lost: bool) -> None:
    failure = classify(error)
    assert (failure.permanent, failure.connection_lost) == (permanent, connection_lost)


async def test_mail_from_with_a_display_name(
    db: Database, now: dt.datetime, clock: Clock, smtp: SmtpServer, tmp_path: Path
) -> None:
    """SAMVIRKE_MAIL_FROM as ``Name <address>``: the name (encoded) in From, the address as the
    envelope sender and in the Message-ID."""
    settings = make_settings(
        tmp_path, smtp.port, mail_from="Netværk Midt – Samvirke <netvaerk@samvirke.test>"
    )
    registration = await register(db, now)

    report = await make_delivery(db, settings, clock).run_once()

    assert report.sent == 1
    [received] = smtp.handler.received
    assert received.mail_from == "netvaerk@samvirke.test"
    assert received.header_section.isascii()
    [sender] = received.message()["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Netværk Midt – Samvirke",
        "netvaerk@samvirke.test",
    )
    key = f"verify:{registration.member.id}:1"
    assert received.message()["Message-ID"] == message_id(key, "samvirke.test")
