"""The Telegram bot: `build_application(token, engine, store, settings)` and its webhook route, thin over `ask`."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import logging
import math
import re
import time
from collections import deque
from html import escape

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType, MessageEntityType, ParseMode
from telegram.error import RetryAfter, TelegramError
from telegram.ext import (Application, BaseRateLimiter, CallbackQueryHandler, CommandHandler, ContextTypes,
                          MessageHandler, filters)

from bot.conversations import ConversationStore
from bot.render import cited_ranges, telegram_html, telegram_passage, telegram_sources
from bot.index_watch import watch_index
from bot.settings import Settings
from retrieval.engine import Engine, ask
from retrieval.errors import BadQuestion, IndexNotFound
from retrieval.types import Answer

log = logging.getLogger(__name__)

COMMANDS = [("start", "what I know and how to ask"), ("help", "how to ask, and the buttons"),
            ("reset", "forget this chat's conversation"), ("sources", "the articles I answer from")]
UPDATES = ["message", "edited_message", "callback_query"]  # all the bot handles
HELP = ("Ask me a question in plain words and I answer from the news articles I know, with numbered sources.\n"
        "Follow-up questions (\"What did she say next?\") continue the conversation; /reset starts afresh.\n"
        "Under an answer, <b>Passage n</b> shows the whole passage a source comes from, and 👍 / 👎 tell me "
        "whether the answer helped.\nIn a group, mention me or reply to me.\n/sources lists the articles.")
NOT_TEXT = "I read text only: send me your question in words."
EDITED = "I answer new messages only: send the corrected question again."
APOLOGY = "Sorry, something went wrong on my side. Please try again in a moment."
MAX_CALLBACK_BYTES = 64
# Button data: "p:<n>:<passage row>:<start>-<end>,..." (the cited sentences in the passage), "f:<turn>:<1|0>".
_PASSAGE = re.compile(r"p:(\d+):(\d+):(\d+-\d+(?:,\d+-\d+)*)?")
_VOTE = re.compile(r"f:(\d+):([01])")


def build_application(token: str, engine: Engine, store: ConversationStore, settings: Settings,
                      polling: bool = True) -> Application:
    """Without `polling` the application has no updater: updates come from the webhook route."""
    builder = (Application.builder().token(token).base_url(settings.telegram_api_url).concurrent_updates(True)
               .rate_limiter(HonourRetryAfter()).post_init(_started).post_shutdown(_stopped))
    if not polling:
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data["watch_seconds"] = settings.reload_seconds if polling else None
    application.bot_data["engine"] = engine
    bot = CiteqaBot(engine, store, settings)
    message, private = filters.UpdateType.MESSAGE, filters.ChatType.PRIVATE
    application.add_handlers([
        CommandHandler("start", bot.start, filters=message),
        CommandHandler("help", bot.help, filters=message),
        CommandHandler("reset", bot.reset, filters=message),
        CommandHandler("sources", bot.sources, filters=message),
        MessageHandler(message & filters.TEXT & ~filters.COMMAND, bot.question),
        CallbackQueryHandler(bot.button),
        MessageHandler(message & private & filters.COMMAND, bot.help),
        MessageHandler(filters.UpdateType.EDITED_MESSAGE & private, bot.edited),
        MessageHandler(message & private, bot.not_text),  # stickers, photos, voice, ...
    ])
    application.add_error_handler(bot.error)
    return application


class CiteqaBot:
    """The handlers: each parses, calls `ask` (in a thread) or the store, and renders."""

    def __init__(self, engine: Engine, store: ConversationStore, settings: Settings):
        self.engine, self.store, self.settings = engine, store, settings
        self.limit = ChatRateLimit(settings.telegram_rate_limit, settings.telegram_rate_window_seconds)
        self.locks: dict[int, asyncio.Lock] = {}

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        articles = self.engine.index.version.articles
        examples = self.settings.telegram_examples[:3] or [f"What is “{a.title}” about?" for a in
                                                           list(articles.values())[:3]]
        lines = "\n".join(f"• {escape(e)}" for e in examples)
        await update.effective_message.reply_html(
            f"Hello! I answer questions from <b>{len(articles)}</b> news articles and show the passages each "
            f"answer rests on. Try:\n{lines}\n\n/sources lists the articles, /help explains the buttons.")

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_html(HELP)

    async def reset(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await asyncio.to_thread(self.store.forget, _conversation(update.effective_chat.id))
        await update.effective_message.reply_text("Done: I forgot this conversation. Ask me something new.")

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        articles = sorted(self.engine.index.version.articles.values(), key=lambda a: a.id)
        for part in telegram_sources([(a.title, a.date) for a in articles]):
            await update.effective_message.reply_html(part)

    async def question(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        text = _addressed(message, context.bot)
        if text is None:
            return
        if not text:
            await message.reply_text(f"Write your question after @{context.bot.username}."
                                     if message.chat.type != ChatType.PRIVATE else NOT_TEXT)
            return
        allowed, wait = self.limit.take(message.chat_id)
        if not allowed:
            if wait is not None:
                await message.reply_text(f"You're asking faster than I can read: please wait {math.ceil(wait)} "
                                         "seconds, then ask again.")
            return
        if len(self.locks) > 10_000:
            self.locks = {chat: lock for chat, lock in self.locks.items() if lock.locked()}
        # One question at a time per chat, so a follow-up always sees the turn before it.
        async with self.locks.setdefault(message.chat_id, asyncio.Lock()), _typing(context.bot, message.chat_id):
            answer, turn = await asyncio.to_thread(self._ask, _conversation(message.chat_id), text)
        parts = telegram_html(answer)
        for k, part in enumerate(parts):
            await message.reply_html(part, do_quote=k == 0 and message.chat.type != ChatType.PRIVATE,
                                     reply_markup=self._keyboard(answer, turn) if k == len(parts) - 1 else None)

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if passage := _PASSAGE.fullmatch(query.data or ""):
            n, row, marks = passage.groups()
            highlights = [(int(s), int(e)) for s, _, e in (m.partition("-") for m in (marks or "").split(",") if m)]
            await self._passage(query, context.bot, int(n), int(row), highlights)
        elif vote := _VOTE.fullmatch(query.data or ""):
            await self._feedback(query, int(vote.group(1)), vote.group(2) == "1")
        else:
            await query.answer("That button no longer works.")

    async def edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(EDITED)

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(NOT_TEXT)

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Library errors become a plain reply; anything else is logged and apologised for."""
        err = context.error
        if isinstance(err, BadQuestion):
            reply = f"I can't ask that: {err}."
        elif isinstance(err, IndexNotFound):
            reply = "I have no articles loaded yet: please try again in a minute."
        else:
            log.error("update %s failed", getattr(update, "update_id", update), exc_info=err)
            reply = APOLOGY
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is not None:
            with contextlib.suppress(TelegramError):
                await context.bot.send_message(chat.id, reply)

    def _ask(self, conversation: str, text: str) -> tuple[Answer, int]:
        answer = ask(self.engine, text, self.store.history(conversation))
        return answer, self.store.append(conversation, answer.as_turn())

    def _keyboard(self, answer: Answer, turn: int) -> InlineKeyboardMarkup:
        by_id = self.engine.index.version.by_id
        passages = []
        for c in answer.citations:
            passage = by_id.get(c.passage_id)
            if passage is None or passage.text != c.quote:  # the index changed since: no stale button
                continue
            data = f"p:{c.n}:{passage.row}:" + ",".join(f"{s}-{e}" for s, e in cited_ranges(answer, c.n))
            if len(data.encode()) > MAX_CALLBACK_BYTES:
                data = f"p:{c.n}:{passage.row}:"
            passages.append(InlineKeyboardButton(f"Passage {c.n}", callback_data=data))
        votes = [InlineKeyboardButton("👍", callback_data=f"f:{turn}:1"),
                 InlineKeyboardButton("👎", callback_data=f"f:{turn}:0")]
        return InlineKeyboardMarkup([passages, votes] if passages else [votes])

    async def _passage(self, query, bot: Bot, n: int, row: int, highlights: list[tuple[int, int]]) -> None:
        """Passages are found by their row, which the index never gives to other text."""
        version = self.engine.index.version
        position = version.position.get(row)
        if position is None:
            await query.answer("That passage is no longer in the index.", show_alert=True)
            return
        passage = version.passages[position]
        await query.answer()
        for part in telegram_passage(n, passage.title, passage.date, passage.text, highlights):
            await bot.send_message(query.message.chat.id, part, parse_mode=ParseMode.HTML)

    async def _feedback(self, query, turn: int, helpful: bool) -> None:
        conversation = _conversation(query.message.chat.id)
        if not await asyncio.to_thread(self.store.turn_exists, conversation, turn):
            await query.answer("That answer is no longer in this chat's history.")
            return
        await asyncio.to_thread(self.store.add_feedback, conversation, turn, helpful, None, "telegram")
        await query.answer("Thanks for the feedback!")
        if isinstance(query.message, Message) and query.message.reply_markup:
            rows = [row for row in query.message.reply_markup.inline_keyboard
                    if not any((b.callback_data or "").startswith("f:") for b in row)]
            await query.edit_message_reply_markup(InlineKeyboardMarkup(rows) if rows else None)


