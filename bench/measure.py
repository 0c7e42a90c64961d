"""Run one measurement in its own process and record wall time, CPU time and peak RSS.

Each step is a fresh child process, so one step's caches, imports and freed-but-kept memory
never flatter the next. The child's resources come from ``os.wait4``: user + system CPU of
the child and of any processes it waited for, and the peak resident set size of the largest
of them (Linux reports ``ru_maxrss`` in KiB).

Python steps run as ``python -m bench.steps <step> --out FILE ...`` and write their own
figures (latencies, per-iteration times) into FILE as JSON; see :mod:`bench.steps`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Measurement:
    """What the operating system says one child process cost."""

    argv: list[str]
    returncode: int
    wall_s: float
    cpu_s: float
    user_s: float
    system_s: float
    peak_rss_mb: float
    timed_out: bool = False
    stderr_tail: str = ""
    figures: dict = field(default_factory=dict)  # what the step itself reported

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def as_dict(self) -> dict:
        return asdict(self)


def run_measured(
    argv: list[str], *, env: dict | None = None, timeout: float | None = None, cwd: Path = PROJECT_ROOT
) -> Measurement:
    """Run ``argv`` to completion (or ``timeout``) and measure it.

    The child gets its own process group so that a timeout ends it and anything it started.
    """
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
                os.killpg(child.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, stop) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        stderr.seek(0)
        tail = stderr.read()[-4000:].decode("utf-8", "replace")
    return Measurement(
        argv=[str(a) for a in argv],
        returncode=child.returncode,
        wall_s=round(wall, 4),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 4),
        user_s=round(usage.ru_utime, 4),
        system_s=round(usage.ru_stime, 4),
        peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
        timed_out=timed_out.is_set(),
        stderr_tail=tail,
    )


def run_step(
    step: str,
    *,
    scale: float,
    work: Path,
    seed: int,
    timeout: float | None = None,
    extra: list[str] | None = None,
    env: dict | None = None,
) -> Measurement:
    """Run ``python -m bench.steps <step>`` measured; its figures land in ``.figures``."""
    fd, out_path = tempfile.mkstemp(prefix=f"bench-{step}-", suffix=".json")
    os.close(fd)
    out = Path(out_path)
    try:
        argv = [
            sys.executable,
            "-m",
            "bench.steps",
            step,
            "--scale",
            repr(scale),
            "--work",
            str(work),
            "--seed",
            str(seed),
            "--out",
            str(out),
            *(extra or []),
        ]
        measurement = run_measured(argv, env=env, timeout=timeout)
        text = out.read_text(encoding="utf-8") if out.exists() else ""
        if text.strip():
            measurement.figures = json.loads(text)
        return measurement
    finally:
        out.unlink(missing_ok=True)
