"""What the Telegram bot does with a command, a question or a button press: the chat logic over `ask`."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import re
import textwrap
import time
from collections import deque
from html import escape

from telegram import (Bot, CallbackQuery, InlineQueryResultArticle, InputTextMessageContent, Message, Update)
from telegram.constants import ChatAction, ChatType, MessageEntityType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes, InlineQueryHandler,
                          InvalidCallbackData, MessageHandler, filters)

from bot.telegram.filters import USAGE, FilterError, describe, parse_filter
from bot.conversation_store import ConversationStore, converse
from bot.render import telegram_html, telegram_passage, telegram_sources
from bot.settings import Settings
from bot.telegram.buttons import ShowPassage, Vote, answer_keyboard, without_votes
from retrieval.engine import Engine, ask
from retrieval.errors import BadQuestion, IndexNotFound
from retrieval.errors import StoreUnavailable
from retrieval.types import Answer

log = logging.getLogger(__name__)

# Each command is handled by the CiteqaBot method of its name.
COMMANDS = [("start", "what I know and how to ask"), ("help", "how to ask, and the buttons"),
            ("reset", "forget this chat's conversation"), ("sources", "the articles I answer from"),
            ("filter", "answer only from some articles: dates, or /sources numbers")]
UPDATES = ["message", "edited_message", "callback_query", "inline_query"]  # all the bot handles
# Inline answers are cached by Telegram for this long: short, so a refreshed index shows soon.
INLINE_CACHE_SECONDS = 10
INLINE_MAX_CHARS = 256  # Telegram's own limit on an inline query
HELP = ("Ask me a question in plain words and I answer from the news articles I know, with numbered sources.\n"
        "Follow-up questions (\"What did she say next?\") continue the conversation; /reset starts afresh.\n"
        "Under an answer, <b>Passage n</b> shows the whole passage a source comes from, and 👍 / 👎 tell me "
        "whether the answer helped.\nReply to one of my answers to follow it up, in a group too (there, "
        "mention me to ask something new).\n/sources lists the articles; /filter limits my answers to some "
        "of them (by date, or by their /sources numbers).")
NOT_TEXT = "I read text only: send me your question in words."
EDITED = "I answer new messages only: send the corrected question again."
APOLOGY = "Sorry, something went wrong on my side. Please try again in a moment."
EXPIRED_BUTTON = "That button has expired: ask the question again for fresh ones."
# A chat's conversation idle past its time-to-live: the question read no earlier turns, and a follow-up
# ("And her sister?") would otherwise be answered as if it stood alone without a word.
EXPIRED_CONVERSATION = "(Earlier conversation expired; starting afresh.)"


class CiteqaBot:
    """The handlers: each parses, calls `ask` (in a thread) or the store, and renders."""

    def __init__(self, engine: Engine, store: ConversationStore, settings: Settings):
        self.engine, self.store, self.settings = engine, store, settings
        self.limit = ChatRateLimit(settings.telegram_rate_limit, settings.telegram_rate_window_seconds)
        self.locks: dict[int, asyncio.Lock] = {}

    def handlers(self) -> list[BaseHandler]:
        """In order: an update goes to the first that takes it. Errors go to `error`."""
        message, private = filters.UpdateType.MESSAGE, filters.ChatType.PRIVATE
        return [
            *(CommandHandler(name, getattr(self, name), filters=message) for name, _ in COMMANDS),
            MessageHandler(message & filters.TEXT & ~filters.COMMAND, self.question),
            # The library's own answer to a key it does not hold (forged, or older than its cache). First:
            # a press without data matches any pattern, so it lands here too.
            CallbackQueryHandler(self.expired_button, pattern=InvalidCallbackData),
            CallbackQueryHandler(self.button),
            InlineQueryHandler(self.inline),
            MessageHandler(message & private & filters.COMMAND, self.help),
            MessageHandler(filters.UpdateType.EDITED_MESSAGE & private, self.edited),
            MessageHandler(message & private, self.not_text),  # stickers, photos, voice, ...
        ]

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        articles = self.engine.index.articles
        examples = self.settings.telegram_examples[:3] or [f"What is “{title}” about?" for _, title, _, _ in
                                                           articles.headings[:3]]
        lines = "\n".join(f"• {escape(e)}" for e in examples)
        await update.effective_message.reply_html(
            f"Hello! I answer questions from <b>{len(articles)}</b> news articles and show the passages each "
            f"answer rests on. Try:\n{lines}\n\n/sources lists the articles, /help explains the buttons.")

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_html(HELP)

    async def reset(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # A group's conversations are threads of replies ("telegram:<chat>/<message>"): all of them go.
        await asyncio.to_thread(self.store.forget, _conversation(update.effective_chat.id), True)
        await update.effective_message.reply_text("Done: I forgot this conversation. Ask me something new.")

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        headings = self.engine.index.articles.headings  # in id order
        for part in telegram_sources([(title, date) for _, title, date, _ in headings]):
            await update.effective_message.reply_html(part)

    async def filter(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/filter: show or set which articles this chat's answers come from (bot/telegram/filters.py)."""
        chat = _conversation(update.effective_chat.id)
        headings = self.engine.index.articles.headings
        if context.args:
            try:
                chosen = parse_filter(context.args, headings)
            except FilterError as err:
                await update.effective_message.reply_text(str(err))
                return
            await asyncio.to_thread(self.store.set_filters, chat, chosen)
        else:
            chosen = await asyncio.to_thread(self.store.filters, chat)
        reply = describe(chosen, headings)
        await update.effective_message.reply_text(reply if context.args else f"{reply}\n\n{USAGE}")

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
        # One question at a time per chat, so a follow-up always sees the turn before it: the answer is sent
        # and its messages remembered before the chat's next question reads which answer it replies to.
        async with self.locks.setdefault(message.chat_id, asyncio.Lock()):
            async with _typing(context.bot, message.chat_id):
                conversation, until_turn, note = await asyncio.to_thread(self._thread, message, context.bot.id)
                chat_filters = await asyncio.to_thread(self.store.filters, _conversation(message.chat_id))
                answer, turn, before = await asyncio.to_thread(converse, self.engine, self.store, conversation,
                                                               text, chat_filters, until_turn)
            parts = telegram_html(answer, note=note or (EXPIRED_CONVERSATION if before == "expired" else None))
            for k, part in enumerate(parts):
                keyboard = answer_keyboard(answer, conversation, turn, self.engine.index.passage) \
                    if k == len(parts) - 1 else None
                sent = await message.reply_html(part, do_quote=k == 0 and message.chat.type != ChatType.PRIVATE,
                                                reply_markup=keyboard)
                # A reply to any part of the answer follows it up.
                await asyncio.to_thread(self.store.remember_message, _conversation(message.chat_id),
                                        sent.message_id, conversation, turn)

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button's object, as the library gives it back."""
        query = update.callback_query
        if isinstance(query.data, ShowPassage):
            await self._passage(query, context.bot, query.data)
        elif isinstance(query.data, Vote):
            await self._vote(query, query.data)
        else:  # an object this bot does not make: nothing to do but say so
            await self.expired_button(update, context)

    async def expired_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer(EXPIRED_BUTTON, show_alert=True)

    async def inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`@bot question` in any chat: the cited answer as one result to send there, or why there is none."""
        query = update.inline_query
        text = " ".join(query.query.split())
        if not text:
            await query.answer([], cache_time=INLINE_CACHE_SECONDS)  # Telegram shows nothing until a word is typed
            return
        if len(text) > INLINE_MAX_CHARS:
            result = _inline_result("That question is too long", f"Ask it in at most {INLINE_MAX_CHARS} characters.")
        elif not self.limit.take(query.from_user.id)[0]:
            result = _inline_result("Too many questions", "Please wait a minute, then ask again.")
        else:
            try:
                answer = await asyncio.to_thread(ask, self.engine, text)
            except BadQuestion as err:
                result = _inline_result("I can't ask that", f"{err}.")
            else:
                result = _inline_answer(answer)
        await query.answer([result], cache_time=INLINE_CACHE_SECONDS, is_personal=False)

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
        elif isinstance(err, StoreUnavailable):  # the index's server is down or refusing: its line, no traceback
            log.error("update %s failed: %s", getattr(update, "update_id", update), err)
            reply = "I can't reach my articles right now: please try again in a minute."
        else:
            log.error("update %s failed", getattr(update, "update_id", update), exc_info=err)
            reply = APOLOGY
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is not None:
            with contextlib.suppress(TelegramError):
                await context.bot.send_message(chat.id, reply)

    async def _passage(self, query: CallbackQuery, bot: Bot, press: ShowPassage) -> None:
        passage = self.engine.index.passage_by_row(press.row)
        if passage is None:
            await query.answer("That passage is no longer in the index.", show_alert=True)
            return
        await query.answer()
        for part in telegram_passage(press.n, passage.title, passage.date, passage.text, press.highlights, press.span):
            await bot.send_message(query.message.chat.id, part, parse_mode=ParseMode.HTML)

    async def _vote(self, query: CallbackQuery, vote: Vote) -> None:
        if not await asyncio.to_thread(self.store.turn_exists, vote.conversation, vote.turn):
            await query.answer("That answer is no longer in this chat's history.")
            return
        await asyncio.to_thread(self.store.add_feedback, vote.conversation, vote.turn, vote.helpful, None, "telegram")
        await query.answer("Thanks for the feedback!")
        if isinstance(query.message, Message) and query.message.reply_markup:
            await query.edit_message_reply_markup(without_votes(query.message.reply_markup))

    def _thread(self, message: Message, bot_id: int) -> tuple[str, int | None, str | None]:
        """(conversation, up to which turn its history counts, a note for the reply) for a question.

        A reply to one of the bot's answers follows that answer up, where it stood in its conversation.
        Otherwise a private chat is one conversation, and in a group each new question starts its own
        (several people ask there at once; replying is how a group follows up)."""
        chat = _conversation(message.chat_id)
        default = chat if message.chat.type == ChatType.PRIVATE else f"{chat}/{message.message_id}"
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or replied.from_user.id != bot_id:
            return default, None, None  # a reply to someone else's message is a new question
        found = self.store.message_turn(chat, replied.message_id)
        if found is not None:
            return found[0], found[1], None
        if replied.reply_markup is None:  # not an answer (answers end with buttons): /help, /sources, ...
            return default, None, None
        hours = self.settings.conversation_ttl_seconds / 3600
        return default, None, (f"I no longer have a conversation behind that message (I keep them for {hours:g} "
                               "hours), so I read this as a new question.")


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


def _inline_answer(answer: Answer) -> InlineQueryResultArticle:
    if answer.abstained:
        return _inline_result("The articles don't say", "Nothing in the articles I know answers that.")
    titles = "; ".join(dict.fromkeys(c.title for c in answer.citations))
    return InlineQueryResultArticle(
        id=_result_id(answer.question), title=answer.span or "Answer",
        description=textwrap.shorten(f"{answer.text} — {titles}", 200, placeholder=" …"),
        input_message_content=InputTextMessageContent(telegram_html(answer)[0], parse_mode=ParseMode.HTML))


def _inline_result(title: str, text: str) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(id=_result_id(title), title=title, description=text,
                                    input_message_content=InputTextMessageContent(f"{title}. {text}"))


def _result_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]  # 1-64 bytes, as Telegram asks


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
