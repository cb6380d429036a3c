"""`citeqa serve` as a real process on a free loopback port, spoken to over HTTP, hot swap included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import NEWS, free_port, write_corpus
from retrieval.embed.embedders import HashingEmbedder
from retrieval.index.files.refresh import build

ADMIN = "process-admin-token"
CITEQA = Path(sys.executable).with_name("citeqa")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    corpus = write_corpus(root / "news", NEWS)
    build(corpus, root / "index", HashingEmbedder(256))
    port = free_port()
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "CITEQA_CORPUS": str(corpus),
           "CITEQA_INDEX": str(root / "index"), "CITEQA_MODEL": "hashing-256",
           "CITEQA_CONVERSATIONS": str(root / "conversations.sqlite"), "CITEQA_ADMIN_TOKEN": ADMIN,
           "CITEQA_RATE_LIMIT_PER_MINUTE": "0", "CITEQA_LOG_LEVEL": "WARNING",
           # The server's own watcher would pick up a new version too; an hour apart, only the admin refresh can.
           "CITEQA_RELOAD_SECONDS": "3600"}
    log = open(root / "serve.log", "w+b")
    process = subprocess.Popen([str(CITEQA), "serve", "--port", str(port)], env=env, cwd=root,
                               stdout=log, stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"citeqa serve exited:\n{(root / 'serve.log').read_text()}"
            assert time.monotonic() < deadline, f"citeqa serve never became ready:\n{(root / 'serve.log').read_text()}"
            try:
                if client.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        yield client, corpus
    finally:
        client.close()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_questions_conversations_and_errors_over_http(server):
    client, _ = server
    first = client.post("/v1/ask", json={"question": "Who opened the new harbour bridge of Port Alba?"}).json()
    assert first["citations"][0]["article_id"] == "harbour"
    followup = client.post("/v1/ask", json={"question": "How much did it cost?",
                                            "conversation_id": first["conversation_id"]}).json()
    assert followup["turn"] == 2 and "40 million euros" in followup["text"]
    assert client.get("/").headers["content-type"].startswith("text/html")
    for response, status in ((client.post("/v1/ask", content=b"\xff" * 10, headers={"content-type": "application/json"}), 400),
                             (client.post("/v1/ask", content=b"{" + b" " * 20_000 + b"}",
                                          headers={"content-type": "application/json"}), 413),
                             (client.post("/v1/ask", json={"question": " "}), 422),
                             (client.get("/v1/nothing"), 404), (client.delete("/healthz"), 405),
                             (client.post("/v1/admin/refresh"), 401)):
        assert response.status_code == status and response.json()["detail"], response.text
    assert 'route="/v1/ask"' in client.get("/metrics").text


def test_admin_refresh_hot_swaps_while_questions_keep_being_answered(server):
    client, corpus = server
    auth = {"Authorization": f"Bearer {ADMIN}"}
    before = client.get("/readyz").json()["index_version"]
    seen: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def keep_asking():  # its own connection, as another user would have
        with httpx.Client(base_url=client.base_url, timeout=30, trust_env=False) as other:
            while not stop.is_set():
                response = other.post("/v1/ask", json={"question": "How many tonnes of apples did farmers pick?"})
                seen.append((response.status_code, response.json().get("index_version")))

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        deadline = time.monotonic() + 60
        while len(seen) < 3:  # questions are being answered before the refresh starts
            assert asker.is_alive() and time.monotonic() < deadline
            time.sleep(0.02)
        (corpus / "lighthouse.txt").write_text(
            "Lighthouse Lit Again\n\nThe lighthouse of Cape Morro was lit again after repairs that cost 2 million "
            "euros. The keeper, Ana Viana, said ships had missed its light for two winters.\n", encoding="utf-8")
        assert client.post("/v1/admin/refresh", headers=auth).status_code == 202
        while (status := client.get("/v1/admin/refresh/status", headers=auth).json())["state"] == "running":
            assert time.monotonic() < deadline, "the refresh never finished"
            time.sleep(0.05)
        count = len(seen)
        while len(seen) < count + 3:  # a few questions answered after the swap, on the same connection as before
            assert asker.is_alive() and time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        stop.set()
        asker.join()
    assert status["state"] == "succeeded" and status["swapped"] and status["added"] == 1, status
    after = status["published"]
    assert after != before and client.get("/readyz").json()["index_version"] == after
    assert {code for code, _ in seen} == {200}
    versions = [version for _, version in seen]
    assert set(versions) == {before, after} and versions[0] == before and versions[-1] == after
    assert versions == sorted(versions, key=[before, after].index), "an answer went back to the old version"
    answer = client.post("/v1/ask", json={"question": "Who is the keeper of the lighthouse of Cape Morro?"}).json()
    assert answer["citations"][0]["article_id"] == "lighthouse" and answer["index_version"] == after
