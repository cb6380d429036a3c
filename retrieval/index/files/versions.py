"""The index on disk: one directory per version, checked against its manifest, published atomically.

    <index>/CURRENT                 name of the published version (replaced atomically)
    <index>/LOCK                    held by the one refresh that may write
    <index>/versions/<name>/        manifest.json, the articles and passages (retrieval.index.files.tables),
                                    vectors.npy, index.faiss, the text index (retrieval.index.files.text_index)

A version is complete and read-only: everything `ask` needs is in its files, so loading one reads
them (the arrays memory-mapped) and never tokenises the corpus.

A version is written in full under a temporary name, fsynced, renamed into place, and only then
named in CURRENT; a reader therefore sees the old version or the new one, never half of one.
A writer that dies part-way leaves only leftovers that no reader looks at (a `.tmp-*` folder,
CURRENT.tmp, a complete version never named in CURRENT); `prune`, which every refresh runs first
under the lock, deletes them.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from filelock import FileLock, Timeout

from retrieval.index.files.dense import DenseIndex
from retrieval.index.files import tables as shelf
from retrieval.index.files import text_index
from retrieval.checksums import sha256_file
from retrieval.errors import IndexCorrupt, IndexNotFound, RefreshBusy
from retrieval.index.files.tables import ArticleShelf, PassageTable, RowPositions
from retrieval.index.files.text_index import TextIndex
from retrieval.index.refresh import Checkpoint
from retrieval.types import Article, Passage

log = logging.getLogger(__name__)

# 2: the text index is part of the version, articles are read when asked for, passages are a table
# (1 had articles and passages as JSON, and each load built the rest).
FORMAT_VERSION = 2
FILES = shelf.FILES + ("vectors.npy", "index.faiss") + text_index.FILES  # in writing order
KEEP_VERSIONS = 3


@dataclass(slots=True)
class IndexVersion:
    """One published version, loaded and verified; immutable once built."""

    name: str
    manifest: dict
    articles: ArticleShelf  # id -> Article, read when asked for
    passages: PassageTable  # article after article, in id order, each article's in its own order
    vectors: np.ndarray  # row i belongs to passages[i]
    dense: DenseIndex
    text: TextIndex
    position: RowPositions = field(init=False)  # passage.row -> index into passages
    # Article number k's passages are passages[bounds[k]:bounds[k + 1]]: an array, not a dict of ids.
    bounds: np.ndarray = field(init=False)

    def __post_init__(self):
        self.position = RowPositions(self.passages.rows)
        counts = np.bincount(self.passages.article_numbers(), minlength=len(self.articles))
        self.bounds = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)

    @property
    def model(self) -> str:
        return self.manifest["model"]

    def positions_of(self, article_id: str) -> range:
        """Where an article's passages are in `passages` (they are consecutive)."""
        k = self.articles.number.get(article_id)
        return range(0) if k is None else range(int(self.bounds[k]), int(self.bounds[k + 1]))

    def passage(self, passage_id: str) -> Passage | None:
        """The passage of that id ("<article id>#<n>", the n-th of its article), or None."""
        article_id, _, n = passage_id.rpartition("#")
        positions = self.positions_of(article_id)
        if not n.isdigit() or int(n) >= len(positions):
            return None
        found = self.passages[positions[int(n)]]
        return found if found.id == passage_id else None

    def passages_of(self, article_id: str) -> list[Passage]:
        return [self.passages[i] for i in self.positions_of(article_id)]


def current_name(index_dir: Path) -> str | None:
    try:
        name = (Path(index_dir) / "CURRENT").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def load_current(index_dir: Path) -> IndexVersion:
    name = current_name(index_dir)
    if name is None:
        raise IndexNotFound(f"no index published in {index_dir}: run `citeqa index` first")
    return load_version(Path(index_dir) / "versions" / name)


