"""The admin refresh job on a real engine: what it reports when the index watcher swaps the new version in first."""

from __future__ import annotations

from bot.api.admin import RefreshJob
from bot.settings import Settings


def test_swapped_is_reported_when_the_watcher_loads_the_new_version_before_the_job_does(tiny_engine, tiny_corpus,
                                                                                         tmp_path, wait_until):
    engine = tiny_engine
    before = engine.index.name
    publish = engine.store.refresh

    def publish_then_watcher_swaps(*args, **kwargs):
        # What the index watcher thread does when it sees the new version: the real reload, before the job's.
        report = publish(*args, **kwargs)
        if report.version is not None:  # the watcher acts on a new version only
            assert engine.reload()
        return report

    engine.store.refresh = publish_then_watcher_swaps
    job = RefreshJob(engine, Settings(corpus=tiny_corpus, index=tmp_path / "index", article_settle_seconds=0))
    (tiny_corpus / "lighthouse.txt").write_text("Lighthouse Lit Again\n\nThe lighthouse of Cape Morro was lit again "
                                                "after repairs.\n", encoding="utf-8")
    assert job.start()
    wait_until(lambda: job.status.state != "running", "the refresh job")
    status = job.status
    assert status.state == "succeeded", status.error
    assert status.added == 1 and status.swapped and status.published == status.index_version != before

    assert job.start()  # nothing changed since: nothing published, nothing swapped
    wait_until(lambda: job.status.state != "running", "the second refresh job")
    again = job.status
    assert again.state == "succeeded" and again.published is None and not again.swapped
    assert again.index_version == status.index_version
