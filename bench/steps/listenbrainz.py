"""(k) import a ListenBrainz listens dump: listens per second and peak memory of
``python -m recommender data import-listenbrainz`` on a generated ``.tar.zst`` dump of
50 M x scale listens (``bench/listenbrainz_dump.py``; 50 M at scale 1.0).

The dump is generated once per size into ``<work>/listenbrainz/`` (in a child process, not
measured here) and reused. The import runs as the product's own command in its own process,
measured by :func:`bench.measure.run_measured` (wall time, CPU time, peak RSS from ``wait4``),
so the figures are what a person running the command pays, imports included.

To run it at full size (50 M listens, about 20 GB of JSON before compression, a few GB as
.tar.zst): ``python -m bench --scale 1.0 --steps import-listenbrainz``; the step alone:
``python -m bench.steps import-listenbrainz --scale 1.0 --work bench/work/scale-1 --out lb.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench import listenbrainz_dump
from bench.measure import run_measured
from bench.steps.context import Context, product_env

DATASET = "lb-bench"


def import_listenbrainz_argv(dump: Path) -> list[str]:
    """``python -m recommender data import-listenbrainz ...`` for the generated dump."""
    return [
        sys.executable,
        "-m",
        "recommender",
        "data",
        "import-listenbrainz",
        "--dump",
        str(dump),
        "--name",
        DATASET,
        "--no-progress",
        "--replace",  # the work folder is reused from run to run: import again on purpose
    ]


def import_listenbrainz(ctx: Context) -> dict:
    listens = listenbrainz_dump.listens_at(ctx.scale)
    folder = ctx.work / "listenbrainz"
    if not listenbrainz_dump.is_current(folder, listens):
        generated = run_measured(
            [sys.executable, "-m", "bench.listenbrainz_dump", "--listens", str(listens), "--dest", str(folder)]
        )
        if not generated.ok:
            raise RuntimeError(f"generating the dump failed: {generated.stderr_tail.strip()[-500:]}")
    facts = json.loads((folder / listenbrainz_dump.META).read_text(encoding="utf-8"))
    measured = run_measured(import_listenbrainz_argv(folder / listenbrainz_dump.ARCHIVE), env=product_env(ctx.work))
    if not measured.ok:
        raise RuntimeError(f"import-listenbrainz failed: {measured.stderr_tail.strip()[-500:]}")
    manifest = json.loads((ctx.data_root / "datasets" / DATASET / "manifest.json").read_text(encoding="utf-8"))
    return {
        "listens": facts["written"]["listens"],
        "archive_mb": round(facts["written"]["archive_bytes"] / 2**20, 1),
        "generate_seconds": facts["seconds"],
        "import_wall_s": measured.wall_s,
        "import_cpu_s": measured.cpu_s,
        "import_peak_rss_mb": measured.peak_rss_mb,
        "listens_per_second": round(facts["written"]["listens"] / measured.wall_s, 1),
        "users": manifest["users"],
        "recordings": manifest["items"],
        "pairs": manifest["interactions"],
        "command": " ".join(import_listenbrainz_argv(folder / listenbrainz_dump.ARCHIVE)[1:]),
    }
