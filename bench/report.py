"""Turn the measured steps into figures: JSON for bench/results and a Markdown table for the README.

Every figure is a row (bench/figures.py): which step, what is measured, its target (if any),
ours, the anchor measured in the same run (and what that anchor is), and whether the target is met.
A report also names the machine, its load when the run started, and the commit measured.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import time
from pathlib import Path

from bench.figures import Row, build_rows

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def machine_facts() -> dict:
    import numpy
    import psutil

    facts = {
        "hostname": platform.node(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
    }
    try:
        from threadpoolctl import threadpool_info

        facts["blas"] = [
            {k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for info in threadpool_info()
        ]
    except Exception:  # facts are a courtesy; a missing one is not worth failing the run for
        pass
    with contextlib.suppress(OSError, subprocess.SubprocessError):  # no git here: no commit to name
        facts["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    return facts


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def build_report(scale: float, seed: int, steps: dict, data: dict, started: float) -> dict:
    written = data.get("written", {}).get("triplets")
    seconds = data.get("seconds", {}).get("total")
    rows = [
        Row(
            "(data) generate MSD-shaped files",
            f"{written:,} triplets" if written else "all files",
            "s",
            ours=seconds,
            note="bench/generate.py, numpy, one process (cached afterwards)",
        )
    ]
    rows += build_rows(steps)
    return {
        "suite": "soundalike bench",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1),
        "scale": scale,
        "seed": seed,
        "machine": machine_facts(),
        "data": data,
        "figures": [row.as_dict() for row in rows],
        "steps": steps,
    }


def _format(number: float | None, unit: str) -> str:
    if number is None:
        return "—"
    if unit == "MB":
        return f"{number / 1024:.2f} GB" if number >= 1024 else f"{number:.0f} MB"
    if unit == "ms":
        return f"{number:.2f} ms" if number < 100 else f"{number:,.0f} ms"
    if unit == "s":
        return f"{number:.3f} s" if number < 10 else f"{number:,.1f} s"
    if unit == "/s":
        return f"{number:,.0f}/s" if number >= 10 else f"{number:.2f}/s"
    return f"{number:.3f}" if isinstance(number, float) else f"{number:,}"


def markdown_table(report: dict) -> str:
    facts = report["machine"]
    lines = [
        f"Scale {report['scale']:g} ({report['data'].get('written', {}).get('triplets', '?'):,} triplets), "
        f"{facts.get('cores')} cores ({facts.get('cpu')}), {facts.get('memory_gb')} GB, "
        f"load average at start {facts.get('load_average')}, {report['date']}.",
        "",
        "| step | target | ours | anchor (same run) | met? |",
        "| --- | --- | --- | --- | --- |",
    ]
    notes: list[str] = []
    for row in report["figures"]:
        unit = row["unit"]
        target = "—"
        if row["target"] is not None:
            op, limit = row["target"].split()
            shown = "the anchor" if limit == "anchor" else _format(float(limit), unit)
            target = f"{'≤' if op == '<=' else '≥'} {shown}"
        ours = _format(row["ours"], unit)
        if row["ours"] is None and row["note"]:
            if row["note"] not in notes:
                notes.append(row["note"])
            ours = f"n/a [{notes.index(row['note']) + 1}]"
        anchor = _format(row["anchor"], unit)
        if row["anchor"] is not None and row["anchor_name"]:
            anchor = f"{anchor} ({row['anchor_name']})"
        met = {True: "yes", False: "**no**", None: "—"}[row["met"]]
        lines.append(f"| {row['step']}: {row['figure']} | {target} | {ours} | {anchor} | {met} |")
    if notes:
        lines.append("")
        lines += [f"[{number}] {note}" for number, note in enumerate(notes, start=1)]
    return "\n".join(lines) + "\n"


def merge_previous(results_dir: Path, scale: float, seed: int, steps: dict) -> dict:
    """``steps`` plus the steps of the saved run at this scale that this run did not measure.

    Carried steps keep their own ``date``; a different seed or generator makes them stale,
    so they are not carried then.
    """
    path = Path(results_dir) / f"scale-{scale:g}.json"
    if not path.exists():
        return steps
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return steps
    if previous.get("seed") != seed or previous.get("scale") != scale:
        return steps
    merged = dict(steps)
    for name, step in (previous.get("steps") or {}).items():
        if name not in merged:
            merged[name] = {**step, "carried_over": True}
    return merged


def previous_data(results_dir: Path, scale: float, seed: int) -> dict:
    """The generated data's facts of the saved run at this scale and seed, or {}."""
    path = Path(results_dir) / f"scale-{scale:g}.json"
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    if previous.get("seed") != seed or previous.get("scale") != scale:
        return {}
    return previous.get("data") or {}


def write_results(report: dict, results_dir: Path) -> tuple[Path, Path]:
    """results/scale-<s>.json (kept per scale, for the plot) and results/latest.json."""
    results_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, default=str) + "\n"
    paths = []
    for name in (f"scale-{report['scale']:g}.json", "latest.json"):
        path = results_dir / name
        temp = path.with_suffix(".json.tmp")
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
        paths.append(path)
    return paths[0], paths[1]