def load_version(path: Path) -> IndexVersion:
    """Load and verify one version; IndexCorrupt names the first file that disagrees."""
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise IndexCorrupt(f"index version {path} has no manifest.json") from err
    except (OSError, ValueError) as err:
        raise IndexCorrupt(f"index version {path}: unreadable manifest.json ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise IndexCorrupt(f"index version {path} has format {found!r}, but this citeqa reads format "
                           f"{FORMAT_VERSION}: rebuild it with `citeqa index`")
    for name in FILES:
        try:
            expected = manifest["files"][name]["sha256"]
        except (KeyError, TypeError) as err:
            raise IndexCorrupt(f"index version {path}: manifest.json does not list {name}") from err
        try:
            digest = sha256_file(path / name)
        except FileNotFoundError as err:
            raise IndexCorrupt(f"index version {path} lacks {name}") from err
        except OSError as err:  # an I/O error of the disk itself: the version cannot be trusted
            raise IndexCorrupt(f"index version {path}: cannot read {name} ({err})") from err
        if digest != expected:
            raise IndexCorrupt(f"index version {path}: {name} does not match its manifest (sha256 {digest[:12]}…)")
    try:
        articles = ArticleShelf(path)
        passages = PassageTable(path, articles)
        # Memory-mapped, not copied: FAISS holds its own copy, which questions read (search, cosines,
        # filters); these are read by a refresh, for its unchanged passages. A version's files never
        # change after publishing, and a pruned one stays readable while mapped.
        vectors = np.load(path / "vectors.npy", allow_pickle=False, mmap_mode="r")
        dense = DenseIndex.load(path / "index.faiss")
        text = TextIndex.load(path)
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise IndexCorrupt(f"index version {path}: {err}") from err
    try:
        problems = (_disagreements(manifest, articles, passages, vectors, dense)
                    or text.disagreements(passages.lengths(), manifest["text"]))
    except (KeyError, TypeError, AttributeError, ValueError) as err:  # a manifest whose checksums match but whose fields do not
        raise IndexCorrupt(f"index version {path}: malformed manifest.json ({type(err).__name__}: {err})") from err
    if problems:
        raise IndexCorrupt(f"index version {path}: {problems[0]}")
    return IndexVersion(path.name, manifest, articles, passages, vectors, dense, text)


def _disagreements(manifest, articles, passages, vectors, dense) -> list[str]:
    n, dim = len(passages), manifest["dimension"]
    problems = []
    if vectors.shape != (n, dim) or vectors.dtype != np.float32:
        problems.append(f"vectors are {vectors.shape} {vectors.dtype}, manifest says {n} x {dim} float32")
    if len(dense) != n or dense.dimension != dim:
        problems.append(f"FAISS index holds {len(dense)} x {dense.dimension}, manifest says {n} x {dim}")
    recorded = manifest.get("dense", {"kind": "flat"})["kind"]  # versions written before the choice existed are flat
    if dense.kind != recorded:
        problems.append(f"FAISS index is {dense.kind}, manifest says {recorded}")
    if len(articles) != manifest["articles"] or n != manifest["passages"]:
        problems.append(f"{len(articles)} articles and {n} passages, manifest says "
                        f"{manifest['articles']} and {manifest['passages']}")
    rows = passages.rows
    if len(np.unique(rows)) != n or (n and (rows.min() < 0 or rows.max() >= manifest["next_row"])):
        problems.append("passages.npy repeats a row or uses one past the manifest's next_row")
    # Whether each passage is its article's text was checked when the version was written (checksums
    # guard it since): comparing would read every article, which a load never does.
    return problems


