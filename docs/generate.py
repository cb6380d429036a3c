"""The generated parts of docs/: the module map from the modules' docstrings, the reader card's figures from its manifest.

    .venv/bin/python docs/generate.py           # rewrite both parts in place
    .venv/bin/python docs/generate.py --check   # say whether they are current (tests/test_readme.py checks the same)

Each part lies between its own marker lines and is nothing but the rendering of its source, so it cannot
drift from it: `modules` in docs/architecture.md (the first paragraph of each module's docstring, for every
module git tracks under retrieval/, bot/, benchmarks/ and training/), `reader-card` in docs/reader.md
(retrieval/models/reader/manifest.json). benchmarks/report.py writes docs/benchmarks.md's parts the same way.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
READER_CARD = ROOT / "docs" / "reader.md"
MANIFEST = ROOT / "retrieval" / "models" / "reader" / "manifest.json"
MAPPED = ("retrieval", "bot", "benchmarks", "training")


def markers(part: str) -> tuple[str, str]:
    return f"<!-- {part}: begin (docs/generate.py writes this part) -->", f"<!-- {part}: end -->"


def shown(part: str, page: Path) -> str:
    text = page.read_text(encoding="utf-8")
    begin, end = markers(part)
    return text[text.index(begin) + len(begin):text.index(end)].strip()


def replace(part: str, page: Path, body: str) -> None:
    text = page.read_text(encoding="utf-8")
    begin, end = markers(part)
    start, stop = text.index(begin) + len(begin), text.index(end)
    page.write_text(f"{text[:start]}\n{body.strip()}\n{text[stop:]}", encoding="utf-8")


# ---- the module map ---------------------------------------------------------------------------------------

def modules(root: Path = ROOT) -> list[str]:
    """The Python files of MAPPED that git tracks (work not yet added stays out of the map), or, outside a
    git checkout, every one on disk."""
    try:
        listed = subprocess.run(["git", "ls-files", "--", *MAPPED], cwd=root, capture_output=True, text=True,
                                check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        listed = [str(p.relative_to(root)) for top in MAPPED for p in (root / top).rglob("*.py")]
    return sorted(p for p in listed if p.endswith(".py") and (root / p).is_file())


def summary(path: Path) -> str:
    """The first paragraph of a module's docstring, on one line."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return " ".join(doc.split("\n\n")[0].split()).replace("|", "\\|") or "(no docstring)"


def module_map(root: Path = ROOT) -> str:
    """A table per top-level folder: each package (its __init__'s docstring) followed by its modules."""
    files = modules(root)
    out: list[str] = []
    for top in MAPPED:
        mine = [f for f in files if f.startswith(f"{top}/")]
        if not mine:
            continue
        # A package's own row first, then its modules; packages in path order.
        rows = sorted(mine, key=lambda f: (str(Path(f).parent), Path(f).name != "__init__.py", Path(f).name))
        out += ["", f"#### `{top}/`", "", "| module | what it holds |", "|---|---|"]
        for f in rows:
            name = f"**`{Path(f).parent}/`**" if f.endswith("__init__.py") else f"`{f}`"
            out.append(f"| {name} | {summary(root / f)} |")
    return "\n".join(out).strip() + "\n"


# ---- the reader card -----------------------------------------------------------------------------------------

def _value(v) -> str:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v)


def reader_card(m: dict) -> str:
    """The shipped reader's manifest as the card's tables: the file, its data and recipe, its held-out figures."""
    d, s, h = m["data"], m["settings"], m["held_out"]
    phases = "; ".join(f"{p['steps']:,} steps at a peak rate of {p['learning_rate']:g}, warm-up {p['warmup_share']:.0%}"
                       for p in s.get("phases", []))
    init = s.get("init")
    start = (f"the reader of commit {init['commit'][:7]} (`{init['path']}`, sha256 `{init['sha256'][:12]}…`)"
             if init else "the packaged encoder")
    rest = ", ".join(f"{k} {_value(v)}" for k, v in s.items() if k not in ("phases", "init"))
    out = [
        "| | |",
        "|---|---|",
        f"| weights | `{m['file']}`, {m['bytes']:,} bytes, sha256 `{m['sha256']}` |",
        f"| encoder | {m['encoder']} |",
        f"| data | `{d['file']}` (sha256 `{d['sha256']}`) |",
        f"| split | {d['split']}: {d['tuning_articles']} tuning articles (trained on), "
        f"{d['reporting_articles']} reporting articles (never trained on) |",
        f"| this file's training | from {start}: {phases} |",
        f"| windows | {m['trained_windows']:,} in this file's training ({m['trained_steps']:,} steps); "
        f"{m.get('trained_windows_in_all', m['trained_windows']):,} over every phase since the encoder |",
        f"| settings | {rest} |",
        f"| rebuild | `{m['command']}` |",
        "",
        f"Held out: {h['questions']:,} questions of the reporting articles"
        f"{', each with its paragraph' if h.get('paragraph_given') else ''}, answers compared after "
        f"{h['normalisation']} normalisation (`training/train_reader.py --export` measures both files):",
        "",
        "| model | exact match | F1 | ms a question (1 thread) |",
        "|---|---|---|---|",
    ]
    for kind, label in (("fp32", "fp32 ONNX"), ("int8", "int8 ONNX, dynamic per-channel quantisation (shipped)")):
        if kind in h:
            f = h[kind]
            out.append(f"| {label} | {f['exact_match']} | {f['f1']} | {f['ms_per_question']} |")
    return "\n".join(out) + "\n"


# ---- the command ------------------------------------------------------------------------------------------------

PARTS = {"modules": (ARCHITECTURE, module_map), "reader-card": (READER_CARD, lambda: reader_card(
    json.loads(MANIFEST.read_text(encoding="utf-8"))))}


def stale() -> list[str]:
    return [part for part, (page, render) in PARTS.items() if shown(part, page) != render().strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the generated parts are current")
    args = parser.parse_args()
    if args.check:
        behind = stale()
        print("docs/ is current" if not behind else f"stale: {', '.join(behind)}; run docs/generate.py")
        sys.exit(1 if behind else 0)
    for part, (page, render) in PARTS.items():
        replace(part, page, render())
    print("rewrote " + ", ".join(f"{p}" for p in PARTS))


if __name__ == "__main__":
    main()
