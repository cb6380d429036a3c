"""The README cannot drift: its tour is what the same commands print now (timings, version names and ids
aside; when this fails, run `.venv/bin/python tests/readme_tour.py` and read the diff), and its performance
tables are the last benchmark run's, exactly."""

import difflib

import pytest
from readme_tour import README, normalise, readme_tour, run_tour


@pytest.mark.model
def test_the_readme_tour_is_what_the_commands_print():
    shown, real = normalise(readme_tour(README.read_text(encoding="utf-8"))), normalise(run_tour())
    assert shown == real, "the README's tour has drifted:\n" + "\n".join(
        difflib.unified_diff(shown.splitlines(), real.splitlines(), "README", "now", lineterm=""))


def test_what_varies_between_runs_is_all_that_is_ignored():
    line = 'indexed 5 articles, 23 passages in 4.9 s (4.7 passages/s); skipped 0 files; version 20261122T030313Z'
    assert normalise(line) == ("indexed 5 articles, 23 passages in <seconds> s (<rate> passages/s); skipped 0 files; "
                               "version <version>")
    assert normalise('"index_version":"20261202T031108777621Z"') == '"index_version":"<version>"'
    assert normalise('"seconds": 0.0123, "turn": 1') == '"seconds": <seconds>, "turn": 1'
    assert normalise("Answer: 23 passages") == "Answer: 23 passages"  # counts and answers are compared as they are


def test_the_readme_quotes_the_last_benchmark_run_and_only_it():
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import report

    results = (ROOT / "benchmarks" / "results" / "results.md").read_text(encoding="utf-8").strip()
    assert report.readme_tables() == results, "run `make bench` (or benchmarks/run.py --report-only)"