def write_version(index_dir: Path, articles: list[Article], passages: list[Passage], vectors: np.ndarray,
                  model: str, settings: dict, next_row: int, checkpoint: Checkpoint | None = None,
                  dense_index: str = "flat", text: TextIndex | None = None) -> str:
    """Write a complete version and publish it; returns its name. Nothing is visible until the end.

    `dense_index` is "flat", "ivf" or "auto" (see retrieval.index.files.dense); the manifest records what was built.
    `text` is the passages' text index when the caller has made it (a refresh, from the previous
    version's); otherwise it is built here from the passages.

    A failed write (OSError: disk full, file too large, I/O error) removes the partial version and
    publishes nothing. `checkpoint` is called with "writing", "before-publish", "replacing-pointer"
    and "after-publish" as the writer reaches each.
    """
    checkpoint = checkpoint or _no_checkpoint
    index_dir = Path(index_dir)
    articles = sorted(articles, key=lambda a: a.id)
    articles_by_id = {a.id: a for a in articles}
    number = {a.id: k for k, a in enumerate(articles)}
    # Passages are stored article after article, in id order: an article's passages are then one range.
    order = sorted(range(len(passages)), key=lambda i: (number[passages[i].article_id], i))
    if order != list(range(len(passages))):
        if text is not None:  # its rows follow the caller's order: reordering the passages would misalign them
            raise ValueError("passages with a text index must come article after article, in id order")
        passages, vectors = [passages[i] for i in order], np.asarray(vectors)[order]
    versions = index_dir / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    name = now.strftime("%Y%m%dT%H%M%S%fZ")
    tmp = versions / f".tmp-{name}"
    tmp.mkdir()
    try:
        for p in passages:  # checked once, here: a load relies on it
            if articles_by_id[p.article_id].text[p.start:p.end] != p.text:
                raise ValueError(f"passage {p.id} is not its article's text at {p.start}:{p.end}")
        shelf.write(tmp, articles, passages, _flush)
        checkpoint("writing")
        with open(tmp / "vectors.npy", "wb") as f:
            np.save(f, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
            _flush(f)
        dense = DenseIndex.build(vectors, np.array([p.row for p in passages], dtype=np.int64), dense_index)
        try:
            dense.save(tmp / "index.faiss")
        except RuntimeError as err:  # FAISS reports a failed write (disk full, file too large) as RuntimeError
            raise OSError(f"cannot write FAISS index {tmp / 'index.faiss'}: {err}") from err
        _fsync_path(tmp / "index.faiss")
        text = text or TextIndex.build(passages)
        text.save(tmp)
        for f in text_index.FILES:
            _fsync_path(tmp / f)
        _fsync_path(tmp / "bm25")
        manifest = {
            "format": FORMAT_VERSION,
            "name": name,
            "created": now.isoformat(),
            "model": model,
            "dimension": int(vectors.shape[1]),
            "settings": settings,
            "passages": len(passages),
            "next_row": next_row,
            "dense": dense.describe(),
            "text": text.describe(),
            "articles": len(articles),
            "files": {f: {"sha256": sha256_file(tmp / f), "bytes": (tmp / f).stat().st_size} for f in FILES},
        }
        with open(tmp / "manifest.json", "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1)
            _flush(f)
        _fsync_path(tmp)
        os.replace(tmp, versions / name)
        _fsync_path(versions)
        checkpoint("before-publish")
        _publish(index_dir, name, checkpoint)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if current_name(index_dir) != name:  # renamed into place but never published: no reader will look at it
            shutil.rmtree(versions / name, ignore_errors=True)
        (index_dir / "CURRENT.tmp").unlink(missing_ok=True)
        raise
    checkpoint("after-publish")
    return name


def _publish(index_dir: Path, name: str, checkpoint: Checkpoint) -> None:
    pointer = index_dir / "CURRENT.tmp"
    with open(pointer, "w", encoding="utf-8") as f:
        f.write(name + "\n")
        _flush(f)
    checkpoint("replacing-pointer")
    os.replace(pointer, index_dir / "CURRENT")
    _fsync_path(index_dir)


def _no_checkpoint(point: str) -> None:
    pass


def prune(index_dir: Path, keep: int = KEEP_VERSIONS) -> list[str]:
    """Delete all but the newest `keep` published versions (never the current one) and leftovers of crashes.

    Leftovers are what a writer killed part-way leaves: `.tmp-*` folders, CURRENT.tmp, and versions
    newer than the current one (versions are published in name order under the lock, so a newer one
    was never published). Call only while holding the lock. A server that loaded an older version
    keeps it in memory.
    """
    versions = Path(index_dir) / "versions"
    stray = Path(index_dir) / "CURRENT.tmp"
    leftovers = ["CURRENT.tmp"] if stray.exists() else []
    stray.unlink(missing_ok=True)
    if not versions.is_dir():
        return leftovers
    current = current_name(index_dir)
    names = sorted(p.name for p in versions.iterdir() if not p.name.startswith("."))
    leftovers += [p.name for p in versions.iterdir() if p.name.startswith(".tmp-")]
    leftovers += [n for n in names if current is None or n > current]
    published = [n for n in names if n not in leftovers]
    doomed = [n for n in published[:-keep] if n != current] if keep else [n for n in published if n != current]
    if leftovers:
        log.warning("removing what an interrupted refresh left in %s: %s", index_dir, ", ".join(leftovers))
    for name in leftovers + doomed:
        shutil.rmtree(versions / name, ignore_errors=True)
    return leftovers + doomed


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """The one-writer lock, never waited for: a second refresh is told, not queued. The kernel drops it
    if the process dies, so a crash never wedges it."""
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    lock = FileLock(Path(index_dir) / "LOCK", timeout=0)
    try:
        lock.acquire()
    except Timeout as err:
        raise RefreshBusy(f"another refresh is writing {index_dir}; try again when it has finished") from err
    try:
        yield
    finally:
        lock.release()


def _flush(f) -> None:
    f.flush()
    os.fsync(f.fileno())


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
