"""Web pages measured: how much of each saved page's article the extraction keeps and how much furniture it drops,
and what reading a page costs at indexing time next to a plain text file.

    .venv/bin/python benchmarks/web_pages.py             # writes benchmarks/results/web_pages.json
    .venv/bin/python benchmarks/report.py                # then renders it into docs/benchmarks.md

The pages are the five of ../shared/pages (read there, never copied). They come without gold, so the gold is
made here from each page's own markup, independently of the extractor: the article is the paragraphs (`<p>`)
of the element that holds the story's body, chosen by hand per page (BODY below); its sentences are the
article's sentences. Boilerplate is the text of the page's furniture outside that element: `nav`, `header`,
`footer`, `aside` and elements whose class or id names a menu, share bar, newsletter, cookie notice, related
links, comments or the like; one line per link, list item, paragraph or heading of two words or more, without
what is the story's own (the headline, the standfirst and the byline, as the page's meta tags give them) and
anything the article itself says. A sentence is kept, and a line is left in, when its text
(white space folded) stands in the extracted text.

Two readers are compared: citeqa's (trafilatura, retrieval/web/pages.py) and the page's whole visible text with
citeqa's own line filter for pasted pages (retrieval/articles/prose.is_boilerplate), which is what pasting a
page into a .txt file gave before. Indexing cost: reading each page (`read_article` on the .html) against
reading the same article as a plain article file (the .txt the feed collector writes from it), then a whole
index build of each folder with the model-free hashing embedder, so that reading is what differs; the real
model's embedding cost per passage is in the embedder table above.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import lxml.html  # noqa: E402

from retrieval.articles.folder import read_article  # noqa: E402
from retrieval.articles.prose import is_boilerplate  # noqa: E402
from retrieval.articles.sentences import split_sentences  # noqa: E402
from retrieval.web.article_file import Source, render  # noqa: E402
from retrieval.web.pages import clean_text, extract_page  # noqa: E402

PAGES = ROOT.parent / "shared" / "pages"
RESULTS = ROOT / "benchmarks" / "results" / "web_pages.json"
# The element holding each story's body, found by reading the page's markup (hand-chosen, not by the extractor).
BODY = {
    "theguardian.com.academics": "//div[contains(@class, 'content__article-body')]",
    "theverge.com.ios13": "//div[contains(@class, 'c-entry-content')]",
    "vice.com.amazon": "//div[contains(@class, 'article__body')]",
    "salon.com.emissions": "//main[@id='posts']//article",
    "kulu-media.com.meta-outage": "//div[@id='mvp-content-main']",
}
FURNITURE_TAGS = ("nav", "header", "footer", "aside")
FURNITURE_NAMES = re.compile(r"(^|[-_ ])(nav|navigation|menu|footer|header|share|sharing|social|newsletter|subscribe|"
                             r"cookie|consent|related|recommend|comments?|sidebar|breadcrumbs?|promo|trending|"
                             r"most-popular|signup|banner|masthead|toolbar)([-_ ]|$)", re.I)
LINE_TAGS = ("a", "li", "p", "h1", "h2", "h3", "h4", "h5", "h6", "button", "figcaption", "label", "dt", "dd")


def fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _drop_code(doc) -> None:
    for bad in doc.xpath("//script|//style|//noscript|//template|//svg"):
        bad.drop_tree()


def gold(name: str, data: bytes) -> tuple[list[str], list[str]]:
    """(the article's sentences, the furniture's lines) of one page, from its markup."""
    doc = lxml.html.fromstring(data)
    _drop_code(doc)
    body = doc.xpath(BODY[name])[0]
    paragraphs = [fold(p.text_content()) for p in body.iter("p")]
    sentences = [p[s:e] for p in paragraphs if p for s, e in split_sentences(p, 0, len(p)) if len(p[s:e].split()) >= 3]
    article = " ".join(paragraphs)
    # The headline, standfirst and byline stand outside the body but are the story's, not furniture.
    headline = {fold(h.text_content()) for h in doc.iter("h1", "title")}
    headline |= {fold(m.get("content", "")) for m in doc.xpath("//meta[@name or @property]")
                 if re.search(r"description|author|title", f"{m.get('name', '')}{m.get('property', '')}")}
    inside = set(body.iter())
    lines: list[str] = []
    for element in doc.iter(*LINE_TAGS):
        if element in inside or not _in_furniture(element):
            continue
        line = fold(element.text_content())
        if len(line.split()) >= 2 and line not in headline and line not in article and line not in lines:
            lines.append(line)
    return sentences, lines


def _in_furniture(element) -> bool:
    for node in element.iterancestors():
        if node.tag in FURNITURE_TAGS:
            return True
        if FURNITURE_NAMES.search(f"{node.get('class', '')} {node.get('id', '')}"):
            return True
    return False


def whole_text_filtered(data: bytes) -> str:
    """The page's whole visible text, a line a block, through citeqa's line filter for pasted pages."""
    doc = lxml.html.fromstring(data)
    _drop_code(doc)
    for block in doc.iter("p", "div", "li", "h1", "h2", "h3", "h4", "br", "tr", "section", "article", "header",
                          "footer", "nav", "aside"):
        block.tail = "\n" + (block.tail or "")
    lines = clean_text(doc.body.text_content() if doc.body is not None else doc.text_content()).split("\n")
    return "\n".join(line for line in lines if not is_boilerplate(line))


def quality(text: str, sentences: list[str], lines: list[str]) -> dict:
    folded = fold(text)
    kept = sum(1 for s in sentences if s in folded)
    left = sum(1 for line in lines if line in folded)
    return {"sentences": len(sentences), "kept": kept, "kept_share": round(kept / len(sentences), 3),
            "boilerplate_lines": len(lines), "left_in": left, "dropped_share": round(1 - left / len(lines), 3)}


def timed(work, rounds: int) -> float:
    """Median seconds of `rounds` calls (the first, which warms imports and caches, not counted)."""
    work()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def build_seconds(folder: Path, rounds: int) -> tuple[float, int]:
    from retrieval.embed.embedders import HashingEmbedder
    from retrieval.index.files.refresh import build

    passages = 0

    def once():
        nonlocal passages
        with tempfile.TemporaryDirectory() as index:
            passages = build(folder, Path(index) / "index", HashingEmbedder(256)).passages

    return timed(once, rounds), passages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    pages, extracted_total, whole_total = [], {"kept": 0, "sentences": 0, "left_in": 0, "boilerplate_lines": 0}, None
    whole_total = dict(extracted_total)
    with tempfile.TemporaryDirectory() as scratch:
        html_dir, txt_dir = Path(scratch) / "html", Path(scratch) / "txt"
        html_dir.mkdir(), txt_dir.mkdir()
        for path in sorted(PAGES.glob("*.html")):
            name, data = path.stem, path.read_bytes()
            sentences, lines = gold(name, data)
            page = extract_page(data)
            ours, whole = quality(page.text, sentences, lines), quality(whole_text_filtered(data), sentences, lines)
            for total, q in ((extracted_total, ours), (whole_total, whole)):
                for key in total:
                    total[key] += q[key]
            (html_dir / path.name).write_bytes(data)
            as_file = txt_dir / f"{name}.txt"
            as_file.write_text(render(page.title, Source(page.url or "https://example.invalid/", page.published),
                                      page.text), encoding="utf-8")
            pages.append({"page": name, "bytes": len(data), "extracted_chars": len(page.text), "citeqa": ours,
                          "whole_text_filtered": whole,
                          "read_html_ms": round(1000 * timed(lambda: read_article(html_dir / path.name), args.rounds), 2),
                          "read_txt_ms": round(1000 * timed(lambda: read_article(as_file), args.rounds), 3)})
        html_build, html_passages = build_seconds(html_dir, args.rounds)
        txt_build, txt_passages = build_seconds(txt_dir, args.rounds)
    share = lambda t: {"kept_share": round(t["kept"] / t["sentences"], 3),  # noqa: E731
                       "dropped_share": round(1 - t["left_in"] / t["boilerplate_lines"], 3), **t}
    result = {
        "command": "benchmarks/web_pages.py" + (f" --rounds {args.rounds}" if args.rounds != 7 else ""),
        "cpus": os.cpu_count(), "python": platform.python_version(), "trafilatura": _version("trafilatura"),
        "rounds": args.rounds, "load_average": round(os.getloadavg()[0], 2),
        "pages": pages, "citeqa": share(extracted_total), "whole_text_filtered": share(whole_total),
        "build": {"html": {"seconds": round(html_build, 3), "passages": html_passages},
                  "txt": {"seconds": round(txt_build, 3), "passages": txt_passages}},
    }
    RESULTS.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("citeqa", "whole_text_filtered", "build")}, indent=1))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()
