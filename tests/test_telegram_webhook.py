"""The Telegram webhook route and the `citeqa telegram` command, against the Bot API imitation on 127.0.0.1."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time

from botapi import WAIT
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.conversation_store import ConversationStore
from bot.settings import Settings
from bot.telegram.transport import mount_webhook
import pytest

pytestmark = pytest.mark.slow  # servers, processes, a browser or many builds: not in `make test-fast`

SECRET = "s3cret-Token_1"
RIGHT = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


def webhook_settings(api, tmp_path) -> Settings:
    return Settings(_env_file=None, telegram_token=api.token, telegram_api_url=api.url,
                    telegram_webhook_secret=SECRET, conversations=tmp_path / "conversations.sqlite")


def test_webhook_checks_the_secret_and_answers_updates(bot_api, tiny_engine, tmp_path):
    store = ConversationStore(tmp_path / "conversations.sqlite")

    @contextlib.asynccontextmanager
    async def lifespan(app):  # what bot/api/app.py's lifespan provides
        app.state.engine, app.state.conversations = tiny_engine, store
        yield

    app = FastAPI(lifespan=lifespan)
    mount_webhook(app, webhook_settings(bot_api, tmp_path))
    with TestClient(app) as client:
        start = bot_api.webhook_update("/start")
        assert client.post("/telegram/webhook", json=start).status_code == 403
        wrong = {"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1] + "2"}
        assert client.post("/telegram/webhook", json=start, headers=wrong).status_code == 403
        assert bot_api.calls == []  # a refused update never reaches the bot
        assert client.post("/telegram/webhook", content=b"{", headers=RIGHT).status_code == 400
        since = bot_api.mark()
        assert client.post("/telegram/webhook", json=start, headers=RIGHT).status_code == 200
        [welcome] = bot_api.wait_replies(1, since)
        since = bot_api.mark()
        question = bot_api.webhook_update("Who opened the new harbour bridge?")
        assert client.post("/telegram/webhook", json=question, headers=RIGHT).status_code == 200
        [answer] = bot_api.wait_replies(1, since)
    assert "3 news articles" in welcome["text"]
    assert "Ines Duarte" in answer["text"] and "Passage 1" in str(answer["reply_markup"])
    assert [t.question for t in store.history("telegram:1")] == ["Who opened the new harbour bridge?"]
    assert bot_api.called("getUpdates") == []  # webhook mode never polls
    store.close()


def test_the_http_api_serves_the_webhook_when_token_and_secret_are_set(bot_api, tiny_engine, tmp_path):
    from bot.api.app import create_app

    with TestClient(create_app(tiny_engine, webhook_settings(bot_api, tmp_path))) as client:
        assert client.post("/telegram/webhook", json={}, headers={}).status_code == 403
        since = bot_api.mark()
        assert client.post("/telegram/webhook", json=bot_api.webhook_update("/sources"), headers=RIGHT).status_code == 200
        [sources] = bot_api.wait_replies(1, since)
    assert sources["text"].startswith("The 3 articles I know")
    without = Settings(_env_file=None, conversations=tmp_path / "c2.sqlite")
    with TestClient(create_app(tiny_engine, without)) as client:
        assert client.post("/telegram/webhook", json={}, headers=RIGHT).status_code in (404, 405)


def citeqa(*args, env=None, cwd=None, **kwargs):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "telegram", *args], env={**clean, **(env or {})},
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_the_command_needs_a_token(tmp_path):
    out, err = citeqa(cwd=tmp_path).communicate(timeout=WAIT)
    assert "CITEQA_TELEGRAM_TOKEN" in err and "Traceback" not in err


def test_the_command_registers_the_webhook(bot_api, tmp_path):
    env = {"CITEQA_TELEGRAM_TOKEN": bot_api.token, "CITEQA_TELEGRAM_API_URL": bot_api.url}
    url = "https://bot.example.org/telegram/webhook"
    process = citeqa("--webhook", url, env=env, cwd=tmp_path)
    assert process.wait(WAIT) == 1 and "CITEQA_TELEGRAM_WEBHOOK_SECRET" in process.stderr.read()
    process = citeqa("--webhook", "http://insecure.example.org/hook", env={**env, "CITEQA_TELEGRAM_WEBHOOK_SECRET": SECRET},
                     cwd=tmp_path)
    err = process.stderr.read()
    assert process.wait(WAIT) == 1 and "https url must be provided" in err.lower()
    assert bot_api.token not in err  # httpx would log every URL, and the token is in them
    process = citeqa("--webhook", url, env={**env, "CITEQA_TELEGRAM_WEBHOOK_SECRET": SECRET}, cwd=tmp_path)
    assert process.wait(WAIT) == 0, process.stderr.read()
    assert bot_api.webhook["url"] == url and bot_api.webhook["secret_token"] == SECRET
    assert [c["command"] for c in bot_api.commands] == ["start", "help", "reset", "sources", "filter"]


def test_the_command_long_polls_until_interrupted(bot_api, tiny_engine, tmp_path):
    env = {"CITEQA_TELEGRAM_TOKEN": bot_api.token, "CITEQA_TELEGRAM_API_URL": bot_api.url,
           "CITEQA_INDEX": str(tiny_engine.index_dir), "CITEQA_MODEL": tiny_engine.embedder.name,
           "CITEQA_CONVERSATIONS": str(tmp_path / "c.sqlite"), "NO_PROXY": "127.0.0.1,localhost"}
    bot_api.webhook = {"url": "https://old.example.org/hook"}  # polling must take it down first
    process = citeqa(env=env, cwd=tmp_path)
    try:
        since = bot_api.mark()
        bot_api.say("Who opened the new harbour bridge?")
        [answer] = bot_api.wait_replies(1, since)
        assert "Ines Duarte" in answer["text"]
        assert bot_api.webhook is None and bot_api.commands
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(WAIT)
    assert process.returncode == 0, process.stderr.read()


def test_the_command_stays_up_not_ready_while_the_store_is_unreachable_and_answers_once_an_index_appears(
        bot_api, tiny_engine, tmp_path):
    from conftest import free_port

    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {"CITEQA_TELEGRAM_TOKEN": bot_api.token, "CITEQA_TELEGRAM_API_URL": bot_api.url,
           "CITEQA_MODEL": tiny_engine.embedder.name, "CITEQA_RELOAD_SECONDS": "0.2",
           "CITEQA_CONVERSATIONS": str(tmp_path / "c.sqlite"), "NO_PROXY": "127.0.0.1,localhost"}
    process = citeqa(env={**env, "CITEQA_STORE_URI": uri}, cwd=tmp_path)
    try:
        since = bot_api.mark()
        bot_api.say("Who opened the new harbour bridge?")
        [reply] = bot_api.wait_replies(1, since)
        assert "no articles loaded yet" in reply["text"] and process.poll() is None
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(WAIT)
    err = process.stderr.read()
    assert process.returncode == 0 and "Traceback" not in err, err
    assert [line for line in err.splitlines() if "not ready" in line and f"CITEQA_STORE_URI={uri}" in line], err

    # The default store with no index yet: the bot polls not-ready, and answers once one is published.
    index = tmp_path / "later"
    process = citeqa(env={**env, "CITEQA_INDEX": str(index)}, cwd=tmp_path)
    try:
        since = bot_api.mark()
        bot_api.say("Who opened the new harbour bridge?")
        [reply] = bot_api.wait_replies(1, since)
        assert "no articles loaded yet" in reply["text"]
        shutil.copytree(tiny_engine.index_dir, index)
        deadline = time.monotonic() + WAIT
        while True:  # the watch looks every 0.2 s; a question asked before it loads gets the same reply
            since = bot_api.mark()
            bot_api.say("Who opened the new harbour bridge?")
            [reply] = bot_api.wait_replies(1, since)
            if "Ines Duarte" in reply["text"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert "Ines Duarte" in reply["text"], reply
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(WAIT)
    assert process.returncode == 0, process.stderr.read()


def test_the_command_refuses_a_store_uri_of_no_known_kind_with_one_line(bot_api, tmp_path):
    env = {"CITEQA_TELEGRAM_TOKEN": bot_api.token, "CITEQA_TELEGRAM_API_URL": bot_api.url,
           "CITEQA_STORE_URI": "ftp://example.org/citeqa"}
    process = citeqa(env=env, cwd=tmp_path)
    assert process.wait(WAIT) == 1
    err = process.stderr.read()
    assert "CITEQA_STORE_URI='ftp://example.org/citeqa'" in err and "Traceback" not in err, err
