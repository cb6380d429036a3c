"""Wire copies: MinHash containment finds edited copies of an article and tells apart articles on one topic."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from web_site import PAGES

from retrieval.web import duplicates as dup
from retrieval.web.pages import extract_page

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))


def body(path: Path) -> str:
    return path.read_text(encoding="utf-8").split("\n", 1)[1].strip()


def test_edited_copies_are_found():
    original = extract_page((PAGES / "theguardian.com.academics.html").read_bytes()).text
    sentences = original.split(". ")
    copies = {
        "reformatted": " ".join(original.split()).upper().replace("’", "'"),
        "furniture": "Home | World | Business | Sport\nShare on Facebook\n" + original + "\nSubscribe to our newsletter.",
        "sentence changed": ". ".join(sentences[:3] + ["The union declined to comment on Monday"] + sentences[4:]),
        "end cut": "LONDON (Wire) - " + ". ".join(sentences[: len(sentences) * 2 // 3]),
    }
    index = dup.NearDuplicates()
    index.add("guardian", original)
    for seed in SEEDS:
        index.add(seed.stem, body(seed))
    for kind, text in copies.items():
        found = index.find(text)
        assert found is not None and found[0] == "guardian", kind


def test_articles_on_one_topic_are_not_copies():
    # The seeds are all IP news from Beijing and Guangzhou: one topic, five stories.
    index = dup.NearDuplicates()
    for seed in SEEDS:
        assert index.find(body(seed)) is None, seed.stem
        index.add(seed.stem, body(seed))
    assert dup.group({s.stem: body(s) for s in SEEDS}) == [[s.stem] for s in SEEDS]


def test_minhash_estimates_containment_against_the_exact_sets():
    texts = [body(s) for s in SEEDS] + [extract_page(p.read_bytes()).text for p in sorted(PAGES.glob("*.html"))]
    texts.append(texts[0][: len(texts[0]) // 2] + " A paragraph the copy added, about something else entirely.")
    hashed = [dup.shingles(t) for t in texts]
    for a, b in itertools.combinations(range(len(texts)), 2):
        exact_j = len(np.intersect1d(hashed[a], hashed[b])) / len(np.union1d(hashed[a], hashed[b]))
        estimate_j = float((dup.minhash(hashed[a]) == dup.minhash(hashed[b])).mean())
        assert abs(estimate_j - exact_j) < 0.15, (a, b)
        exact_c = len(np.intersect1d(hashed[a], hashed[b])) / min(hashed[a].size, hashed[b].size)
        assert abs(dup.containment(estimate_j, hashed[a].size, hashed[b].size) - exact_c) < 0.2, (a, b)


def test_groups_copies_and_handles_scripts_without_spaces():
    chinese = "国家知识产权局今天在北京发布了年度报告，报告显示全年发明专利授权量继续增长，商标注册数量也创下新高。"
    other = "北京市政府召开专题会议，研究进一步加强专利促进工作的若干意见，市长出席会议并讲话。"
    groups = dup.group({"a": chinese * 2, "b": "（新华社）" + chinese * 2, "c": other * 2, "d": ""})
    assert groups == [["a", "b"], ["c"], ["d"]]
    assert dup.simhash(dup.shingles(chinese)) == dup.simhash(dup.shingles(chinese + " "))