class ChatRateLimit:
    """At most `limit` questions per chat in a sliding window; a chat over it is told once per window."""

    def __init__(self, limit: int, window: float, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self.asked: dict[int, deque[float]] = {}
        self.told: dict[int, float] = {}

    def take(self, chat: int) -> tuple[bool, float | None]:
        """(allowed, seconds to tell the chat to wait, or None to stay quiet)."""
        if not self.limit:
            return True, None
        now = self.clock()
        if len(self.asked) > 10_000:  # forget chats that have been quiet for a window
            self.asked = {c: q for c, q in self.asked.items() if q and q[-1] > now - self.window}
            self.told = {c: t for c, t in self.told.items() if t > now - self.window}
        asked = self.asked.setdefault(chat, deque())
        while asked and asked[0] <= now - self.window:
            asked.popleft()
        if len(asked) < self.limit:
            asked.append(now)
            return True, None
        if self.told.get(chat, -math.inf) > now - self.window:
            return False, None
        self.told[chat] = now
        return False, asked[0] + self.window - now


class HonourRetryAfter(BaseRateLimiter[None]):
    """Telegram's 429 says how long to wait: wait that long and send again, a few times at most."""

    def __init__(self, attempts: int = 3, longest: float = 60.0):
        self.attempts, self.longest = attempts, longest

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        for attempt in range(1, self.attempts + 1):
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as err:
                wait = err.retry_after
                wait = wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
                if attempt == self.attempts or wait > self.longest:
                    raise
                log.warning("Telegram asked to wait %.0f s before %s (attempt %d)", wait, endpoint, attempt)
                await asyncio.sleep(wait)


async def register_commands(bot: Bot) -> None:
    await bot.set_my_commands([BotCommand(name, about) for name, about in COMMANDS])


async def register_webhook(settings: Settings, url: str) -> None:
    async with Bot(settings.telegram_token, base_url=settings.telegram_api_url) as bot:
        await bot.set_webhook(url, secret_token=settings.telegram_webhook_secret, allowed_updates=UPDATES)
        await register_commands(bot)


def run_polling(settings: Settings, engine: Engine) -> None:
    """`citeqa telegram`: long polling until interrupted."""
    store = ConversationStore(settings.conversations, settings.conversation_ttl_seconds,
                              settings.conversation_max_turns)
    try:
        build_application(settings.telegram_token, engine, store, settings).run_polling(allowed_updates=UPDATES)
    finally:
        store.close()


def mount_webhook(app: FastAPI, settings: Settings) -> None:
    """POST /telegram/webhook: updates from Telegram, checked against the secret token, handled by an
    Application built on the first update over `app.state.engine` and `app.state.conversations`."""
    secret = settings.telegram_webhook_secret.encode()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.telegram, app.state.telegram_lock = None, asyncio.Lock()
        yield
        if app.state.telegram is not None:
            await app.state.telegram.stop()
            await app.state.telegram.shutdown()

    router = APIRouter(lifespan=lifespan)

    @router.post("/telegram/webhook", include_in_schema=False)
    async def telegram_webhook(request: Request) -> Response:
        given = request.headers.get("x-telegram-bot-api-secret-token", "").encode()
        if not hmac.compare_digest(given, secret):
            raise HTTPException(403, detail="wrong or missing secret token")
        try:
            data = await request.json()
        except ValueError:
            raise HTTPException(400, detail="the body is not JSON") from None
        application = await _webhook_application(request.app, settings)
        try:
            update = Update.de_json(data, application.bot)
        except (AttributeError, KeyError, TypeError, ValueError):
            update = None
        if update is None:
            raise HTTPException(400, detail="the body is not a Telegram update")
        await application.update_queue.put(update)  # answered at once; the update is handled in the background
        return Response(status_code=200)

    app.include_router(router)


async def _webhook_application(app: FastAPI, settings: Settings) -> Application:
    async with app.state.telegram_lock:
        if app.state.telegram is None:
            application = build_application(settings.telegram_token, app.state.engine, app.state.conversations,
                                            settings, polling=False)
            await application.initialize()
            await application.start()
            app.state.telegram = application
    return app.state.telegram


async def _started(application: Application) -> None:
    await register_commands(application.bot)
    if application.bot_data.get("watch_seconds"):
        application.bot_data["watcher"] = asyncio.create_task(
            watch_index(application.bot_data["engine"], application.bot_data["watch_seconds"]))


async def _stopped(application: Application) -> None:
    if watcher := application.bot_data.pop("watcher", None):
        watcher.cancel()


def _conversation(chat_id: int) -> str:
    return f"telegram:{chat_id}"


def _addressed(message: Message, bot: Bot) -> str | None:
    """The question in a message meant for the bot, without its @mention; None when not meant for it.

    In private chats every message is; in groups, one that mentions the bot or replies to it.
    """
    text = message.text or ""
    if message.chat.type == ChatType.PRIVATE:
        return text.strip()
    mention = f"@{bot.username}"
    mentioned = any(value.lower() == mention.lower() for value in
                    message.parse_entities([MessageEntityType.MENTION]).values())
    replied = message.reply_to_message is not None and message.reply_to_message.from_user is not None \
        and message.reply_to_message.from_user.id == bot.id
    if not (mentioned or replied):
        return None
    return " ".join(re.sub(re.escape(mention) + r"(?!\w)", " ", text, flags=re.I).split())


@contextlib.asynccontextmanager
async def _typing(bot: Bot, chat_id: int):
    """'typing…' in the chat until the block ends (Telegram shows one action for five seconds)."""
    async def keep_typing():
        while True:
            with contextlib.suppress(TelegramError):
                await bot.send_chat_action(chat_id, ChatAction.TYPING)
            await asyncio.sleep(4.5)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
