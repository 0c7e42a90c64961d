"""The benchmark suite works end to end at a tiny scale (no timing assertions: speed is the bench's job)."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bench import generate, report
from bench.__main__ import run_suite
from bench.measure import run_measured

TINY = 0.0005


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("bench") / "scale-0.0005" / "msd"
    generate.generate(TINY, dest)
    return dest


def test_triplets_are_in_the_real_format_and_grouped_by_user(tiny_data):
    lines = (tiny_data / generate.TRIPLETS).read_text(encoding="ascii").splitlines()
    meta = json.loads((tiny_data / generate.META).read_text())
    assert len(lines) == meta["written"]["triplets"]
    pattern = re.compile(r"^[0-9a-f]{40}\tSO[A-Z]{5}[0-9A-F]{11}\t[1-9][0-9]{0,3}$")
    bad = [line for line in lines if not pattern.match(line)]
    assert not bad, bad[:3]
    users = [line.split("\t", 1)[0] for line in lines]
    runs = [u for i, u in enumerate(users) if i == 0 or users[i - 1] != u]
    assert len(runs) == len(set(runs)) == meta["parameters"]["users"], "each user's lines must be contiguous"
    pairs = Counter((u, line.split("\t")[1]) for u, line in zip(users, lines))
    assert max(pairs.values()) == 1, "a user hears a song once"


def test_tracks_cover_every_song_with_more_tracks_than_songs(tiny_data):
    rows = [line.split("<SEP>") for line in (tiny_data / generate.TRACKS).read_text(encoding="utf-8").splitlines()]
    assert all(len(row) == 4 and row[0].startswith("TR") and row[1].startswith("SO") for row in rows)
    counts = generate.Counts.at(TINY)
    assert len(rows) == counts.tracks
    assert len({row[0] for row in rows}) == counts.tracks
    assert len({row[1] for row in rows}) == counts.catalog_songs < counts.tracks
    listened = {line.split("\t")[1] for line in (tiny_data / generate.TRIPLETS).read_text().splitlines()}
    assert len(listened) == counts.songs_with_listeners
    assert listened <= {row[1] for row in rows}


def test_skew_and_planted_genres(tiny_data):
    lines = [line.split("\t") for line in (tiny_data / generate.TRIPLETS).read_text().splitlines()]
    listeners = np.array(sorted(Counter(song for _, song, _ in lines).values(), reverse=True))
    assert listeners[0] > 5 * np.median(listeners), "a few songs must dominate"
    with np.load(tiny_data / generate.TRUTH, allow_pickle=False) as truth:
        genre = dict(zip(truth["song_ids"].astype(str).tolist(), truth["genre"].tolist()))
    by_user: dict[str, list[int]] = {}
    for user, song, _ in lines:
        by_user.setdefault(user, []).append(genre[song])
    # A user's commonest genre covers far more of their songs than genres at random would.
    share = np.mean([Counter(g).most_common(1)[0][1] / len(g) for g in by_user.values() if len(g) >= 10])
    assert share > 2.0 / generate.Counts.at(TINY).genres


def test_generation_is_deterministic_and_cached(tiny_data, tmp_path):
    again = tmp_path / "again"
    generate.generate(TINY, again)
    for name in (generate.TRIPLETS, generate.TRACKS):
        assert (again / name).read_bytes() == (tiny_data / name).read_bytes()
    stamp = (again / generate.TRIPLETS).stat().st_mtime_ns
    generate.generate(TINY, again)  # same parameters: reused, not rewritten
    assert (again / generate.TRIPLETS).stat().st_mtime_ns == stamp
    other = tmp_path / "other-seed"
    generate.generate(TINY, other, seed=7)
    assert (other / generate.TRIPLETS).read_bytes() != (tiny_data / generate.TRIPLETS).read_bytes()


def test_measurement_sees_the_child_memory_and_cpu():
    script = "import numpy as np; a = np.ones(60_000_000, dtype=np.uint8); s = sum(range(2_000_000))"
    measured = run_measured([sys.executable, "-c", script])
    assert measured.ok
    assert measured.peak_rss_mb >= 60
    assert measured.cpu_s > 0 and measured.wall_s > 0
    failing = run_measured([sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"])
    assert failing.returncode == 3 and not failing.ok and "boom" in failing.stderr_tail


def test_rows_judge_targets_and_explain_missing_figures():
    assert report.Row("x", "p50", "ms", "<= 5", ours=4.0).met is True
    assert report.Row("x", "rate", "/s", ">= 200", ours=150.0).met is False
    assert report.Row("x", "p50", "ms", "<= 5").met is None
    # "never worse than the anchor beside it"
    assert report.Row("x", "top-1", "", ">= anchor", ours=0.92, anchor=0.69).met is True
    assert report.Row("x", "top-1", "", ">= anchor", ours=0.60, anchor=0.69).met is False
    assert report.Row("x", "top-1", "", ">= anchor", ours=0.92).met is None
    steps = {"open": {"returncode": 0, "figures": {"status": "not available", "reason": "no model yet"}}}
    rows = {(r.step, r.figure): r for r in report.build_rows(steps)}
    row = rows[("(d) bot start to answering", "SoundalikeService.open")]
    assert row.ours is None and "no model yet" in row.note


@pytest.mark.slow
def test_suite_end_to_end_at_a_tiny_scale(tiny_data, tmp_path):
    work_root = tiny_data.parent.parent
    results = tmp_path / "results"
    outcome = run_suite(
        TINY,
        seed=2012,
        steps=["import-msd", "import-anchor", "load", "train", "compute"],
        work_root=work_root,
        results_dir=results,
        queries=40,
        timeout=300,
        fresh=False,
        plot=True,
    )
    saved = json.loads((results / "latest.json").read_text())
    assert saved == json.loads((results / f"scale-{TINY:g}.json").read_text())
    assert {"date", "scale", "machine", "data", "figures", "steps"} <= set(saved)
    assert saved["scale"] == TINY and saved["machine"]["cores"] >= 1
    for row in saved["figures"]:
        assert {"step", "figure", "unit", "target", "ours", "anchor", "anchor_name", "met"} <= set(row)
    steps = saved["steps"]
    for name in ("import-anchor", "load"):
        assert steps[name]["figures"]["status"] == "ok", steps[name]
        assert steps[name]["wall_s"] > 0 and steps[name]["peak_rss_mb"] > 0
    assert steps["import-anchor"]["figures"]["nnz"] == saved["data"]["written"]["triplets"]
    for name, step in steps.items():
        status = (step.get("figures") or {}).get("status")
        assert status in (None, "ok", "not available"), (name, step)
    if steps["compute"]["figures"]["status"] == "ok":
        compute = steps["compute"]["figures"]
        assert compute["ours"]["count"] == 40 and compute["ours"]["p99_ms"] >= compute["ours"]["p50_ms"]
        assert set(compute["implicit_similar_items"]) >= {"p50_ms", "p99_ms", "genre_agreement"}
        assert compute["original_pickles"]["count"] > 0
    table = report.markdown_table(outcome)
    assert table.count("\n| (") == len(saved["figures"])
    assert "| step | target | ours | anchor (same run) | met? |" in table
    assert (results / "scaling.png").stat().st_size > 0


def test_a_run_of_self_contained_steps_generates_no_msd_files(tmp_path):
    """`python -m bench --steps resolver` makes its own catalog: no 48 M triplets at scale 1."""
    work_root, results = tmp_path / "work", tmp_path / "results"
    outcome = run_suite(
        TINY,
        seed=2012,
        steps=["resolver"],
        work_root=work_root,
        results_dir=results,
        queries=60,
        timeout=300,
        fresh=False,
        plot=False,
    )
    assert not (work_root / generate.scale_dir_name(TINY) / "msd").exists()
    resolver = outcome["steps"]["resolver"]
    assert resolver["figures"]["status"] == "ok", resolver
    confidence = resolver["figures"]["confidence"]
    assert 0 <= confidence["held_out_confident"] <= 1 and confidence["held_out_queries"] > 0
    rows = {row["figure"]: row for row in outcome["figures"] if row["step"].startswith("(i) resolver")}
    assert rows["confident answers that are right"]["target"] == ">= 0.99"
    assert rows["titles held out of the index answered confidently"]["ours"] == confidence["held_out_confident"]
    assert "generate" not in outcome["steps"]
