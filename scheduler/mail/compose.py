"""Building e-mails from outbox rows: templates, headers, MIME structure.

An e-mail outbox row's payload names a template and carries the data it needs::

    {"template": "verification", "language": "da", "to_name": "Karen Ærø",
     "to_email": "karen@example.dk", "context": {"name": ..., "code": ..., "minutes": 30}}

``template`` selects ``templates/mail/<template>.txt`` (with the blocks ``subject`` and ``body``)
and ``templates/mail/<template>.html`` (a whole document, usually extending ``base.html``), so a
new kind of mail is a new pair of templates; nothing here changes.

Names and addresses are cleaned and validated before they reach a header, every header value is
checked for line breaks, and non-ASCII text goes out as RFC 2047 encoded words.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from email.charset import QP, Charset
from email.encoders import encode_base64
from email.generator import BytesGenerator
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import format_datetime, parseaddr
from typing import Any, cast

import jinja2
from email_validator import EmailNotValidError, validate_email

from samvirke.settings import LANGUAGES, Settings
from scheduler.mail import headers
from storage.digests.unsubscribe import UnsubscribeLinks
from storage.digests.unsubscribe import links as unsubscribe_links
from storage.outbox import ClaimedMessage
from templates.calendar import CalendarPart
from templates.calendar import from_payload as calendar_from_payload
from templates.i18n import mail_environment

SENDER_NAME = "Samvirke"
TEMPLATE_NAME = re.compile(r"[a-z0-9_]+(?:/[a-z0-9_]+)*")
SUBJECT_BLOCK = "subject"
BODY_BLOCK = "body"


class MailBuildError(Exception):
    """An outbox row could not be turned into a message.

    ``permanent`` is True when the row itself is unusable (no address, an invalid address, an
    erased payload): trying again cannot help. Template problems are our bugs, fixable by a
    deployment, so they are retried like a temporary failure.
    """

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class MailRequest:
    """The part of an outbox payload that describes one e-mail."""

    template: str
    language: str
    to_name: str
    to_email: str
    context: Mapping[str, Any]


@dataclass(frozen=True)
class OutgoingMail:
    """A message ready for a transport, with its SMTP envelope."""

    outbox_id: int
    data: bytes  # the whole message, CRLF lines, 7-bit
    sender: str
    recipients: tuple[str, ...]
    date: dt.datetime


def parse_payload(payload: Mapping[str, Any], *, default_language: str) -> MailRequest:
    """Read and check the e-mail fields of an outbox payload."""
    if payload.get("erased"):
        raise MailBuildError("payload erased (data-protection request)", permanent=True)
    template = payload.get("template")
    if not isinstance(template, str) or not TEMPLATE_NAME.fullmatch(template):
        raise MailBuildError("payload has no valid template name", permanent=True)
    to_email = payload.get("to_email")
    if not isinstance(to_email, str) or not to_email:
        raise MailBuildError("payload has no recipient address", permanent=True)
    language = payload.get("language")
    if language not in LANGUAGES:
        language = default_language
    context = payload.get("context") or {}
    if not isinstance(context, Mapping):
        raise MailBuildError("payload context is not an object", permanent=True)
    to_name = payload.get("to_name")
    return MailRequest(
        template=template,
        language=str(language),
        to_name=to_name if isinstance(to_name, str) else "",
        to_email=to_email,
        context=context,
    )


def _render_block(template: jinja2.Template, block: str, context: Mapping[str, Any]) -> str:
    render = template.blocks.get(block)
    if render is None:
        raise MailBuildError(
            f"template {template.name!r} has no {{% block {block} %}}", permanent=False
        )
    return "".join(render(template.new_context(dict(context))))


def render(template: str, language: str, context: Mapping[str, Any]) -> RenderedMail:
    """Render ``<template>.txt`` (blocks ``subject`` and ``body``) and ``<template>.html``.

    The HTML template receives the rendered ``subject`` too (for its ``<title>``).
    """
    env = mail_environment(language)
    values: dict[str, Any] = {"language": language, **context}
    try:
        text_template = env.get_template(f"{template}.txt")
        subject = " ".join(_render_block(text_template, SUBJECT_BLOCK, values).split())
        text = _render_block(text_template, BODY_BLOCK, values)
        html = env.get_template(f"{template}.html").render(values, subject=subject)
    except Exception as exc:  # a template or catalog bug (e.g. a wrong %(placeholder)s)
        raise MailBuildError(
            f"template {template!r}: {type(exc).__name__}: {exc}", permanent=False
        ) from exc
    if not subject:
        raise MailBuildError(f"template {template!r} renders an empty subject", permanent=False)
    return RenderedMail(subject=subject, text=text, html=html)


def clean_display_name(value: str) -> str:
    """A display name without control characters (no line breaks can reach a header)."""
    value = unicodedata.normalize("NFC", value)
    value = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in value)
    return " ".join(value.split())


@dataclass(frozen=True)
class Mailbox:
    """A display name and an ASCII address (``local@domain``), both checked."""

    name: str
    addr_spec: str

    @property
    def domain(self) -> str:
        return self.addr_spec.rpartition("@")[2]


def recipient_address(name: str, email: str) -> Mailbox:
    """The ``To`` address: the domain in its ASCII (IDNA) form, the name cleaned.

    An address whose local part is not ASCII would need SMTPUTF8; it is refused here.
    """
    try:
        checked = validate_email(email, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise MailBuildError(f"invalid recipient address: {exc}", permanent=True) from None
    if checked.ascii_email is None:  # only possible with SMTPUTF8, which is refused above
        raise MailBuildError("recipient address needs SMTPUTF8", permanent=True)
    return Mailbox(clean_display_name(name), checked.ascii_email)


def sender_address(settings: Settings) -> Mailbox:
    """``From``: ``mail_from``, a bare address (named "Samvirke") or ``Name <address>``."""
    name, addr = parseaddr(settings.mail_from)
    if not addr.isascii() or "@" not in addr or any(ch.isspace() for ch in addr):
        raise MailBuildError("SAMVIRKE_MAIL_FROM is not an e-mail address", permanent=False)
    return Mailbox(clean_display_name(name) or SENDER_NAME, addr)


def message_id(key: str, domain: str) -> str:
    """A Message-ID derived from the outbox key: a retry sends the same id again."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain or 'localhost'}>"


