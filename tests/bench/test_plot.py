"""bench.plot draws time and memory against scale from every saved run."""

from __future__ import annotations

import shutil

from paths import PROJECT_ROOT

from bench import plot


def test_every_saved_run_gives_each_series_its_point_and_the_plot_is_drawn(tmp_path):
    for path in (PROJECT_ROOT / "bench" / "results").glob("scale-*.json"):
        shutil.copy(path, tmp_path / path.name)
    runs = plot.load_runs(tmp_path)
    assert len(runs) >= 2 and [run["scale"] for run in runs] == sorted(run["scale"] for run in runs)
    for run in runs:
        for label, step, where, _, _ in plot.SERIES:
            assert plot._seconds(run, step, where) > 0, (run["scale"], label)
    out = plot.plot_scaling(tmp_path, tmp_path / "scaling.png")
    assert out is not None and out.read_bytes().startswith(b"\x89PNG")
