"""The README and docs/ cannot drift: the tour is what the same commands print now (timings, version names and
ids aside; when this fails, run `.venv/bin/python tests/readme_tour.py` and read the diff); every generated part
of docs/ is its source rendered, exactly (benchmarks/report.py, docs/generate.py); the settings table lists every
setting with its default; and every link leads to a file."""

import difflib
import importlib.util
import json
import re
import shlex
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from readme_tour import BEGIN, END, README, normalise, readme_tour, run_tour

DOCS = ROOT / "docs"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    return _load("report", ROOT / "benchmarks" / "report.py")


@pytest.fixture(scope="module")
def generate():
    return _load("docs_generate", DOCS / "generate.py")


def _diff(shown: str, real: str, where: str) -> str:
    return "\n".join(difflib.unified_diff(shown.splitlines(), real.splitlines(), where, "now", lineterm=""))


@pytest.mark.model
def test_the_readme_tour_is_what_the_commands_print():
    shown, real = normalise(readme_tour(README.read_text(encoding="utf-8"))), normalise(run_tour())
    assert shown == real, "the README's tour has drifted:\n" + _diff(shown, real, "README")


def test_what_varies_between_runs_is_all_that_is_ignored():
    line = 'indexed 5 articles, 23 passages in 4.9 s (4.7 passages/s); skipped 0 files; version 20261122T030313Z'
    assert normalise(line) == ("indexed 5 articles, 23 passages in <seconds> s (<rate> passages/s); skipped 0 files; "
                               "version <version>")
    assert normalise('"index_version":"20261202T031108777621Z"') == '"index_version":"<version>"'
    assert normalise('"seconds": 0.0123, "turn": 1') == '"seconds": <seconds>, "turn": 1'
    assert normalise("Answer: 23 passages") == "Answer: 23 passages"  # counts and answers are compared as they are


def test_the_readme_stays_a_users_guide():
    text = README.read_text(encoding="utf-8")
    # 310: the feeds section (issue 36) with its real output and five settings rows; docs/ holds its details
    assert len(text.splitlines()) <= 310, "the README is a user's guide: put the rest in docs/"
    assert "<!-- bench:" not in text, "the benchmark tables live in docs/benchmarks.md"
    assert text.count(BEGIN) == 1 and text.count(END) == 1, "the tour's marker lines, once each"


def test_the_benchmark_page_quotes_the_results_files_and_only_them(report):
    for part, name in report.PARTS.items():
        real = report.rendered(part)
        assert real is not None, f"benchmarks/results/{name} is missing"
        shown = report.shown(part)
        assert shown == real, (f"docs/benchmarks.md's {part} part is not benchmarks/results/{name}: run `make bench` "
                               f"or `.venv/bin/python benchmarks/report.py`\n" + _diff(shown, real, "docs/benchmarks.md"))


def test_the_eval_tables_run_the_makefiles_commands(report):
    """The quality tables are of the commands `make eval` runs, all of them, in its order."""
    figures = json.loads((report.RESULTS / "eval.json").read_text(encoding="utf-8"))
    assert [r["command"] for r in figures["runs"]] == [shlex.join(c) for c in report.make_eval_commands()], \
        "make eval's commands changed: run `.venv/bin/python benchmarks/report.py --eval`"


def test_the_reader_card_is_its_manifest(generate):
    real = generate.reader_card(json.loads(generate.MANIFEST.read_text(encoding="utf-8"))).strip()
    shown = generate.shown("reader-card", generate.READER_CARD)
    assert shown == real, "run `.venv/bin/python docs/generate.py`\n" + _diff(shown, real, "docs/reader.md")


def test_the_module_map_is_the_modules_docstrings(generate):
    real = generate.module_map().strip()
    shown = generate.shown("modules", generate.ARCHITECTURE)
    assert shown == real, "run `.venv/bin/python docs/generate.py`\n" + _diff(shown, real, "docs/architecture.md")


def _default(value) -> str:
    if value is None:
        return "unset"
    if isinstance(value, Path):
        return str(value.relative_to(ROOT) if value.is_absolute() and value.is_relative_to(ROOT) else value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def test_the_settings_table_lists_every_setting_with_its_default():
    from bot.settings import Settings

    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Settings\n"):]
    section = section[:section.find("\n## ", 1)] if "\n## " in section[1:] else section
    rows = dict(re.findall(r"^\| `(CITEQA_\w+)` \| `?([^|`]*)`? \|", section, re.MULTILINE))
    expected = {}
    for name, field in Settings.model_fields.items():
        value = field.default_factory() if field.default_factory else field.default
        expected[f"CITEQA_{name.upper()}"] = _default(value)
    assert set(rows) == set(expected), f"missing {sorted(set(expected) - set(rows))}, extra {sorted(set(rows) - set(expected))}"
    wrong = {k: (rows[k], expected[k]) for k in expected if rows[k] != expected[k]}
    assert not wrong, f"the README's defaults differ from bot/settings.py (shown, real): {wrong}"


def test_every_link_in_the_readme_and_docs_leads_to_a_file():
    pages = [README, *sorted(DOCS.rglob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            if not (page.parent / target.split("#")[0]).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken
