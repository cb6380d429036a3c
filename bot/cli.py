"""The `citeqa` command: index, refresh, ask, eval, serve, telegram."""

from __future__ import annotations

from bot import runtime

runtime.prepare()  # before numpy, FAISS or torch is imported: see bot/runtime.py

import dataclasses  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated, Optional  # noqa: E402

import typer  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from bot.settings import Settings, make_embedder, make_store  # noqa: E402
from retrieval.errors import CiteqaError, ReaderUnavailable, RefreshBusy  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Cited answers from a folder of news articles.")

CorpusOption = Annotated[Optional[Path], typer.Option("--corpus", help="article folder [CITEQA_CORPUS]")]
IndexOption = Annotated[Optional[Path], typer.Option("--index", help="index folder [CITEQA_INDEX]")]
EXIT_BUSY = 75  # EX_TEMPFAIL: try again later
PAUSE_VARIABLE = "CITEQA_TEST_PAUSE_AT"  # for crash tests only; see _test_pause()


def _settings(corpus: Path | None = None, index: Path | None = None, **overrides) -> Settings:
    values = {k: v for k, v in dict(corpus=corpus, index=index, **overrides).items() if v is not None}
    try:
        settings = Settings(**values)
    except ValidationError as err:  # a wrong CITEQA_* value: say which, not a traceback
        reasons = "; ".join(f"CITEQA_{'_'.join(map(str, e['loc'])).upper()}={e.get('input')!r}: {e['msg']}"
                            for e in err.errors())
        raise _fail(ValueError(f"bad setting: {reasons}"))
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return settings


def _fail(err: Exception) -> typer.Exit:
    typer.echo(f"citeqa: {err}", err=True)
    return typer.Exit(EXIT_BUSY if isinstance(err, RefreshBusy) else 1)


def _write_failed(err: OSError, settings: Settings) -> Exception:
    return OSError(f"could not write the index in {settings.index} ({err}); nothing was published, "
                   "the version published before is still the one served")


def _test_pause():
    """A checkpoint for crash tests, never for use: with CITEQA_TEST_PAUSE_AT set to one of the refresh's
    checkpoints ("embedding", "writing", "before-publish", "replacing-pointer", "after-publish"), the
    refresh stops there, prints "paused at <name>" on stderr, and goes on when a line (or the end)
    arrives on stdin; a test kills it meanwhile, or lets it go on."""
    wanted = os.environ.get(PAUSE_VARIABLE)
    if not wanted:
        return None

    def pause(point: str) -> None:
        if point == wanted:
            print(f"paused at {point}", file=sys.stderr, flush=True)
            sys.stdin.readline()

    return pause


class _Bar:
    """A tqdm progress bar on stderr for the library's progress(done, total) callback."""

    def __init__(self, label: str):
        self.label, self.bar = label, None

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.label, unit="passage", file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.bar.close()


@app.command()
def index(corpus: CorpusOption = None, index: IndexOption = None) -> None:
    """Build the index from scratch and publish it."""
    settings = _settings(corpus, index)
    runtime.for_batch_work(settings)
    try:
        report = make_store(settings).refresh(
            settings.corpus, make_embedder(settings), _Bar("embedding"), reuse=False,
            max_bytes=settings.max_article_bytes, checkpoint=_test_pause(),
            settle_seconds=settings.article_settle_seconds, dense_index=settings.dense_index)
    except CiteqaError as err:
        raise _fail(err)
    except OSError as err:
        raise _fail(_write_failed(err, settings))
    rate = report.passages / report.seconds if report.seconds else 0.0
    typer.echo(f"indexed {report.articles} articles, {report.passages} passages in {report.seconds:.1f} s "
               f"({rate:.1f} passages/s); skipped {len(report.skipped)} files; version {report.version}")


