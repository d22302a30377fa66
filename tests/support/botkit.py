"""Drive the real Application with real ``telegram.Update`` objects, never touching the network.

``RecordingRequest`` is a ``BaseRequest`` (as in python-telegram-bot's own tests) that answers
every Bot API call the way Telegram would and records it; ``ChatDriver`` plays members who type
text, send commands and press buttons, step by step.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

from tests.support.clock import Clock as Clock

BOT_ID = 999_000
BOT_USERNAME = "samvirke_test_bot"
TOKEN = "999000:TEST-TOKEN"


@dataclass
class ApiCall:
    method: str
    url: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class SentMessage:
    """A message the bot sent (edits applied), as a member would see it."""

    message_id: int
    chat_id: int
    text: str
    buttons: list[dict[str, Any]]
    document: bytes | None = None
    filename: str | None = None

    def button(self, text: str) -> dict[str, Any]:
        for b in self.buttons:
            if b["text"] == text or b.get("callback_data") == text:
                return b
        raise KeyError(f"no button {text!r} in {[b['text'] for b in self.buttons]}")

    @property
    def button_texts(self) -> list[str]:
        return [b["text"] for b in self.buttons]


class RecordingRequest(BaseRequest):
    """Answers Bot API calls locally, as Telegram would, and records them."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []
        self.messages: dict[int, SentMessage] = {}
        self._ids = itertools.count(1000)
        self.blocked_chats: set[int] = set()

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        files: dict[str, bytes] = {}
        if request_data is not None and request_data.contains_files:
            for name, value in request_data.multipart_data.items():
                if isinstance(value, tuple):
                    files[name] = value[1] if isinstance(value[1], bytes) else value[1].read()
        self.calls.append(ApiCall(api_method, url, params, files))
        chat_id = params.get("chat_id")
        if chat_id is not None and int(str(chat_id)) in self.blocked_chats:
            return 403, json.dumps(
                {
                    "ok": False,
                    "error_code": 403,
                    "description": "Forbidden: bot was blocked by the user",
                }
            ).encode()
        return 200, json.dumps(
            {"ok": True, "result": self._result(api_method, params, files)}
        ).encode()

    def _result(self, method: str, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Samvirke",
                "username": BOT_USERNAME,
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method in ("sendMessage", "sendDocument", "sendPhoto"):
            message_id = next(self._ids)
            chat_id = int(params["chat_id"])
            markup = _markup(params.get("reply_markup"))
            document = next(iter(files.values()), None)
            filename = None
            if method == "sendDocument":
                filename = _attached_filename(params.get("document"))
            self.messages[message_id] = SentMessage(
                message_id,
                chat_id,
                str(params.get("text") or params.get("caption") or ""),
                markup,
                document,
                filename,
            )
            result: dict[str, Any] = {
                "message_id": message_id,
                "date": int(dt.datetime.now(dt.UTC).timestamp()),
                "chat": {"id": chat_id, "type": "private"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Samvirke"},
            }
            if method == "sendMessage":
                result["text"] = params.get("text", "")
            else:
                result["caption"] = params.get("caption", "")
                result["document"] = {
                    "file_id": f"f{message_id}",
                    "file_unique_id": f"u{message_id}",
                }
            if params.get("reply_markup"):
                result["reply_markup"] = _as_dict(params["reply_markup"])
            return result
        if method in ("editMessageText", "editMessageReplyMarkup"):
            message = self.messages.get(int(params.get("message_id", 0)))
            if message is not None:
                if method == "editMessageText":
                    message.text = str(params.get("text", ""))
                message.buttons = _markup(params.get("reply_markup"))
                return {
                    "message_id": message.message_id,
                    "date": int(dt.datetime.now(dt.UTC).timestamp()),
                    "chat": {"id": message.chat_id, "type": "private"},
                    "text": message.text,
                }
            return True
        if method == "deleteMessage":
            self.messages.pop(int(params.get("message_id", 0)), None)
            return True
        return True

    # --- what tests look at -------------------------------------------------------------

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.messages.values() if m.chat_id == chat_id]

    def calls_of(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]


def _as_dict(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _markup(value: Any) -> list[dict[str, Any]]:
    if not value:
        return []
    markup = _as_dict(value)
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def _attached_filename(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("attach://"):
        return None
    return None


class ChatDriver:
    """Plays members in private chats with the bot, through ``Application.process_update``."""

    def __init__(self, application: Any, request: RecordingRequest) -> None:
        self.app = application
        self.request = request
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self.users: dict[int, dict[str, Any]] = {}

    def user(
        self,
        user_id: int,
        first_name: str = "Karen",
        last_name: str | None = "Jensen",
        language_code: str | None = "da",
        username: str | None = None,
    ) -> None:
        self.users[user_id] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            **({"last_name": last_name} if last_name else {}),
            **({"language_code": language_code} if language_code else {}),
            **({"username": username} if username else {}),
        }

    def _from(self, user_id: int) -> dict[str, Any]:
        if user_id not in self.users:
            self.user(user_id)
        return self.users[user_id]

    async def send(self, user_id: int, text: str) -> list[SentMessage]:
        """The member sends ``text`` (a command if it starts with /); returns the bot's replies."""
        return await self._process(self.message_update(user_id, text))

    def message_update(self, user_id: int, text: str) -> dict[str, Any]:
        """The update of ``text`` sent by this member in their private chat (not processed)."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(dt.datetime.now(dt.UTC).timestamp()),
            "chat": {"id": user_id, "type": "private"},
            "from": self._from(user_id),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"update_id": next(self._update_ids), "message": message}

    async def send_document(
        self, user_id: int, *, file_id: str, file_name: str, caption: str | None = None
    ) -> list[SentMessage]:
        """The member sends a file (a document), optionally with a caption."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(dt.datetime.now(dt.UTC).timestamp()),
            "chat": {"id": user_id, "type": "private"},
            "from": self._from(user_id),
            "document": {"file_id": file_id, "file_unique_id": f"u-{file_id}",
                         "file_name": file_name},
            **({"caption": caption} if caption else {}),
        }  # fmt: skip
        return await self._process({"update_id": next(self._update_ids), "message": message})

    async def send_photo(self, user_id: int) -> list[SentMessage]:
        message = {
            "message_id": next(self._message_ids),
            "date": int(dt.datetime.now(dt.UTC).timestamp()),
            "chat": {"id": user_id, "type": "private"},
            "from": self._from(user_id),
            "photo": [{"file_id": "p1", "file_unique_id": "pu1", "width": 10, "height": 10}],
        }
        return await self._process({"update_id": next(self._update_ids), "message": message})

    async def press(self, user_id: int, message: SentMessage, button: str) -> list[SentMessage]:
        """The member presses the inline button with this text (or callback data)."""
        data = message.button(button)["callback_data"]
        query = {
            "id": str(next(self._update_ids)),
            "from": self._from(user_id),
            "chat_instance": str(user_id),
            "data": data,
            "message": {
                "message_id": message.message_id,
                "date": int(dt.datetime.now(dt.UTC).timestamp()),
                "chat": {
                    "id": message.chat_id,
                    "type": "private" if message.chat_id > 0 else "supergroup",
                },
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Samvirke"},
                "text": message.text,
            },
        }
        return await self._process({"update_id": next(self._update_ids), "callback_query": query})

    async def send_update(self, kind: str, data: dict[str, Any]) -> list[SentMessage]:
        """Any other update (``my_chat_member``, ``inline_query``, ``chosen_inline_result``,
        ...), given as the Bot API's JSON; ``from`` may name a user id."""
        data = dict(data)
        if isinstance(data.get("from"), int):
            data["from"] = self._from(data["from"])
        return await self._process({"update_id": next(self._update_ids), kind: data})

    async def _process(self, data: dict[str, Any]) -> list[SentMessage]:
        before = set(self.request.messages)
        await self.app.process_update(Update.de_json(data, self.app.bot))
        return [m for i, m in self.request.messages.items() if i not in before]

    def last(self, chat_id: int) -> SentMessage:
        return self.request.sent_to(chat_id)[-1]


ADMIN_ID = 1


@dataclass
class BotHarness:
    app: Any
    request: RecordingRequest
    chat: ChatDriver
    services: Any
    clock: Clock


async def start_bot(db: Any, clock: Clock, **settings: Any) -> BotHarness:
    return await start_bot_with(db, clock, settings=settings)


async def start_bot_with(
    db: Any,
    clock: Clock,
    *,
    request: RecordingRequest | None = None,
    limiter: Any = None,
    settings: dict[str, Any] | None = None,
) -> BotHarness:
    """The bot on ``request`` (e.g. one that asks a stand-in Bot API first), keeping to
    ``limiter`` (a ``RateLimiter``) when one is given."""
    from bot.app import build_application
    from bot.context import Services
    from samvirke.settings import load_settings

    config = load_settings(
        _env_file=None,
        telegram_token=TOKEN,
        database_url=db.url,
        admins=str(ADMIN_ID),
        **(settings or {}),
    )
    services = Services(settings=config, db=db, clock=clock)
    request = request or RecordingRequest()
    app = build_application(
        services, request=request, get_updates_request=RecordingRequest(), limiter=limiter
    )
    await app.initialize()
    return BotHarness(app, request, ChatDriver(app, request), services, clock)


async def stop_bot(harness: BotHarness) -> None:
    await harness.app.update_persistence()
    await harness.app.shutdown()


# --- helpers for the bot tests: members who have signed up, and what the database holds -------


def asked_again(explanation: str, question: str) -> str:
    """What a wrong answer gets: one message with what was wrong, a blank line, the question."""
    return f"{explanation}\n\n{question}"


def snapshot(message: SentMessage) -> SentMessage:
    """The message as it is now, so a test can press a button the bot has since taken away."""
    import copy

    return copy.deepcopy(message)


async def sign_up_member(
    harness: BotHarness,
    user_id: int,
    *,
    first_name: str = "Karen",
    last_name: str | None = "Jensen",
    language_code: str | None = "en",
    username: str | None = None,
    email: str = "karen@example.dk",
    organisation: str | None = "Sociale Entreprenører i Danmark",
    sector: str = "civil_society",
    region: str = "Region Midtjylland",
) -> list[SentMessage]:
    """A whole sign-up with the Telegram name; returns the bot's replies to the consent."""
    chat = harness.chat
    chat.user(user_id, first_name, last_name, language_code=language_code, username=username)
    replies = await chat.send(user_id, "/start")
    replies = await chat.press(user_id, replies[-1], "su:name")
    replies = await chat.send(user_id, email)
    if organisation is None:
        replies = await chat.press(user_id, replies[-1], "su:org:skip")
    else:
        replies = await chat.send(user_id, organisation)
    replies = await chat.press(user_id, replies[-1], f"su:sector:{sector}")
    replies = await chat.press(user_id, replies[-1], region)
    return await chat.press(user_id, replies[-1], "su:consent:yes")


def _detached(uow: Any, row: Any) -> Any:
    """Keep a loaded row readable after its unit of work ends (which rolls back)."""
    uow.session.expunge_all()
    return row


async def find_member(db: Any, telegram_user_id: int) -> Any:
    """The live (not erased) members row of this Telegram user, or None."""
    from sqlalchemy import select

    from storage.models import Member

    async with db.unit_of_work() as uow:
        member = await uow.session.scalar(
            select(Member).where(
                Member.telegram_user_id == telegram_user_id, Member.deleted_at.is_(None)
            )
        )
        return _detached(uow, member)


async def member_row(db: Any, member_id: int) -> Any:
    """The members row with this id, whatever its state."""
    from storage.models import Member

    async with db.unit_of_work() as uow:
        return _detached(uow, await uow.session.get(Member, member_id))


async def count_members(db: Any) -> int:
    from sqlalchemy import func, select

    from storage.models import Member

    async with db.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(Member)) or 0)


