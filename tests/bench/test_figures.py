"""bench.figures: each figure judged against its target, and earlier runs read as they were."""

from __future__ import annotations

import json

import pytest
from paths import PROJECT_ROOT

from bench.figures import Row, build_rows

SAVED_RUNS = sorted((PROJECT_ROOT / "bench" / "results").glob("scale-*.json"))


def test_rows_judge_targets_and_explain_missing_figures():
    assert Row("x", "p50", "ms", "<= 5", ours=4.0).met is True
    assert Row("x", "rate", "/s", ">= 200", ours=150.0).met is False
    assert Row("x", "p50", "ms", "<= 5").met is None
    # "never worse than the anchor beside it"
    assert Row("x", "top-1", "", ">= anchor", ours=0.92, anchor=0.69).met is True
    assert Row("x", "top-1", "", ">= anchor", ours=0.60, anchor=0.69).met is False
    assert Row("x", "top-1", "", ">= anchor", ours=0.92).met is None
    steps = {"open": {"returncode": 0, "figures": {"status": "not available", "reason": "no model yet"}}}
    rows = {(r.step, r.figure): r for r in build_rows(steps)}
    row = rows[("(d) bot start to answering", "SoundalikeService.open")]
    assert row.ours is None and "no model yet" in row.note


def test_a_failed_step_gets_its_rows_with_the_reason_and_the_others_keep_theirs():
    steps = {
        "compute": {"returncode": 1, "figures": {"status": "failed", "reason": "ModuleNotFoundError: bot.render"}},
        "complete": {
            "returncode": 0,
            "figures": {"status": "ok", "ours": {"p95_ms": 7.5}, "wratio_full_scan": {"p95_ms": 90.0}},
        },
        "load": {"returncode": 0, "timed_out": True, "wall_s": 12.0, "figures": {}},
    }
    rows = {(r.step, r.figure): r for r in build_rows(steps)}
    p50 = rows[("(e) /soundalike compute path", "p50")]
    assert p50.ours is None and p50.note == "compute: failed: ModuleNotFoundError: bot.render"
    complete = rows[("(g) autocomplete", "p95")]
    assert (complete.ours, complete.anchor, complete.met) == (7.5, 90.0, True)
    assert rows[("(b) load binary dataset", "Dataset.load")].note == "load: timed out after 12.0 s"
    assert rows[("(f) concurrent /soundalike", "answers per second")].note == "throughput: not run"


@pytest.mark.parametrize("path", SAVED_RUNS, ids=[path.name for path in SAVED_RUNS])
def test_every_saved_run_gives_back_the_table_it_saved(path):
    """bench/results from earlier runs stay readable: their steps rebuild their figures exactly
    (a change to the table shows here first: rerun the bench at that scale, or say why not)."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    rows = [row.as_dict() for row in build_rows(saved["steps"])]
    assert rows == saved["figures"][1:]  # the first row is the generated data's, made by build_report


def test_a_burst_step_gets_rows_judged_against_its_targets_and_only_when_it_ran():
    burst = {
        "requests": 1000,
        "answered": 1000,
        "busy": 0,
        "acknowledgement": {"p99_ms": 1090.0},
        "answer": {"max_ms": 10400.0},
    }
    steps = {
        "burst": {"returncode": 0, "figures": {"status": "ok", **burst}},
        "burst-processes": {"returncode": 1, "figures": {"status": "failed", "reason": "a bot process exited"}},
    }
    rows = {(r.step, r.figure): r for r in build_rows(steps)}
    one = "(k) burst of 1,000 /soundalike, one bot process"
    assert [(rows[(one, f)].ours, rows[(one, f)].met) for f in ("answered", "answered busy")] == [
        (1000, True),
        (0, True),
    ]
    assert (rows[(one, "acknowledgement p99")].ours, rows[(one, "acknowledgement p99")].met) == (1090.0, True)
    assert (rows[(one, "last answer")].ours, rows[(one, "last answer")].met) == (10400.0, False)
    failed = rows[("(k) burst, two bot processes, one shard each", "last answer")]
    assert failed.ours is None and failed.note == "burst-processes: failed: a bot process exited"
    # A run without the burst steps has no burst rows.
    assert not [row for row in build_rows({}) if "burst" in row.step]
