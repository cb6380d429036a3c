"""The Telegram bot end to end: a real python-telegram-bot Application long-polls an imitation of the Bot
API on 127.0.0.1 (tests/botapi.py), which refuses what Telegram refuses."""

import re
import time
from html import escape, unescape

import pytest
from botapi import BOT, RunningBot
from conftest import TINY, write_corpus

from bot.conversation_store import ConversationStore
from bot.settings import Settings
from bot.telegram.transport import build_application
from bot.telegram.handlers import APOLOGY, EDITED, EXPIRED_BUTTON, EXPIRED_CONVERSATION, NOT_TEXT, ChatRateLimit
from retrieval.engine import Engine
from retrieval.index.files.refresh import build

pytestmark = pytest.mark.slow  # servers, processes, a browser or many builds: not in `make test-fast`

QUESTION = "Who opened the new harbour bridge?"
GROUP = -1001


@pytest.fixture
def store(tmp_path):
    store = ConversationStore(tmp_path / "conversations.sqlite")
    yield store
    store.close()


def settings_for(api, **overrides) -> Settings:
    return Settings(_env_file=None, telegram_token=api.token, telegram_api_url=api.url, reload_seconds=3600,
                    **overrides)


def running(api, engine, store, **overrides) -> RunningBot:
    return RunningBot(build_application(api.token, engine, store, settings_for(api, **overrides)))


def ask(api, text, chat_id=1, count=1, **kwargs) -> list[dict]:
    """Say `text` and return the bot's next `count` messages to the chat."""
    since = api.mark()
    api.say(text, chat_id, **kwargs)
    return api.wait_replies(chat_id, since, count)