async def outbox_rows(db: Any, member_id: int | None = None) -> list[Any]:
    """Rows of the outbox (of one member if given), oldest first."""
    from sqlalchemy import select

    from storage.models import OutboxMessage

    async with db.unit_of_work() as uow:
        statement = select(OutboxMessage).order_by(OutboxMessage.id)
        if member_id is not None:
            statement = statement.where(OutboxMessage.member_id == member_id)
        return [_detached(uow, row) for row in (await uow.session.scalars(statement)).all()]


async def latest_code(db: Any, member_id: int) -> str:
    """The code in the member's newest verification mail (as the mail would show it)."""
    mails = [r for r in await outbox_rows(db, member_id) if r.payload["template"] == "verification"]
    assert mails, "no verification mail in the outbox"
    return str(mails[-1].payload["context"]["code"])


async def verify_member(harness: BotHarness, db: Any, user_id: int) -> list[SentMessage]:
    """The member types the code from their newest verification mail."""
    member = await find_member(db, user_id)
    assert member is not None
    return await harness.chat.send(user_id, await latest_code(db, member.id))


def record_filenames(request: RecordingRequest) -> list[str]:
    """From now on, collect the file names of the documents the bot sends (newest last).

    (``SentMessage.filename`` stays None: ``_attached_filename`` above does not read it.)
    """
    names: list[str] = []
    original = request.do_request

    async def do_request(*args: Any, **kwargs: Any) -> tuple[int, bytes]:
        data = kwargs.get("request_data")
        if data is not None and data.contains_files:
            for value in data.multipart_data.values():
                if isinstance(value, tuple) and value[0]:
                    names.append(str(value[0]))
        return await original(*args, **kwargs)

    request.do_request = do_request  # type: ignore[method-assign]
    return names