# UTF-8 bodies as quoted-printable (readable, safe for 7-bit servers); encoded words in
# headers as base64 (always valid, whatever the name holds; see scheduler.mail.headers).
_BODY = Charset("utf-8")
_BODY.body_encoding = QP
_POLICY = compat32.clone(linesep="\r\n", max_line_length=78)


def _checked(value: str) -> str:
    """A header value as given; a line break in it would start a new header, so it is refused."""
    if "\r" in value or "\n" in value:
        raise ValueError("line break in a header value")
    return value


def _set_header(message: Message, name: str, value: headers.Folded) -> None:
    # The generator takes a Header-like object as a value (see headers.Folded); typeshed types
    # only str.
    cast(Any, message)[name] = value


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, policy=_POLICY)
    part.set_payload(text, _BODY)  # UTF-8, quoted-printable
    return part


def compose(
    rendered: RenderedMail,
    *,
    sender: Mailbox,
    recipient: Mailbox,
    key: str,
    now: dt.datetime,
    calendar: CalendarPart | None = None,
    unsubscribe: UnsubscribeLinks | None = None,
) -> bytes:
    """Put the rendered parts and the headers together (text/plain with an HTML alternative)
    and return the message as it goes over SMTP (CRLF lines, 7-bit).

    With a ``calendar`` part (an invite), the structure calendar programs recognise:
    multipart/mixed [multipart/alternative [text/plain, text/html,
    text/calendar; method=...], application/ics attachment].

    This uses the ``compat32`` MIME classes: building and flattening a message with the
    ``email.policy`` header objects costs about three times as much, which a digest run of
    thousands of mails notices. Header values are therefore folded and checked here (see
    ``headers``); names and addresses reach this function already cleaned and validated.
    """
    if now.tzinfo is None:
        raise ValueError("naive datetime given as the date of a mail")
    body = MIMEMultipart("alternative", policy=_POLICY)
    body.attach(_text_part(rendered.text, "plain"))
    body.attach(_text_part(rendered.html, "html"))
    message = body
    if calendar is not None:
        body.attach(_calendar_alternative(calendar))
        message = MIMEMultipart("mixed", policy=_POLICY)
        message.attach(body)
        message.attach(_calendar_attachment(calendar))
    for part in message.walk():
        if part is not message:
            del part["MIME-Version"]  # said once, at the top
    _set_header(message, "From", headers.mailbox("From", sender.name, sender.addr_spec))
    _set_header(message, "To", headers.mailbox("To", recipient.name, recipient.addr_spec))
    _set_header(message, "Subject", headers.unstructured("Subject", rendered.subject))
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(key, sender.domain)
    # RFC 3834: an automatic message; out-of-office robots should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe is not None:
        add_unsubscribe_headers(message, unsubscribe)
    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=_POLICY).flatten(message)
    return buffer.getvalue()