def buttons(message) -> list[str]:
    return [b["text"] for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


def test_start_sources_and_help(bot_api, tiny_engine, store):
    with running(bot_api, tiny_engine, store):
        [welcome] = ask(bot_api, "/start")
        [sources] = ask(bot_api, "/sources")
        [help_] = ask(bot_api, "/help")
    assert [c["command"] for c in bot_api.commands] == ["start", "help", "reset", "sources", "filter"]
    assert "3 news articles" in welcome["text"]
    assert welcome["text"].count("• ") == 3 and "“New Harbour Bridge Opens”" in welcome["text"]
    assert "1. New Harbour Bridge Opens (March 3, 2021)\n2. City Library" in sources["text"]
    assert "3. Apple Harvest Breaks Record" in sources["text"]
    assert "Passage n" in help_["text"] and "/reset" in help_["text"]


def test_filter_limits_a_chats_answers_by_date_and_by_sources_number_and_refuses_what_it_cannot_read(
        bot_api, tiny_engine, store):
    def cited(message) -> set[str]:
        return set(re.findall(r"\[\d\] ([^\n]+)", message["text"]))

    with running(bot_api, tiny_engine, store):
        [shown] = ask(bot_api, "/filter")
        [dated] = ask(bot_api, "/filter from 2021-01-01 to 2021-12-31")
        [inside] = ask(bot_api, QUESTION)
        [elsewhere] = ask(bot_api, QUESTION, chat_id=2)  # another chat keeps every article
        [chosen] = ask(bot_api, "/filter articles 3")
        [outside] = ask(bot_api, QUESTION)
        refusals = [ask(bot_api, wrong)[0]["text"] for wrong in [
            "/filter from 2021-13-01", "/filter from 2021-05-01 to 2021-01-01", "/filter articles 9",
            "/filter articles 0", "/filter articles nosuch", "/filter banana", "/filter from"]]
        [kept] = ask(bot_api, "/filter")
        [lifted] = ask(bot_api, "/filter off")
        [again] = ask(bot_api, QUESTION)
    assert "every article" in shown["text"] and "/filter articles 1 3" in shown["text"]
    assert "published from 2021-01-01 to 2021-12-31" in dated["text"]
    assert cited(inside) == {"New Harbour Bridge Opens"} == cited(elsewhere)
    assert "Apple Harvest Breaks Record" in chosen["text"] and "published" not in chosen["text"]
    assert "New Harbour Bridge Opens" not in cited(outside)
    assert ["is not a date" in refusals[0], "wrong way round" in refusals[1], "no article 9" in refusals[2],
            "no article 0" in refusals[3], "no article “nosuch”" in refusals[4]] == [True] * 5
    assert all("I don't understand" in r for r in refusals[5:]), refusals[5:]
    assert "Apple Harvest Breaks Record" in kept["text"]  # a refused command changed nothing
    assert "every article" in lifted["text"] and cited(again) == {"New Harbour Bridge Opens"}


@pytest.mark.model
def test_a_question_with_citations_and_a_follow_up_that_depends_on_it(bot_api, seeds_engine, store):
    wipo = "WIPO Office in China Celebrates One Year of Operations"
    with running(bot_api, seeds_engine, store):
        [answer] = ask(bot_api, "When did the WIPO Office in China open?")
        [helpline] = ask(bot_api, "How many phone calls did its helpline get?")
        ask(bot_api, "What is the WIPO Office in China?", chat_id=3)
        [followup] = ask(bot_api, "When did it open?", chat_id=3)
        [alone] = ask(bot_api, "When did it open?", chat_id=2)
    assert "July 2014" in answer["text"] and "[1]" in answer["text"]
    assert f"[1] {wipo}" in answer["text"] and f"<b>{wipo}</b>" in answer["html"]
    assert buttons(answer)[0] == "Passage 1" and buttons(answer)[-2:] == ["👍", "👎"]
    assert (1, "typing") in bot_api.actions
    assert "300 phone calls" in helpline["text"]
    # "it" is the office only in the chat that was talking about it: there it is searched with the
    # office's words; alone it is searched as it stands (whatever the articles then make of it).
    assert wipo in followup["text"] and alone["text"]
    assert "WIPO Office in China" in store.history("telegram:3")[-1].search_query
    assert store.history("telegram:2")[-1].search_query == "When did it open?"
    assert [t.question for t in store.history("telegram:1")] == ["When did the WIPO Office in China open?",
                                                                 "How many phone calls did its helpline get?"]


def test_passage_button_and_feedback(bot_api, tiny_engine, store):
    with running(bot_api, tiny_engine, store):
        [answer] = ask(bot_api, QUESTION)
        since = bot_api.mark()
        passage_query = bot_api.press(answer, "Passage 1")
        [passage] = bot_api.wait_replies(1, since)
        vote_query = bot_api.press(answer, "👍")
        bot_api.wait_until(lambda: vote_query in bot_api.answers, "the feedback to be answered")
        bot_api.wait_until(lambda: "👍" not in buttons(bot_api.messages[1, answer["message_id"]]), "the vote buttons to go")
    sentence = "On March 3, 2021, the mayor of Port Alba, Ines Duarte, opened the new harbour bridge."
    assert sentence in answer["text"]
    assert passage["html"].startswith("<b>[1] New Harbour Bridge Opens</b>")
    # The quoted sentence in bold, the reader's span underlined inside it.
    span = unescape(re.search(r"<b>(.*?)</b>", answer["html"]).group(1))  # the answer's first bold: its span
    before, after = sentence.split(span)
    assert f"<b>{escape(before)}<u>{escape(span)}</u>{escape(after)}</b>" in passage["html"]
    assert "Alba Works Co., Ltd." in passage["text"]  # the whole passage, not just the quote
    assert passage_query in bot_api.answers
    assert store.feedback("telegram:1") == [(1, True, None, "telegram")]
    assert bot_api.answers[vote_query]["text"].startswith("Thanks")
    assert buttons(bot_api.messages[1, answer["message_id"]]) == ["Passage 1"]


def test_group_answers_only_when_mentioned_or_replied_to(bot_api, tiny_engine, store):
    with running(bot_api, tiny_engine, store):
        since = bot_api.mark()
        bot_api.say(QUESTION, GROUP, "group")
        bot_api.send_sticker(GROUP, "group")
        mention = bot_api.say(f"@{BOT['username']} who opened the new harbour bridge?", GROUP, "group")
        [answer] = bot_api.wait_replies(GROUP, since)
        [followup] = ask(bot_api, "How much did it cost?", GROUP, chat_type="group", reply_to=answer)
    assert answer["reply_to"] == mention["message_id"] and "Ines Duarte" in answer["text"]
    assert "40 million euros" in followup["text"]
    # Only the two addressed messages were asked, the mention taken out: the reply follows the answer up
    # in the conversation that the mention started.
    assert [t.question for t in store.history(f"telegram:{GROUP}/{mention['message_id']}")] == [
        "who opened the new harbour bridge?", "How much did it cost?"]


def test_a_reply_follows_up_the_answer_it_replies_to_in_groups_and_private_chats(bot_api, tiny_engine, store):
    with running(bot_api, tiny_engine, store):
        [bridge] = ask(bot_api, f"@{BOT['username']} {QUESTION}", GROUP, chat_type="group")
        [library] = ask(bot_api, f"@{BOT['username']} Who is the librarian?", GROUP, chat_type="group",
                        user={"id": 8, "is_bot": False, "first_name": "Bo"})
        [cost] = ask(bot_api, "How much did it cost?", GROUP, chat_type="group", reply_to=bridge)
        # In a private chat the conversation is the chat's, and a reply to an older answer goes back to it.
        [first] = ask(bot_api, QUESTION)
        ask(bot_api, "Who is the librarian?")
        [back] = ask(bot_api, "How much did it cost?", reply_to=first)
    assert "40 million euros" in cost["text"] and "40 million euros" in back["text"]
    threads = {t.question: t for t in store.history(f"telegram:{GROUP}/{bridge['reply_to']}")}
    assert list(threads) == [QUESTION, "How much did it cost?"]  # the librarian's question is its own thread
    assert [t.question for t in store.history(f"telegram:{GROUP}/{library['reply_to']}")] == ["Who is the librarian?"]
    assert [t.question for t in store.history("telegram:1")][-1] == "How much did it cost?"


def test_a_reply_to_someone_else_or_to_an_expired_answer_is_a_new_question(bot_api, tiny_engine, tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite", ttl_seconds=1.5)
    with running(bot_api, tiny_engine, store):
        other = bot_api.say("I think the bridge is lovely", GROUP, "group", user={"id": 8, "is_bot": False,
                                                                                 "first_name": "Bo"})
        since = bot_api.mark()
        bot_api.say("Me too", GROUP, "group", reply_to=other)  # not for the bot: no answer
        [new] = ask(bot_api, f"@{BOT['username']} {QUESTION}", GROUP, chat_type="group", reply_to=other)
        assert bot_api.sent_since(GROUP, since) == [new]
        [answer] = ask(bot_api, QUESTION)
        time.sleep(1.6)
        [late] = ask(bot_api, "How much did it cost?", reply_to=answer)
        [help_] = ask(bot_api, "/help")
        [after_help] = ask(bot_api, QUESTION, reply_to=help_)
    assert "Ines Duarte" in new["text"]
    assert late["text"].startswith("I no longer have a conversation behind that message (I keep them for")
    assert "hours), so I read this as a new question." in late["text"]
    assert [t.question for t in store.history("telegram:1")] == ["How much did it cost?", QUESTION]
    assert "Ines Duarte" in after_help["text"] and "no longer" not in after_help["text"]
    store.close()


def test_a_chat_whose_conversation_expired_is_told_so_once(bot_api, tiny_engine, tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite", ttl_seconds=1.5)
    with running(bot_api, tiny_engine, store):
        [first] = ask(bot_api, QUESTION)  # a chat's first question: nothing expired, nothing said
        time.sleep(1.6)
        [late] = ask(bot_api, "How much did it cost?")
        [next_] = ask(bot_api, "How much did it cost?")
        ask(bot_api, "/reset")
        [after_reset] = ask(bot_api, QUESTION)  # forgotten on request: not "expired"
    assert EXPIRED_CONVERSATION not in first["text"] and "Ines Duarte" in first["text"]
    assert late["text"].startswith(EXPIRED_CONVERSATION)
    assert EXPIRED_CONVERSATION not in next_["text"] and EXPIRED_CONVERSATION not in after_reset["text"]
    store.close()


def test_forged_and_expired_buttons_get_a_friendly_answer_and_change_nothing(bot_api, tiny_engine, tmp_path):
    path = tmp_path / "c.sqlite"
    store = ConversationStore(path)
    with running(bot_api, tiny_engine, store):
        [answer] = ask(bot_api, QUESTION)
        since = bot_api.mark()
        forged = [bot_api.press(answer, "👍", data=data) for data in ("f:1:1", "x" * 64, "")]
        for query in forged:
            told = bot_api.wait_answer(query)
            assert told["text"] == EXPIRED_BUTTON and told["show_alert"] in (True, "true")
    store.close()
    store = ConversationStore(path)
    with running(bot_api, tiny_engine, store):  # a restart: the library no longer holds the buttons' objects
        stale = [bot_api.press(answer, label) for label in ("Passage 1", "👍")]
        for query in stale:
            assert bot_api.wait_answer(query)["text"] == EXPIRED_BUTTON
    assert bot_api.sent_since(1, since) == [] and store.feedback("telegram:1") == []
    assert "👍" in buttons(bot_api.messages[1, answer["message_id"]])
    store.close()


def test_stickers_edits_unknown_commands_and_errors_get_a_hint_and_the_bot_keeps_running(bot_api, tiny_engine, tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite")
    with running(bot_api, tiny_engine, store):
        since = bot_api.mark()
        sent = bot_api.say(QUESTION)
        bot_api.wait_replies(1, since)
        for act, hint in [(lambda: bot_api.send_sticker(), NOT_TEXT), (lambda: bot_api.edit(sent, "Who?"), EDITED),
                          (lambda: bot_api.say("/weather"), "Ask me a question in plain words")]:
            since = bot_api.mark()
            act()
            assert hint in bot_api.wait_replies(1, since)[0]["text"]
        [too_long] = ask(bot_api, "why " * 300)
        assert too_long["text"] == "I can't ask that: the question is longer than 1000 characters."
        store.close()  # a real failure inside a handler: the store is gone
        [sorry] = ask(bot_api, QUESTION)
        assert sorry["text"] == APOLOGY
        [help_] = ask(bot_api, "/help")
        assert "Ask me a question" in help_["text"]


def test_a_very_long_reply_is_split_into_messages_telegram_accepts(bot_api, hashing, tmp_path, store):
    words = " ".join(f"breakwaterconstructionsegment{k:03d}" for k in range(140))
    write_corpus(tmp_path / "corpus", {**TINY, "giant": f"Harbour Works Report\n\nThe harbour works programme "
                                                         f"covered {words}.\n"})
    build(tmp_path / "corpus", tmp_path / "index", hashing)
    engine = Engine.open(tmp_path / "index", hashing)
    with running(bot_api, engine, store):
        parts = ask(bot_api, "What did the harbour works programme cover?", count=2)
        since = bot_api.mark()
        bot_api.press(parts[-1], "Passage 1")
        passage = bot_api.wait_replies(1, since, 2)
    assert all(len(p["text"]) <= 4096 for p in parts + passage)  # the imitation refuses anything longer
    assert "reply_markup" not in parts[0] and buttons(parts[-1])[0] == "Passage 1"
    for messages in (parts, passage):
        shown = " ".join(p["text"] for p in messages).replace(".", " ").split()
        assert [w for w in shown if w.startswith("breakwater")][:140] == words.split()
    # The highlighted sentence runs over two messages: bold is closed at the cut and opened again.
    assert passage[0]["html"].endswith("</b>") and passage[1]["html"].startswith("<b>")


def test_telegram_429_is_waited_out(bot_api, tiny_engine, store):
    with running(bot_api, tiny_engine, store):
        bot_api.refuse_next("sendMessage", retry_after=1)
        [answer] = ask(bot_api, QUESTION)
    assert "Ines Duarte" in answer["text"]
    assert len([p for p in bot_api.called("sendMessage") if p["text"] == answer["html"]]) == 2


def test_a_chat_over_the_rate_limit_is_told_to_wait(bot_api, tiny_engine, store):
    with running(bot_api, tiny_engine, store, telegram_rate_limit=2):
        since = bot_api.mark()
        for question in (QUESTION, "How much did it cost?", "Who is the librarian?"):
            bot_api.say(question)
        replies = bot_api.wait_replies(1, since, 3)
        [other_chat] = ask(bot_api, QUESTION, chat_id=3)
    told = [r["text"] for r in replies if "faster than I can read" in r["text"]]
    assert len(told) == 1 and "seconds" in told[0]
    assert len(store.history("telegram:1")) == 2
    assert "Ines Duarte" in other_chat["text"]


def test_a_restart_keeps_the_conversation_and_reset_forgets_it(bot_api, tiny_engine, tmp_path):
    path = tmp_path / "conversations.sqlite"
    first = ConversationStore(path)
    with running(bot_api, tiny_engine, first):
        ask(bot_api, QUESTION)
    first.close()
    second = ConversationStore(path)
    with running(bot_api, tiny_engine, second):
        [followup] = ask(bot_api, "How much did it cost?")
        history = second.history("telegram:1")
        [done] = ask(bot_api, "/reset")
    assert "40 million euros" in followup["text"]
    assert [t.question for t in history] == [QUESTION, "How much did it cost?"]
    assert "harbour bridge" in history[1].search_query  # the follow-up was searched with the first turn's words
    assert "forgot" in done["text"] and second.history("telegram:1") == []
    second.close()


def test_rate_limit_window_and_telling_once():
    now = [0.0]
    limit = ChatRateLimit(2, 60, clock=lambda: now[0])
    assert limit.take(1) == (True, None) and limit.take(1) == (True, None)
    now[0] = 10
    assert limit.take(1) == (False, 50)  # told how long until the first question leaves the window
    assert limit.take(1) == (False, None)  # and not told again within the window
    assert limit.take(2) == (True, None)  # other chats are not affected
    now[0] = 60
    assert limit.take(1) == (True, None)
    assert ChatRateLimit(0, 60).take(1) == (True, None)  # 0: no limit


def test_without_an_index_the_bot_says_so(bot_api, hashing, tmp_path, store):
    with running(bot_api, Engine(tmp_path / "no-index", hashing), store):
        [start] = ask(bot_api, "/start")
        [answer] = ask(bot_api, QUESTION)
    assert start["text"] == answer["text"] == "I have no articles loaded yet: please try again in a minute."


def test_inline_mode_answers_with_the_cited_answer_or_says_the_articles_dont(bot_api, tiny_engine, store):
    with running(bot_api, tiny_engine, store):
        answered = bot_api.wait_answer(bot_api.inline(QUESTION))
        declined = bot_api.wait_answer(bot_api.inline("What is the capital of Mongolia?"))
    [result] = answered["results"]
    assert result["type"] == "article" and "Ines Duarte" in result["shown"] and "[1]" in result["shown"]
    assert "New Harbour Bridge Opens" in result["shown"] and "New Harbour Bridge Opens" in result["description"]
    assert result["input_message_content"]["parse_mode"] == "HTML"
    assert 0 < int(answered["cache_time"]) <= 60
    [result] = declined["results"]
    assert result["title"] == "The articles don't say"
    assert store.history("telegram:42") == []  # an inline question starts no conversation


@pytest.mark.parametrize("text, title", [("", None), ("   ", None), ("why " * 75, "That question is too long")])
def test_an_empty_or_over_long_inline_query_gets_a_clear_answer(bot_api, tiny_engine, store, text, title):
    with running(bot_api, tiny_engine, store):
        answer = bot_api.wait_answer(bot_api.inline(text))
    if title is None:
        assert answer["results"] == []
    else:
        [result] = answer["results"]
        assert result["title"] == title and "256" in result["shown"]


def test_an_answer_from_a_web_page_links_to_it_under_the_quote(bot_api, hashing, tmp_path, store):
    from web_site import PARAGRAPHS

    from retrieval.web.article_file import Source, render

    url = "https://news.example.org/2024/03/05/harbour-cafe-to-close?a=1&b=2"
    corpus = write_corpus(tmp_path / "corpus", TINY)
    (corpus / "cafe.txt").write_text(render("Harbour café to close", Source(url, "2024-03-05"), "\n".join(PARAGRAPHS)),
                                     encoding="utf-8")
    build(corpus, tmp_path / "index", hashing)
    with running(bot_api, Engine.open(tmp_path / "index", hashing), store):
        [answer] = ask(bot_api, "Who has run the café on the quay since 2009?")
    assert "Inês Duarte" in answer["text"]
    # Under the quote: the page's host as a link to it (its & escaped as Telegram's HTML wants), and its date.
    assert f'\nSource: <a href="{escape(url)}">news.example.org</a> (2024-03-05)' in answer["html"]
    assert "Source: news.example.org (2024-03-05)" in answer["text"]
