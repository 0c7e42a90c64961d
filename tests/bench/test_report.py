"""bench.report: a run's JSON and its Markdown table; runs of some steps keep the others' figures."""

from __future__ import annotations

import json

from paths import PROJECT_ROOT

from bench import report

SCALE_1 = PROJECT_ROOT / "bench" / "results" / "scale-1.json"


def test_the_table_has_a_line_per_figure_and_numbers_the_reasons_for_missing_ones():
    saved = json.loads(SCALE_1.read_text(encoding="utf-8"))
    saved["figures"].append(
        {**saved["figures"][-1], "figure": "something not measured", "ours": None, "note": "ann: not run"}
    )
    table = report.markdown_table(saved)
    assert "| step | target | ours | anchor (same run) | met? |" in table
    assert table.count("\n| (") == len(saved["figures"])
    p50 = next(row for row in saved["figures"] if row["step"].startswith("(e)") and row["figure"] == "p50")
    assert f"| (e) /soundalike compute path: p50 | ≤ 5.00 ms | {p50['ours']:.2f} ms |" in table
    assert "| n/a [1] |" in table and table.rstrip().endswith("[1] ann: not run")


def test_a_run_of_some_steps_carries_the_others_over_from_the_same_scale_and_seed(tmp_path):
    first = {"scale": 0.01, "seed": 2012, "data": {"written": {"triplets": 5}}, "steps": {"open": {"x": 1}}}
    report.write_results(first, tmp_path)
    assert json.loads((tmp_path / "latest.json").read_text()) == first
    assert not list(tmp_path.glob("*.tmp"))
    merged = report.merge_previous(tmp_path, 0.01, 2012, {"compute": {"y": 2}})
    assert merged == {"compute": {"y": 2}, "open": {"x": 1, "carried_over": True}}
    assert report.previous_data(tmp_path, 0.01, 2012) == {"written": {"triplets": 5}}
    # Another seed made other data: nothing is carried.
    assert report.merge_previous(tmp_path, 0.01, 7, {"compute": {}}) == {"compute": {}}
    assert report.previous_data(tmp_path, 0.01, 7) == {}
