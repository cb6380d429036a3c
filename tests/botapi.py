"""An imitation of the Telegram Bot API on 127.0.0.1, and a harness that runs a real python-telegram-bot
Application against it in a thread. It refuses what Telegram refuses: over-long texts, malformed HTML,
callback data over 64 bytes, and a 429 with retry_after when a test asks for one."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections import defaultdict
from html import unescape
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

BOT = {"id": 7000001, "is_bot": True, "first_name": "Citeqa", "username": "citeqa_test_bot",
       "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": True}
USER = {"id": 42, "is_bot": False, "first_name": "Ana"}
# The tags Telegram's HTML parse mode knows (https://core.telegram.org/bots/api#html-style).
TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
        "blockquote", "tg-emoji", "tg-time"}
JSON_FIELDS = {"results", "button", "reply_markup", "commands", "allowed_updates", "reply_parameters", "link_preview_options",
               "entities", "scope"}
ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
           "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"}
WAIT = 30.0  # the longest any test waits for the bot, in seconds


class Refused(Exception):
    def __init__(self, description: str, status: int = 400, parameters: dict | None = None):
        super().__init__(description)
        self.description, self.status, self.parameters = description, status, parameters


class BotAPI:
    """Holds the chats, the queue of updates for the bot and everything the bot sent; thread-safe."""

    def __init__(self, token: str = "4242:imitation-token"):
        self.token = token
        self.changed = threading.Condition()
        self.updates: list[dict] = []  # not yet confirmed by the bot
        self.update_ids, self.message_ids, self.query_ids = itertools.count(1), itertools.count(100), itertools.count(1)
        self.calls: list[tuple[str, dict]] = []  # every request, refused ones too
        self.outbox: list[dict] = []  # every message the bot sent, in order
        self.messages: dict[tuple[int, int], dict] = {}
        self.chats: dict[int, dict] = {}
        self.queries: set[str] = set()  # callback queries sent to the bot
        self.answers: dict[str, dict] = {}  # callback or inline query id -> the bot's answer
        self.actions: list[tuple[int, str]] = []
        self.commands: list[dict] | None = None
        self.webhook: dict | None = None
        self.too_many: dict[str, list[int]] = defaultdict(list)  # method -> retry_after for its next calls
        self.closed = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bot"

    def __enter__(self) -> "BotAPI":
        threading.Thread(target=self.server.serve_forever, name="botapi", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        with self.changed:
            self.closed = True
            self.changed.notify_all()
        self.server.shutdown()
        self.server.server_close()

    # What a test does: people write, press buttons; Telegram answers 429 once.

    def say(self, text: str, chat_id: int = 1, chat_type: str = "private", reply_to: dict | None = None,
            user: dict = USER) -> dict:
        message = self._message(chat_id, chat_type, user, text=text, entities=_entities(text))
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        self._push({"message": message})
        return message

    def webhook_update(self, text: str, chat_id: int = 1, chat_type: str = "private") -> dict:
        """The update Telegram would POST to a webhook for this message (not queued for getUpdates)."""
        message = self._message(chat_id, chat_type, USER, text=text, entities=_entities(text))
        return {"update_id": next(self.update_ids), "message": message}

    def edit(self, message: dict, text: str) -> None:
        edited = {**message, "text": text, "entities": _entities(text), "edit_date": int(time.time())}
        self._push({"edited_message": edited})

    def send_sticker(self, chat_id: int = 1, chat_type: str = "private") -> dict:
        sticker = {"file_id": "CAACAgIAAxk", "file_unique_id": "AgADx", "type": "regular", "width": 512,
                   "height": 512, "is_animated": False, "is_video": False, "emoji": "🙂"}
        message = self._message(chat_id, chat_type, USER, sticker=sticker)
        self._push({"message": message})
        return message

    def press(self, message: dict, button: str, user: dict = USER, data: str | None = None) -> str:
        """Press the inline button labelled `button` under one of the bot's messages; returns the query id.
        With `data`, the press carries that callback data instead of the button's (a forged press)."""
        buttons = [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
        data = data if data is not None else next(b["callback_data"] for b in buttons if b["text"] == button)
        with self.changed:
            query_id = str(next(self.query_ids))
            self.queries.add(query_id)
            current = _public(self.messages[message["chat"]["id"], message["message_id"]])
        self._push({"callback_query": {"id": query_id, "from": user, "chat_instance": "ci-1", "data": data,
                                       "message": current}})
        return query_id

    def inline(self, text: str, user: dict = USER) -> str:
        """Type `@bot text` in some chat; returns the inline query's id (its answer lands in `answers`)."""
        with self.changed:
            query_id = f"inline-{next(self.query_ids)}"
            self.queries.add(query_id)
        self._push({"inline_query": {"id": query_id, "from": user, "query": text, "offset": "", "chat_type": "sender"}})
        return query_id

    def wait_answer(self, query_id: str) -> dict:
        self.wait_until(lambda: query_id in self.answers, f"an answer to {query_id}")
        return self.answers[query_id]

    def refuse_next(self, method: str, retry_after: int = 1) -> None:
        """The next call of `method` gets 429 Too Many Requests with this retry_after."""
        with self.changed:
            self.too_many[method].append(retry_after)

    # What a test waits for, never longer than WAIT seconds.

    def mark(self) -> int:
        with self.changed:
            return len(self.outbox)

    def sent_since(self, chat_id: int, since: int) -> list[dict]:
        """The messages the bot sent to `chat_id` after `mark()` returned `since`, without waiting."""
        with self.changed:
            return [m for m in self.outbox[since:] if m["chat"]["id"] == chat_id]

    def wait_replies(self, chat_id: int, since: int, count: int = 1) -> list[dict]:
        """The messages the bot sent to `chat_id` after `mark()` returned `since`, once there are `count`."""
        def found():
            return [m for m in self.outbox[since:] if m["chat"]["id"] == chat_id]
        self.wait_until(lambda: len(found()) >= count, f"{count} message(s) to chat {chat_id}")
        return found()

    def wait_until(self, condition, what: str = "the bot"):
        with self.changed:
            if not self.changed.wait_for(condition, timeout=WAIT):
                raise AssertionError(f"waited {WAIT:.0f} s for {what}; calls: {[m for m, _ in self.calls[-10:]]}")
            return condition()

    def called(self, method: str) -> list[dict]:
        with self.changed:
            return [params for name, params in self.calls if name == method]

    # The Bot API methods.

    def call(self, method: str, params: dict):
        with self.changed:
            self.calls.append((method, params))
            self.changed.notify_all()
            if self.too_many.get(method):
                wait = self.too_many[method].pop(0)
                raise Refused(f"Too Many Requests: retry after {wait}", 429, {"retry_after": wait})
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            raise Refused("Bad Request: method not found")
        with self.changed:
            result = handler(params) if method != "getUpdates" else None
            self.changed.notify_all()  # what a test waits for may have just happened
        return self._getUpdates(params) if method == "getUpdates" else result

    def _getMe(self, params):
        return BOT

    def _getUpdates(self, params):
        """Long polling: waits up to `timeout` seconds for an update at or after `offset`; an offset
        confirms (forgets) every update before it."""
        offset, limit = int(params.get("offset") or 0), int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self.changed:
            if self.webhook:
                raise Refused("Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
                              "to delete the webhook first", 409)
            if offset:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and not self.closed and time.monotonic() < deadline:
                self.changed.wait(deadline - time.monotonic())
            return self.updates[:limit]

    def _sendMessage(self, params):
        chat = self._chat(params)
        text = _checked_text(params.get("text", ""), params.get("parse_mode"))
        markup = _checked_markup(params.get("reply_markup"))
        message = {"message_id": next(self.message_ids), "date": int(time.time()), "chat": chat, "from": BOT,
                   "text": text, "html": params.get("text")}
        if markup:
            message["reply_markup"] = markup
        if params.get("reply_parameters"):
            message["reply_to"] = params["reply_parameters"]["message_id"]
        self.messages[chat["id"], message["message_id"]] = message
        self.outbox.append(message)
        return _public(message)

    def _editMessageText(self, params):
        message = self._existing(params)
        text = _checked_text(params.get("text", ""), params.get("parse_mode"))
        markup = _checked_markup(params.get("reply_markup"))
        if text == message["text"] and markup == message.get("reply_markup"):
            raise Refused("Bad Request: message is not modified: specified new message content and reply markup "
                          "are exactly the same as a current content and reply markup of the message")
        message.update(text=text, html=params.get("text"), edit_date=int(time.time()))
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return _public(message)

    def _editMessageReplyMarkup(self, params):
        message = self._existing(params)
        markup = _checked_markup(params.get("reply_markup"))
        if markup == message.get("reply_markup"):
            raise Refused("Bad Request: message is not modified")
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return _public(message)

    def _sendChatAction(self, params):
        chat = self._chat(params)
        if params.get("action") not in ACTIONS:
            raise Refused("Bad Request: wrong parameter action in request")
        self.actions.append((chat["id"], params["action"]))
        return True

    def _answerCallbackQuery(self, params):
        query_id = params.get("callback_query_id", "")
        if query_id not in self.queries or query_id in self.answers:
            raise Refused("Bad Request: query is too old and response timeout expired or query ID is invalid")
        if len(params.get("text") or "") > 200:
            raise Refused("Bad Request: MESSAGE_TOO_LONG")
        self.answers[query_id] = params
        return True

    def _answerInlineQuery(self, params):
        query_id = params.get("inline_query_id", "")
        if query_id not in self.queries or query_id in self.answers:
            raise Refused("Bad Request: query is too old and response timeout expired or query ID is invalid")
        results = params.get("results")
        if not isinstance(results, list) or len(results) > 50:
            raise Refused("Bad Request: RESULTS_TOO_MUCH")
        for result in results:
            if not 1 <= len(str(result.get("id", "")).encode()) <= 64 or not result.get("title"):
                raise Refused("Bad Request: RESULT_ID_INVALID")
            content = result.get("input_message_content") or {}
            result["shown"] = _checked_text(content.get("message_text", ""), content.get("parse_mode"))
        self.answers[query_id] = params
        return True

    def _setMyCommands(self, params):
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100 or not all(
                re.fullmatch(r"[a-z0-9_]{1,32}", c.get("command", "")) and 1 <= len(c.get("description", "")) <= 256
                for c in commands):
            raise Refused("Bad Request: BOT_COMMAND_INVALID")
        self.commands = commands
        return True

    def _setWebhook(self, params):
        if not str(params.get("url", "")).startswith("https://"):
            raise Refused("Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if "secret_token" in params and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", params["secret_token"]):
            raise Refused("Bad Request: secret token contains unallowed characters")
        self.webhook = params
        return True

    def _deleteWebhook(self, params):
        self.webhook = None
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self.updates = []
        return True

    # Helpers.

    def _message(self, chat_id: int, chat_type: str, user: dict, **content) -> dict:
        chat = {"id": chat_id, "type": chat_type}
        chat.update({"first_name": user["first_name"]} if chat_type == "private" else {"title": f"Group {chat_id}"})
        with self.changed:
            self.chats[chat_id] = chat
            return {"message_id": next(self.message_ids), "date": int(time.time()), "chat": chat, "from": user,
                    **content}

    def _push(self, update: dict) -> None:
        with self.changed:
            self.updates.append({"update_id": next(self.update_ids), **update})
            self.changed.notify_all()

    def _chat(self, params) -> dict:
        chat_id = int(params.get("chat_id", 0))
        if chat_id not in self.chats:
            raise Refused("Bad Request: chat not found")
        return self.chats[chat_id]

    def _existing(self, params) -> dict:
        key = (self._chat(params)["id"], int(params.get("message_id", 0)))
        if key not in self.messages:
            raise Refused("Bad Request: message to edit not found")
        return self.messages[key]


def _handler(api: BotAPI):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            match = re.fullmatch(r"/bot([^/]+)/(\w+)", self.path)
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if not match or match.group(1) != api.token:
                return self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            try:
                result = api.call(match.group(2), _params(body, self.headers.get("content-type", "")))
            except Refused as err:
                reply = {"ok": False, "error_code": err.status, "description": err.description}
                return self._reply(err.status, {**reply, **({"parameters": err.parameters} if err.parameters else {})})
            self._reply(200, {"ok": True, "result": result})

        def _reply(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # a long poll the bot gave up on when it stopped

        def log_message(self, *args):
            pass

    return Handler


def _params(body: bytes, content_type: str) -> dict:
    """python-telegram-bot posts form fields; nested values are JSON strings."""
    if content_type.startswith("application/json"):
        return json.loads(body or b"{}")
    fields = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    return {k: json.loads(v) if k in JSON_FIELDS else v for k, v in fields.items()}


def _public(message: dict) -> dict:
    return {k: v for k, v in message.items() if k not in ("html", "reply_to")}


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def shown(html: str) -> str:
    """What Telegram shows for a text in HTML parse mode; Refused when it cannot parse it."""
    parser = _Entities()
    parser.feed(html)
    parser.close()
    return "".join(parser.text)


def _checked_text(text: str, parse_mode: str | None) -> str:
    """The text as the user will see it, or Refused as Telegram would."""
    if parse_mode and parse_mode.upper() == "HTML":
        text = shown(text)
    elif parse_mode:
        raise Refused(f"Bad Request: unsupported parse_mode {parse_mode}")
    if not text.strip():
        raise Refused("Bad Request: message text is empty")
    if _units(text) > 4096:
        raise Refused("Bad Request: message is too long")
    return text


def _checked_markup(markup: dict | None) -> dict | None:
    if markup is None:
        return None
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list):
        raise Refused("Bad Request: can't parse reply keyboard markup JSON object")
    for button in (b for row in rows for b in row):
        if not button.get("text"):
            raise Refused("Bad Request: BUTTON_TEXT_EMPTY")
        data = button.get("callback_data")
        if data is not None and not 1 <= len(data.encode()) <= 64:
            raise Refused("Bad Request: BUTTON_DATA_INVALID")
    return markup


class _Entities(HTMLParser):
    """Telegram's HTML: known tags only, balanced, and every <, > and & outside a tag escaped."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in TAGS:
            raise Refused(f'Bad Request: can\'t parse entities: Unsupported start tag "{tag}"')
        if tag == "a" and not dict(attrs).get("href"):
            raise Refused("Bad Request: can't parse entities: Can't find href in <a> tag")
        self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        raise Refused(f'Bad Request: can\'t parse entities: Unsupported start tag "{tag}/"')

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            raise Refused(f'Bad Request: can\'t parse entities: Unmatched end tag "{tag}"')
        self.stack.pop()

    def handle_data(self, data):
        if re.search(r"[<>&]", data):
            raise Refused("Bad Request: can't parse entities: unescaped <, > or &")
        self.text.append(data)

    def handle_entityref(self, name):
        if name not in ("lt", "gt", "amp", "quot"):
            raise Refused(f'Bad Request: can\'t parse entities: Unsupported entity "&{name};"')
        self.text.append(unescape(f"&{name};"))

    def handle_charref(self, name):
        self.text.append(unescape(f"&#{name};"))

    def unknown_decl(self, data):
        raise Refused("Bad Request: can't parse entities")

    handle_comment = handle_decl = handle_pi = unknown_decl

    def close(self):
        super().close()
        if self.rawdata:
            raise Refused("Bad Request: can't parse entities: unfinished tag")
        if self.stack:
            raise Refused(f'Bad Request: can\'t parse entities: Can\'t find end tag corresponding to start tag '
                          f'"{self.stack[-1]}"')


def _entities(text: str) -> list[dict]:
    """The entities Telegram would attach: a leading /command and @mentions, in UTF-16 offsets."""
    found = []
    for m in re.finditer(r"(?:^/[A-Za-z0-9_]+(?:@\w+)?)|(?:@\w{5,32})", text):
        kind = "bot_command" if m.group(0).startswith("/") else "mention"
        found.append({"type": kind, "offset": _units(text[:m.start()]), "length": _units(m.group(0))})
    return found


class RunningBot:
    """A real Application polling the imitation from its own thread and event loop, as `run_polling`
    would run it: initialize, post_init, start, poll ... stop the updater, stop, post_shutdown, shutdown."""

    def __init__(self, application, poll_timeout: float = 2):
        self.application, self.poll_timeout = application, poll_timeout
        self.ready, self.failure = threading.Event(), None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)

    def __enter__(self) -> "RunningBot":
        self.thread.start()
        if not self.ready.wait(WAIT) or self.failure:
            raise RuntimeError(f"the bot did not start: {self.failure!r}")
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the bot did not stop"
        self.loop.close()

    async def _main(self) -> None:
        self.stop = asyncio.Event()
        app = self.application
        try:
            async with app:
                if app.post_init:
                    await app.post_init(app)
                await app.start()
                await app.updater.start_polling(timeout=self.poll_timeout, allowed_updates=None)
                self.ready.set()
                await self.stop.wait()
                await app.updater.stop()
                await app.stop()
                if app.post_shutdown:
                    await app.post_shutdown(app)
        except BaseException as err:
            self.failure = err
            self.ready.set()
            raise
