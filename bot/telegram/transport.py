"""The Telegram bot's transport: `build_application(token, engine, store, settings)`, and how updates reach it
(long polling, or the HTTP API's webhook route) and replies leave it (python-telegram-bot's rate limiter)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from telegram import Bot, BotCommand, Update
from telegram.ext import AIORateLimiter, Application

from bot.conversation_store import ConversationStore, purge_expired_every
from bot.index_watch import watch_index
from bot.settings import Settings
from bot.telegram.buttons import BUTTONS_KEPT
from bot.telegram.handlers import COMMANDS, UPDATES, CiteqaBot
from retrieval.engine import Engine


def build_application(token: str, engine: Engine, store: ConversationStore, settings: Settings,
                      polling: bool = True) -> Application:
    """Without `polling` the application has no updater: updates come from the webhook route."""
    builder = (Application.builder().token(token).base_url(settings.telegram_api_url).concurrent_updates(True)
               # The library's limiter keeps under Telegram's flood limits (30 messages a second, 20 a minute
               # in a group) and waits out a 429's retry_after, three times at most.
               .rate_limiter(AIORateLimiter(max_retries=3)).arbitrary_callback_data(BUTTONS_KEPT)
               .post_init(_started).post_shutdown(_stopped))
    if not polling:
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data["watch_seconds"] = settings.reload_seconds if polling else None
    application.bot_data["engine"] = engine
    # Polling runs on its own; behind the webhook the API's own schedule deletes expired conversations.
    application.bot_data["purge"] = (store, settings.conversation_purge_seconds) if polling else None
    bot = CiteqaBot(engine, store, settings)
    application.add_handlers(bot.handlers())
    application.add_error_handler(bot.error)
    return application


async def register_commands(bot: Bot) -> None:
    await bot.set_my_commands([BotCommand(name, about) for name, about in COMMANDS])


async def register_webhook(settings: Settings, url: str) -> None:
    async with Bot(settings.telegram_token.get_secret_value(), base_url=settings.telegram_api_url) as bot:
        await bot.set_webhook(url, secret_token=settings.telegram_webhook_secret.get_secret_value(), allowed_updates=UPDATES)
        await register_commands(bot)


def run_polling(settings: Settings, engine: Engine) -> None:
    """`citeqa telegram`: long polling until interrupted."""
    store = ConversationStore(settings.conversations, settings.conversation_ttl_seconds,
                              settings.conversation_max_turns)
    try:
        build_application(settings.telegram_token.get_secret_value(), engine, store, settings).run_polling(allowed_updates=UPDATES)
    finally:
        store.close()


def mount_webhook(app: FastAPI, settings: Settings) -> None:
    """POST /telegram/webhook: updates from Telegram, checked against the secret token, handled by an
    Application built on the first update over `app.state.engine` and `app.state.conversations`."""
    secret = settings.telegram_webhook_secret.get_secret_value().encode()

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
        application.bot.insert_callback_data(update)  # the button objects behind its keys, as polling does
        await application.update_queue.put(update)  # answered at once; the update is handled in the background
        return Response(status_code=200)

    app.include_router(router)


async def _webhook_application(app: FastAPI, settings: Settings) -> Application:
    async with app.state.telegram_lock:
        if app.state.telegram is None:
            application = build_application(settings.telegram_token.get_secret_value(), app.state.engine, app.state.conversations,
                                            settings, polling=False)
            await application.initialize()
            await application.start()
            app.state.telegram = application
    return app.state.telegram


async def _started(application: Application) -> None:
    await register_commands(application.bot)
    tasks = application.bot_data["tasks"] = []
    if application.bot_data.get("watch_seconds"):
        tasks.append(asyncio.create_task(watch_index(application.bot_data["engine"], application.bot_data["watch_seconds"])))
    if application.bot_data.get("purge"):
        tasks.append(asyncio.create_task(purge_expired_every(*application.bot_data["purge"])))


async def _stopped(application: Application) -> None:
    for task in application.bot_data.pop("tasks", []):
        task.cancel()