@app.command()
def refresh(corpus: CorpusOption = None, index: IndexOption = None,
            watch: Annotated[Optional[float], typer.Option(help="repeat every SECONDS", min=0.1)] = None) -> None:
    """Fetch what the folder's feeds.txt lists that is new, then bring the index up to date with the folder,
    embedding only what changed."""
    settings = _settings(corpus, index)
    runtime.for_batch_work(settings)
    embedder = make_embedder(settings)  # one per process: the model loads at most once
    while True:
        _collect(settings)
        try:
            report = make_store(settings).refresh(
                settings.corpus, embedder, _Bar("embedding"), max_bytes=settings.max_article_bytes,
                checkpoint=_test_pause(), settle_seconds=settings.article_settle_seconds,
                dense_index=settings.dense_index)
        except (CiteqaError, OSError) as err:
            err = _write_failed(err, settings) if isinstance(err, OSError) else err
            if watch is None:
                raise _fail(err)
            typer.echo(f"citeqa: {err}", err=True)
        else:
            outcome = f"published {report.version}" if report.published else "nothing to publish"
            held = f" ({len(report.held)} kept as last indexed)" if report.held else ""
            typer.echo(f"added {len(report.added)}, changed {len(report.changed)}, removed {len(report.removed)}, "
                       f"unchanged {len(report.unchanged)}, skipped {len(report.skipped)}{held}; {report.embedded} "
                       f"passages embedded, {report.passages} in the index; {report.seconds:.1f} s; {outcome}")
        if watch is None:
            return
        time.sleep(watch)


def _collect(settings: Settings) -> None:
    """The feeds step of a refresh: progress on stderr as it goes, its report on stdout (nothing without feeds.txt)."""
    from bot.news import collect_news
    from bot.render import collect_progress, collect_report

    report = collect_news(settings, lambda event: typer.echo(collect_progress(event), err=True))
    if report is not None:
        typer.echo(collect_report(report))


def _scratch_uri(settings: Settings, scratch: str) -> str | None:
    """Where `citeqa eval --corpus` builds: a temporary folder, or a temporary milvus-lite file when the
    settings choose Milvus (a server's eval index is an embedded file too: it is thrown away after)."""
    return str(Path(scratch) / "eval.db") if settings.store_uri else None


def _engine(settings: Settings, retriever: str | None = None, embedder=None, load: bool = True):
    """The engine the settings describe; with `load` the published index loaded (or its error raised)."""
    from retrieval.engine import Engine

    engine = Engine(make_store(settings), embedder or make_embedder(settings),
                    retriever=retriever or settings.retriever, reader_dir=settings.reader)
    if load:
        engine.reload()
    return engine


