"""bench.measure: each step's process is measured whole by the operating system."""

from __future__ import annotations

import sys

from bench.measure import run_measured


def test_measurement_sees_the_child_memory_and_cpu():
    script = "import numpy as np; a = np.ones(60_000_000, dtype=np.uint8); s = sum(range(2_000_000))"
    measured = run_measured([sys.executable, "-c", script])
    assert measured.ok
    assert measured.peak_rss_mb >= 60
    assert measured.cpu_s > 0 and measured.wall_s > 0
    failing = run_measured([sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"])
    assert failing.returncode == 3 and not failing.ok and "boom" in failing.stderr_tail