def _calendar_alternative(part: CalendarPart) -> MIMENonMultipart:
    """The invite as ``text/calendar; method=...`` (what Outlook, Gmail and Apple Mail show as
    an invitation)."""
    alternative = MIMENonMultipart(
        "text", "calendar", policy=_POLICY, method=_checked(part.method), charset="UTF-8"
    )
    alternative.set_payload(part.data)
    encode_base64(alternative)
    return alternative


def _calendar_attachment(part: CalendarPart) -> MIMEApplication:
    """The invite as an ``.ics`` attachment (for everything else)."""
    attachment = MIMEApplication(part.data, "ics", encode_base64, policy=_POLICY)
    attachment.add_header("Content-Disposition", "attachment", filename=_checked(part.filename))
    return attachment


def calendar_part(payload: Mapping[str, Any], sender: Mailbox) -> CalendarPart | None:
    """The calendar part an outbox payload carries (an invite), if any."""
    data = payload.get("calendar")
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise MailBuildError("payload calendar part is not an object", permanent=True)
    try:
        return calendar_from_payload(data, organizer_email=sender.addr_spec)
    except ValueError as exc:
        raise MailBuildError(f"invalid calendar part: {exc}", permanent=True) from exc


def add_unsubscribe_headers(message: Message, links: UnsubscribeLinks) -> None:
    """RFC 2369 List-Unsubscribe, and RFC 8058 one-click when there is an HTTPS link (what
    Gmail and Yahoo require of bulk senders)."""
    targets = [f"<{links.url}>"] if links.url else []
    targets.append(f"<{links.mailto}>")
    _set_header(
        message, "List-Unsubscribe", headers.structured("List-Unsubscribe", ", ".join(targets))
    )
    if links.url and links.url.startswith("https://"):
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def build_message(claimed: ClaimedMessage, settings: Settings, *, now: dt.datetime) -> OutgoingMail:
    """Turn a claimed outbox row into a message and its envelope.

    :raises MailBuildError: the row cannot become a mail (see ``permanent``).
    """
    request = parse_payload(claimed.payload, default_language=settings.default_language)
    sender = sender_address(settings)
    recipient = recipient_address(request.to_name, request.to_email)
    unsubscribe = unsubscribe_links(
        claimed.payload.get("unsubscribe_token"),
        public_url=str(settings.public_url) if settings.public_url is not None else None,
        address=sender.addr_spec,
    )
    context: dict[str, Any] = {
        "public_url": str(settings.public_url) if settings.public_url else None,
        "unsubscribe_url": unsubscribe.url if unsubscribe else None,
        **request.context,
    }
    rendered = render(request.template, request.language, context)
    calendar = calendar_part(claimed.payload, sender)
    try:
        message = compose(
            rendered,
            sender=sender,
            recipient=recipient,
            key=claimed.key,
            now=now,
            calendar=calendar,
            unsubscribe=unsubscribe,
        )
    except ValueError as exc:
        raise MailBuildError(f"cannot compose message: {exc}", permanent=True) from exc
    return OutgoingMail(
        outbox_id=claimed.id,
        data=message,
        sender=sender.addr_spec,
        recipients=(recipient.addr_spec,),
        date=now,
    )