@app.command()
def ask(question: str, index: IndexOption = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the answer as JSON")] = False) -> None:
    """Answer one question with numbered citations."""
    from bot.render import plain_text
    from retrieval.engine import ask as ask_engine

    settings = _settings(index=index)
    try:
        answer = ask_engine(_engine(settings), question)
    except CiteqaError as err:
        raise _fail(err)
    typer.echo(json.dumps(dataclasses.asdict(answer), ensure_ascii=False, indent=1) if as_json else plain_text(answer))


@app.command("eval")
def evaluate(questions: Annotated[Path, typer.Option(help="questions file (JSON Lines)")],
             corpus: Annotated[Optional[Path], typer.Option(help="build a temporary index of this folder")] = None,
             index: IndexOption = None,
             retriever: Annotated[Optional[str], typer.Option(help="dense, bm25, rrf or hybrid; several comma-separated")] = None,
             part: Annotated[str, typer.Option(help="all, or the tuning or reporting half (split by article)")] = "all",
             search_openly: Annotated[bool, typer.Option("--search-openly", help="ask a conversation that names its "
                                                         "articles over the whole corpus instead")] = False,
             as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
             verbose: Annotated[bool, typer.Option("--verbose", help="list every miss")] = False) -> None:
    """Measure hit@k, answers and abstention on a questions file."""
    from retrieval.evaluate.run import evaluate as run_eval, load_questions, select_part

    settings = _settings(index=index)
    retrievers = (retriever or settings.retriever).split(",")
    from retrieval.search.ranking import RETRIEVERS

    unknown = [r for r in retrievers if r not in RETRIEVERS]
    if unknown:
        raise _fail(ValueError(f"unknown retriever {', '.join(unknown)}: choose from {', '.join(RETRIEVERS)}"))
    try:
        conversations = select_part(load_questions(questions), part)
        # One embedder for the build and every retriever, made from the settings as given: the model
        # loads once, and an ONNX export is cached beside the real index folder, not the scratch one.
        embedder = make_embedder(settings)
        with tempfile.TemporaryDirectory(prefix="citeqa-eval-") as scratch:
            if corpus is not None:  # a scratch store of the same kind: never the one the settings publish to
                settings = settings.model_copy(update={"index": Path(scratch) / "index", "store_uri": _scratch_uri(settings, scratch)})
                make_store(settings).refresh(corpus, embedder, _Bar("embedding"), reuse=False,
                                             max_bytes=settings.max_article_bytes, dense_index=settings.dense_index)
            results = {}
            for name in retrievers:
                report = run_eval(_engine(settings, name, embedder), conversations, restrict=not search_openly)
                results[name] = report
    except CiteqaError as err:
        raise _fail(err)
    except ValueError as err:
        raise _fail(err)
    if as_json:
        out = {n: r.figures for n, r in results.items()}
        typer.echo(json.dumps(out[retrievers[0]] if len(retrievers) == 1 else out, indent=1))
    else:
        from bot.render import figures_table

        typer.echo(figures_table({n: r.figures for n, r in results.items()}))
    if verbose:
        for name, report in results.items():
            for miss in report.misses:
                typer.echo(f"[{name}] miss {json.dumps(miss, ensure_ascii=False)}", err=True)


@app.command("forget-expired")
def forget_expired() -> None:
    """Delete the conversations idle longer than CITEQA_CONVERSATION_TTL_SECONDS from the store now."""
    from bot.conversation_store import ConversationStore

    settings = _settings()
    try:
        store = ConversationStore(settings.conversations, settings.conversation_ttl_seconds)
        try:
            removed = store.purge_expired()
        finally:
            store.close()
    except sqlite3.Error as err:
        raise _fail(OSError(f"could not read the conversation store {settings.conversations}: {err}"))
    typer.echo(f"deleted {removed} turns of conversations idle over {settings.conversation_ttl_seconds:g} s "
               f"from {settings.conversations}")


@app.command()
def serve(index: IndexOption = None, host: Annotated[Optional[str], typer.Option(help="[CITEQA_HOST]")] = None,
          port: Annotated[Optional[int], typer.Option(help="[CITEQA_PORT]")] = None) -> None:
    """Serve the HTTP API; a newly published index is picked up without a restart."""
    import uvicorn

    from bot.api.app import create_app

    settings = _settings(index=index, host=host, port=port)
    uvicorn.run(create_app(settings=settings), host=settings.host, port=settings.port,
                log_level=settings.log_level.lower())


@app.command()
def telegram(index: IndexOption = None,
             webhook: Annotated[Optional[str], typer.Option(
                 help="register this public HTTPS URL of the API's POST /telegram/webhook instead of polling")] = None) -> None:
    """Run the Telegram bot with long polling, or register its webhook (then `citeqa serve` answers)."""
    import asyncio

    from telegram.error import TelegramError

    from bot.telegram.transport import register_webhook, run_polling

    settings = _settings(index=index)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs each request's URL, and those hold the token
    if not settings.telegram_token:
        raise _fail(ValueError("no bot token: set CITEQA_TELEGRAM_TOKEN to the token @BotFather gave you"))
    if webhook:
        if not settings.telegram_webhook_secret:
            raise _fail(ValueError("set CITEQA_TELEGRAM_WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -): Telegram sends it "
                                   "with every update and the webhook route refuses updates without it"))
        try:
            asyncio.run(register_webhook(settings, webhook))
        except TelegramError as err:  # a refused token or URL, an unreachable Bot API
            raise _fail(err)
        typer.echo(f"webhook set to {webhook}; `citeqa serve` answers it (with the same token and secret)")
        return
    try:
        engine = _engine(settings, load=False)  # a URI of no known kind: a setting to mend, not to wait out
    except CiteqaError as err:
        raise _fail(err)
    if engine.reader_error:  # the weights ship with the project: nothing a retry would mend
        raise _fail(ReaderUnavailable(engine.reader_error))
    try:
        engine.reload()
    except CiteqaError as err:  # a store not reachable yet, no index yet: as `serve`, poll not-ready and look again
        logging.getLogger("citeqa.telegram").error("not ready (looking again every %g s): %s",
                                                   settings.reload_seconds, err)
    run_polling(settings, engine)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
