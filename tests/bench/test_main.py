"""``python -m bench``: the suite end to end at a tiny scale (no timing assertions: speed is the bench's job)."""

from __future__ import annotations

import json

import pytest

from bench import generate, report
from bench.__main__ import run_suite

SERVING_STEPS = ("open-first", "open", "compute", "throughput", "complete")


@pytest.mark.slow
def test_suite_end_to_end_at_a_tiny_scale(tiny_data, tiny_scale, tmp_path):
    work_root = tiny_data.parent.parent
    results = tmp_path / "results"
    outcome = run_suite(
        tiny_scale,
        seed=2012,
        steps=["import-msd", "import-anchor", "load", "train", *SERVING_STEPS],
        work_root=work_root,
        results_dir=results,
        queries=40,
        timeout=300,
        fresh=False,
        plot=True,
    )
    saved = json.loads((results / "latest.json").read_text())
    assert saved == json.loads((results / f"scale-{tiny_scale:g}.json").read_text())
    assert {"date", "scale", "machine", "data", "figures", "steps"} <= set(saved)
    assert saved["scale"] == tiny_scale and saved["machine"]["cores"] >= 1
    for row in saved["figures"]:
        assert {"step", "figure", "unit", "target", "ours", "anchor", "anchor_name", "met"} <= set(row)
    steps = saved["steps"]
    assert set(steps) == {"generate", "import-msd", "import-anchor", "load", "train", *SERVING_STEPS}
    for name in set(steps) - {"generate"}:
        assert steps[name]["returncode"] == 0 and steps[name]["figures"]["status"] == "ok", (name, steps[name])
    for name in ("import-msd", "import-anchor", "load", "train"):
        assert steps[name]["wall_s"] > 0 and steps[name]["peak_rss_mb"] > 0
    assert steps["import-anchor"]["figures"]["nnz"] == saved["data"]["written"]["triplets"]
    assert steps["train"]["figures"]["factors"] == 64 and steps["train"]["figures"]["per_iteration_s"] > 0
    compute = steps["compute"]["figures"]
    assert compute["ours"]["count"] == 40 and compute["ours"]["p99_ms"] >= compute["ours"]["p50_ms"]
    assert compute["render"] == "bot.render.answer_embed"
    assert compute["resolved_to_the_song_asked"] > 0.5
    assert set(compute["implicit_similar_items"]) >= {"p50_ms", "p99_ms", "genre_agreement"}
    assert compute["original_pickles"]["count"] > 0
    assert steps["throughput"]["figures"]["pool"].startswith("recommender.app.limits.ComputePool")
    assert steps["throughput"]["figures"]["requests"] == 40
    assert steps["complete"]["figures"]["ours"]["count"] == 40
    assert steps["open"]["figures"]["first_answer_ms"] > 0
    rows = {(row["step"], row["figure"]): row for row in saved["figures"]}
    for key in (
        ("(d) bot start to answering", "SoundalikeService.open"),
        ("(e) /soundalike compute path", "p50"),
        ("(f) concurrent /soundalike", "answers per second"),
        ("(g) autocomplete", "p95"),
    ):
        assert rows[key]["ours"] is not None and rows[key]["note"] is None, rows[key]
    table = report.markdown_table(outcome)
    assert table.count("\n| (") == len(saved["figures"])
    assert "| step | target | ours | anchor (same run) | met? |" in table
    assert (results / "scaling.png").stat().st_size > 0


def test_a_run_of_self_contained_steps_generates_no_msd_files(tiny_scale, tmp_path):
    """`python -m bench --steps resolver` makes its own catalog: no 48 M triplets at scale 1."""
    work_root, results = tmp_path / "work", tmp_path / "results"
    outcome = run_suite(
        tiny_scale,
        seed=2012,
        steps=["resolver"],
        work_root=work_root,
        results_dir=results,
        queries=60,
        timeout=300,
        fresh=False,
        plot=False,
    )
    assert not (work_root / generate.scale_dir_name(tiny_scale) / "msd").exists()
    resolver = outcome["steps"]["resolver"]
    assert resolver["figures"]["status"] == "ok", resolver
    confidence = resolver["figures"]["confidence"]
    assert 0 <= confidence["held_out_confident"] <= 1 and confidence["held_out_queries"] > 0
    rows = {row["figure"]: row for row in outcome["figures"] if row["step"].startswith("(i) resolver")}
    assert rows["confident answers that are right"]["target"] == ">= 0.99"
    assert rows["titles held out of the index answered confidently"]["ours"] == confidence["held_out_confident"]
    assert "generate" not in outcome["steps"]


def test_unknown_steps_are_refused_by_name(capsys):
    from bench.__main__ import main

    with pytest.raises(SystemExit):
        main(["--steps", "compute,nonsense", "--no-plot"])
    assert "unknown steps ['nonsense']" in capsys.readouterr().err
