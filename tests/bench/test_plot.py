"""bench.plot draws time and memory against scale from every saved run."""

from __future__ import annotations

import shutil

from paths import PROJECT_ROOT

from bench import plot


def test_the_saved_runs_give_each_series_a_line_and_the_plot_is_drawn(tmp_path):
    for path in (PROJECT_ROOT / "bench" / "results").glob("scale-*.json"):
        shutil.copy(path, tmp_path / path.name)
    runs = plot.load_runs(tmp_path)
    assert len(runs) >= 2 and [run["scale"] for run in runs] == sorted(run["scale"] for run in runs)
    for label, step, where, _, _ in plot.SERIES:  # a line of at least two points each
        points = [plot._seconds(run, step, where) for run in runs]
        assert sum(1 for seconds in points if seconds and seconds > 0) >= 2, (label, points)
    out = plot.plot_scaling(tmp_path, tmp_path / "scaling.png")
    assert out is not None and out.read_bytes().startswith(b"\x89PNG")
