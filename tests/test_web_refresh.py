"""News from feeds through the whole product: `citeqa refresh` (a real process) and the admin refresh collect
an RSS and an Atom feed served on 127.0.0.1, index what they bring, and the HTTP API answers with its sources;
faults are reported by URL while the rest is indexed and nothing indexed is lost."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
from fastapi.testclient import TestClient
from web_site import PAGES, PARAGRAPHS, SAVED, Answer, Site, article_html, atom, rss

from conftest import CITEQA, DEADLINE, TINY, citeqa_env, run_citeqa, write_corpus
from retrieval.embed.embedders import HashingEmbedder
from retrieval.engine import Engine
from retrieval.web.article_file import article_name

pytestmark = pytest.mark.slow  # servers, processes, a browser or many builds: not in `make test-fast`

MENU = ("World news", "Business pages", "Weather today", "Podcasts and video")
# Stories of their own: not copies of the hand-written articles already in the folder (TINY).
LIGHTHOUSE = ["The lighthouse of Cape Morro was lit again on Thursday night after two years of repairs, the harbour "
              "authority said, and its beam can again be seen forty kilometres out at sea.",
              "The keeper, Joana Leal, said that the new lamp uses a tenth of the power of the old one and that the "
              "tower will open to visitors on weekends from June."]
POOL = ["The town council of Vila Serra voted on Wednesday to rebuild the open-air swimming pool that storms "
        "destroyed last winter, at a cost of 2.4 million euros.",
        "The councillor for sport, Paulo Matos, said that 1,800 residents had written to ask for the pool and that "
        "the work would start in October and finish before the next summer."]
CIDER = ["The cider fair of São Vicente opened on Saturday with forty stalls, and the organisers said that the "
         "crème de cassis stand drew the longest queue of the day.",
         "Visitors paid €3 for a tasting glass; the mayor, Inês Vaz, called the fair “a naïve joy” and promised "
         "a bigger square next year."]
SAVED_PATHS = {"/guardian": "theguardian.com.academics", "/verge": "theverge.com.ios13", "/vice": "vice.com.amazon",
               "/salon": "salon.com.emissions", "/kulu": "kulu-media.com.meta-outage"}
TOKEN = "admin-token-for-tests"


def made(title: str, paragraphs: list[str], **meta) -> Answer:
    return Answer(article_html(title, paragraphs, menu=MENU, **meta).encode())


@pytest.fixture
def news_site():
    with Site() as site:
        for path, name in SAVED_PATHS.items():
            site.add(path, Answer((PAGES / f"{name}.html").read_bytes()))  # read where they are, never copied
        site.add("/cafe", made("Harbour café to close", PARAGRAPHS, date="2024-03-05", author="Ana Reis"))
        # The same story from a wire service: another site's introduction before the same paragraphs.
        site.add("/wire/cafe", made("Quay café shuts after lease row",
                                    ["PORT ALBA (Wire) - A well-loved harbour café is closing.", *PARAGRAPHS],
                                    date="2024-03-05"))
        site.add("/lighthouse", made("Cape Morro lighthouse lit again", LIGHTHOUSE))
        site.add("/cp1252", Answer(article_html("Cider fair opens in São Vicente", CIDER, charset="windows-1252")
                                   .encode("cp1252"), content_type="text/html"))
        site.add("/big", Answer(article_html("Huge", PARAGRAPHS * 3000).encode(), chunked=True))
        site.add("/ping", Answer(status=302, headers={"Location": "/pong"}))
        site.add("/pong", Answer(status=302, headers={"Location": "/ping"}))
        site.add("/front", made("Front page", []))
        rss_items = [("Academics", "/guardian", "2020-01-20"), ("FaceTime", "/verge", None), ("Café", "/cafe", None),
                     ("Lighthouse", "/lighthouse", "2024-09-30"), ("Huge", "/big", None), ("Loop", "/ping", None),
                     ("Front", "/front", None)]
        site.add("/rss.xml", rss(site, rss_items))
        site.add("/atom.xml", atom(site, [("Amazon", "/vice", None), ("Emissions", "/salon", None),
                                          ("Outage", "/kulu", None), ("Café (wire)", "/wire/cafe", None),
                                          ("Market", "/cp1252", None)]))
        site.add("/hang.xml", Answer(hang=True))
        site.add("/html.xml", made("Not a feed", PARAGRAPHS))
        site.rss_items = rss_items
        yield site


def feeds_file(corpus, site: Site) -> dict[str, str]:
    feeds = {name: site.url(f"/{name}.xml") for name in ("rss", "atom", "gone", "hang", "html")}
    (corpus / "feeds.txt").write_text("# news for citeqa\n" + "\n".join(feeds.values()) + "\nnot a url\n",
                                      encoding="utf-8")
    return feeds


def test_refresh_collects_the_feeds_and_answers_link_to_the_pages(news_site, tmp_path, wait_until):
    site = news_site
    corpus = write_corpus(tmp_path / "corpus", TINY)
    feeds = feeds_file(corpus, site)
    index = tmp_path / "index"
    env = citeqa_env(tmp_path, corpus, index, fetch_timeout_seconds=2, fetch_pause_seconds=0,
                     fetch_max_bytes=1_000_000, fetch_contact="mailto:news-desk@example.org")

    done = run_citeqa(["refresh"], env, tmp_path)

    assert done.returncode == 0, done.stderr
    out = done.stdout
    # A line a feed, with what it gave; each fault by its URL and why; then the refresh as before.
    counts = {feed: tuple(map(int, found.groups())) for feed in (feeds["rss"], feeds["atom"])
              for found in [re.search(re.escape(feed) + r": (\d+) entries, (\d+) new, (\d+) fetched, (\d+) written, "
                                      r"(\d+) failed, (\d+) duplicates", out)]}
    # Either copy of the café story may come first (the feeds are read at once): the other is its duplicate.
    assert counts[feeds["rss"]] in ((7, 7, 5, 4, 3, 0), (7, 7, 5, 3, 3, 1)), out
    assert counts[feeds["atom"]] in ((5, 5, 5, 4, 0, 1), (5, 5, 5, 5, 0, 0)), out
    assert counts[feeds["rss"]][5] + counts[feeds["atom"]][5] == 1
    assert f"{feeds['gone']}: failed: {feeds['gone']}: HTTP 404" in out
    assert f"{feeds['hang']}: failed: {feeds['hang']}: no answer within 2 s" in out
    assert f"{feeds['html']}: failed: {feeds['html']}: not RSS or Atom" in out
    assert f"failed {site.url('/big')}: over the 1000000-byte cap" in out
    assert f"failed {site.url('/ping')}: redirect loop" in out
    assert f"failed {site.url('/front')}: no article text found" in out
    assert "feeds.txt line 7: one URL a line, without spaces: 'not a url'" in out
    assert "added 11, changed 0, removed 0" in out and "published" in out  # 3 of ours + 8 fetched (one copy kept)
    assert f"reading {feeds['rss']}" in done.stderr and f"{feeds['rss']}: page 1 of 7" in done.stderr
    assert "citeqa/" in site.requests[0][1]["user-agent"] and "mailto:news-desk@example.org" in site.requests[0][1]["user-agent"]

    asked = run_citeqa(["ask", "--json", "Who spotted the FaceTime attention correction feature?"], env, tmp_path)
    assert asked.returncode == 0, asked.stderr
    [cited] = json.loads(asked.stdout)["citations"]
    assert (cited["url"], cited["published"]) == (SAVED["theverge.com.ios13"]["url"], "2019-07-03")

    from bot.api.app import create_app
    from bot.settings import Settings

    engine = Engine.open(index, HashingEmbedder(64))
    settings = Settings(_env_file=None, corpus=corpus, index=index, model="hashing-64", admin_token=TOKEN,
                        conversations=tmp_path / "c.sqlite", rate_limit_per_minute=0, fetch_timeout_seconds=2,
                        fetch_pause_seconds=0, fetch_max_bytes=1_000_000)
    with TestClient(create_app(engine, settings)) as client:
        listed = {a["id"]: a for a in client.get("/v1/articles").json()["articles"]}
        assert set(TINY) <= set(listed) and len(listed) == 11
        # A saved page: its main text, title, date and URL; not a word of its menus.
        guardian = client.get(f"/v1/articles/{article_name(site.url('/guardian'))}").json()
        gold = SAVED["theguardian.com.academics"]
        assert (guardian["title"], guardian["published"], guardian["url"]) == (gold["title"], gold["published"], gold["url"])
        assert gold["sentences"][0] in guardian["text"]
        assert not any(m in guardian["text"] for m in gold["menu"])
        market = client.get(f"/v1/articles/{article_name(site.url('/cp1252'))}").json()
        assert CIDER[1] in market["text"]  # another encoding, read as written

        # The same story from two feeds is one article, with its other source listed.
        cafe_ids = [a for a in (article_name(site.url("/cafe")), article_name(site.url("/wire/cafe"))) if a in listed]
        assert len(cafe_ids) == 1
        cafe = client.get(f"/v1/articles/{cafe_ids[0]}").json()
        assert {cafe["url"], *cafe["sources"]} == {site.url("/cafe"), site.url("/wire/cafe")}

        asked = client.post("/v1/ask", json={"question": "Who has run the café on the quay since 2009?"}).json()
        assert not asked["abstained"] and len(asked["citations"]) == 1, asked
        [citation] = asked["citations"]
        assert citation["article_id"] == cafe_ids[0] and citation["url"] == cafe["url"]
        assert citation["sources"] == cafe["sources"] and citation["published"] == "2024-03-05"
        text = cafe["text"]
        assert all(text[s["start"]:s["end"]] in citation["quote"] for s in citation["sentences"])
        assert "URL:" not in citation["quote"]  # the file's header is never cited

        # One new entry in the RSS feed: the admin refresh fetches that entry only, and loses nothing.
        site.add("/pool", made("Vila Serra will rebuild its pool", POOL))
        site.add("/rss.xml", rss(site, [("Pool", "/pool", "2024-05-01"), *site.rss_items]))
        hits = {path: site.hits(path) for path in [*SAVED_PATHS, "/cafe", "/wire/cafe", "/lighthouse", "/cp1252", "/front"]}
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert client.post("/v1/admin/refresh", headers=auth).status_code == 202
        # While the feeds are read (the hanging one holds the step for its 2 s), the status says how far each is.
        def reading_the_hanging_feed() -> bool:
            now = client.get("/v1/admin/refresh/status", headers=auth).json()
            return now["stage"] == "collecting" and f"reading {feeds['hang']}" in now["progress"]

        wait_until(reading_the_hanging_feed, "the admin refresh to report its feeds step")
        assert client.get("/v1/admin/refresh/status", headers=auth).json()["state"] == "running"
        wait_until(lambda: client.get("/v1/admin/refresh/status", headers=auth).json()["state"] != "running",
                   "the admin refresh")
        status = client.get("/v1/admin/refresh/status", headers=auth).json()
        assert status["state"] == "succeeded", status["error"]
        assert {path: site.hits(path) for path in hits} == hits and site.hits("/pool") == 1
        by_feed = {f["feed"]: f for f in status["feeds"]["feeds"]}
        assert (by_feed[feeds["rss"]]["new"], by_feed[feeds["rss"]]["fetched"]) == (1, 1)
        assert by_feed[feeds["rss"]]["written"] == [article_name(site.url("/pool"))]
        assert feeds["hang"] in by_feed[feeds["hang"]]["error"] and "HTTP 404" in by_feed[feeds["gone"]]["error"]
        assert f"{feeds['html']}: failed" in status["feeds"]["report"]
        assert status["added"] == 1 and status["removed"] == 0 and status["unchanged"] == 11 and status["swapped"]
        asked = client.post("/v1/ask", json={"question": "How many residents wrote to ask for the pool?"})
        assert asked.json()["citations"][0]["url"] == site.url("/pool")
        assert client.get("/v1/articles").json()["total"] == 12


def test_refresh_without_feeds_is_as_before_and_a_bad_fetch_setting_is_one_line(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", TINY)
    env = citeqa_env(tmp_path, corpus, tmp_path / "index")
    done = run_citeqa(["refresh"], env, tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("added 3, changed 0"), done.stdout
    assert "feeds" not in done.stdout and not (corpus / "feeds.ledger.json").exists()

    bad = run_citeqa(["refresh"], {**env, "CITEQA_FETCH_TIMEOUT_SECONDS": "-1"}, tmp_path)
    assert bad.returncode == 1 and "bad setting: CITEQA_FETCH_TIMEOUT_SECONDS='-1'" in bad.stderr


def test_a_feeds_file_of_nothing_but_bad_lines_is_reported_and_the_folder_still_indexed(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", TINY)
    (corpus / "feeds.txt").write_bytes(b"ftp://example.org/feed\n\xff\xfe junk line\n")
    done = run_citeqa(["refresh"], citeqa_env(tmp_path, corpus, tmp_path / "index"), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "feeds.txt line 1: only http and https are fetched, not ftp" in done.stdout
    assert "feeds.txt line 2: one URL a line, without spaces" in done.stdout
    assert "added 3, changed 0" in done.stdout


def test_refresh_watch_collects_on_every_round(tmp_path):
    with Site() as site:
        site.add("/lighthouse", made("Cape Morro lighthouse lit again", LIGHTHOUSE))
        site.add("/pool", made("Vila Serra will rebuild its pool", POOL))
        # The feed lists one more story from its second reading on.
        site.add("/rss.xml", lambda n, headers: rss(site, [("Lighthouse", "/lighthouse", None)]
                                                    + ([("Pool", "/pool", None)] if n > 1 else [])))
        corpus = write_corpus(tmp_path / "corpus", TINY)
        (corpus / "feeds.txt").write_text(site.url("/rss.xml") + "\n", encoding="utf-8")
        env = citeqa_env(tmp_path, corpus, tmp_path / "index", fetch_pause_seconds=0)
        watch = subprocess.Popen([str(CITEQA), "refresh", "--watch", "0.2"], env=env, cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines: list[str] = []
        try:
            deadline = time.monotonic() + DEADLINE
            while sum("published" in line for line in lines) < 2:
                assert time.monotonic() < deadline and watch.poll() is None, lines
                lines.append(watch.stdout.readline())
        finally:
            watch.kill()
            watch.wait(timeout=DEADLINE)
    out = "".join(lines)
    assert f"{site.url('/rss.xml')}: 1 entries, 1 new, 1 fetched, 1 written" in out
    assert f"{site.url('/rss.xml')}: 2 entries, 1 new, 1 fetched, 1 written" in out  # the second round: only the pool
    assert "added 4, changed 0, removed 0, unchanged 0" in out and "added 1, changed 0, removed 0, unchanged 4" in out
