"""Turn the measured steps into figures: JSON for bench/results and a Markdown table for the README.

Every figure is a row: which step, what is measured, its target (if any), ours, the anchor
measured in the same run (and what that anchor is), and whether the target is met.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    step: str
    figure: str
    unit: str  # "s", "ms", "MB", "/s", "" (a share)
    target: str | None = None  # "<= 5" or ">= 200", in ``unit``
    ours: float | None = None
    anchor: float | None = None
    anchor_name: str | None = None
    note: str | None = None  # why ours is missing, or how it was measured

    @property
    def met(self) -> bool | None:
        if self.target is None or self.ours is None:
            return None
        op, value = self.target.split()
        if value == "anchor":  # "never worse than the anchor measured beside it"
            if self.anchor is None:
                return None
            bound = float(self.anchor)
        else:
            bound = float(value)
        return self.ours <= bound if op == "<=" else self.ours >= bound

    def as_dict(self) -> dict:
        return {**asdict(self), "met": self.met}


def _figures(steps: dict, name: str) -> dict:
    step = steps.get(name) or {}
    return step.get("figures") or {}


def _ok(steps: dict, name: str) -> bool:
    step = steps.get(name) or {}
    return bool(step) and step.get("returncode") == 0 and _figures(steps, name).get("status") == "ok"


def _why(steps: dict, name: str) -> str:
    step = steps.get(name)
    if not step:
        return f"{name}: not run"
    figures = step.get("figures") or {}
    if figures.get("status") in ("not available", "failed"):
        return f"{name}: {figures['status']}: {figures.get('reason')}"
    if step.get("timed_out"):
        return f"{name}: timed out after {step.get('wall_s')} s"
    if step.get("returncode") != 0:
        lines = (step.get("stderr_tail") or "").strip().splitlines()
        return f"{name}: exit {step.get('returncode')}: {lines[-1] if lines else ''}"
    return f"{name}: no figure"


def _get(figures: dict, *path):
    for key in path:
        if not isinstance(figures, dict) or key not in figures:
            return None
        figures = figures[key]
    return figures


def build_rows(steps: dict) -> list[Row]:
    """The table, from what each step reported. Missing pieces become rows with a note."""
    rows: list[Row] = []

    def value(name: str, *path, measured: str | None = None):
        """A figure of a step that ran: from its own JSON, or (measured=) from the OS's view."""
        if not _ok(steps, name):
            return None
        if measured:
            return steps[name].get(measured)
        return _get(_figures(steps, name), *path)

    def mb(name):
        v = value(name, measured="peak_rss_mb")
        return v

    # (a) import
    note = None if _ok(steps, "import-msd") else _why(steps, "import-msd")
    rows.append(
        Row(
            "(a) import MSD files",
            "wall time",
            "s",
            "<= 20",
            ours=value("import-msd", measured="wall_s"),
            anchor=value("import-anchor", measured="wall_s"),
            anchor_name='pandas read_csv(engine="pyarrow"), category dtypes -> CSR (triplets only)',
            note=note,
        )
    )
    rows.append(
        Row(
            "(a) import MSD files",
            "peak RSS",
            "MB",
            "<= 2560",
            ours=mb("import-msd"),
            anchor=mb("import-anchor"),
            anchor_name="same",
            note=note,
        )
    )
    # (b) load
    rows.append(
        Row(
            "(b) load binary dataset",
            "Dataset.load",
            "s",
            "<= 1",
            ours=value("load", "seconds"),
            anchor=value("import-anchor", "seconds"),
            anchor_name="reading the text triplets (anchor reader, in process)",
            note=None if _ok(steps, "load") else _why(steps, "load"),
        )
    )
    # (c) training
    ours_iteration, how = None, None
    if _ok(steps, "train"):
        reported = _get(steps["train"], "figures", "per_iteration_s")
        if reported:
            ours_iteration, how = reported, "reported by the model"
        else:
            ours_iteration = round(steps["train"]["wall_s"] / 15, 4)
            how = "whole `train` command / 15 (includes loading and weighting)"
    rows.append(
        Row(
            "(c) ALS 64 factors x 15",
            "seconds per iteration",
            "s",
            "<= 6",
            ours=ours_iteration,
            anchor=value("train-implicit", "per_iteration_s"),
            anchor_name="implicit defaults as installed, BLAS threads not limited",
            note=how if ours_iteration is not None else _why(steps, "train"),
        )
    )
    rows.append(
        Row(
            "(c) ALS 64 factors x 15",
            "peak RSS",
            "MB",
            ours=mb("train"),
            anchor=mb("train-implicit"),
            anchor_name="same",
        )
    )
    # (d) bot start
    open_note = None if _ok(steps, "open") else _why(steps, "open")
    original_p50 = value("compute", "original_pickles", "p50_ms")
    rows.append(
        Row(
            "(d) bot start to answering",
            "SoundalikeService.open",
            "s",
            "<= 5",
            ours=value("open", "seconds"),
            anchor=round(original_p50 / 1000, 4) if original_p50 is not None else None,
            anchor_name="the original loads its pickles on every request (p50)",
            note=open_note,
        )
    )
    rows.append(
        Row(
            "(d) bot start to answering",
            "first /soundalike after open",
            "ms",
            ours=value("open", "first_answer_ms"),
            note=open_note,
        )
    )
    rows.append(
        Row(
            "(d) bot start to answering",
            "peak RSS",
            "MB",
            "<= 1536",
            ours=value("open", measured="peak_rss_mb") if _ok(steps, "open") else None,
            note=open_note,
        )
    )
    first_note = None if _ok(steps, "open-first") else _why(steps, "open-first")
    rows.append(
        Row(
            "(d) first start after an import",
            "open, building and saving the title index",
            "s",
            ours=value("open-first", "seconds"),
            note=first_note,
        )
    )
    rows.append(
        Row(
            "(d) first start after an import",
            "peak RSS",
            "MB",
            ours=value("open-first", measured="peak_rss_mb") if _ok(steps, "open-first") else None,
            note=first_note,
        )
    )
    # (e) compute path
    compute_note = None if _ok(steps, "compute") else _why(steps, "compute")
    rows.append(
        Row(
            "(e) /soundalike compute path",
            "p50",
            "ms",
            "<= 5",
            ours=value("compute", "ours", "p50_ms"),
            anchor=value("compute", "implicit_similar_items", "p50_ms"),
            anchor_name="implicit similar_items brute force alone (no resolve, merge, reasons)",
            note=compute_note,
        )
    )
    rows.append(
        Row(
            "(e) /soundalike compute path",
            "p99",
            "ms",
            "<= 25",
            ours=value("compute", "ours", "p99_ms"),
            anchor=value("compute", "implicit_similar_items", "p99_ms"),
            anchor_name="same",
            note=compute_note,
        )
    )
    rows.append(
        Row(
            "(e) /soundalike compute path",
            "p50 with BLAS held to 1 thread (diagnostic)",
            "ms",
            ours=value("compute", "ours_blas_one_thread", "p50_ms"),
            anchor=value("compute", "ours", "p50_ms"),
            anchor_name="ours as configured",
            note=compute_note,
        )
    )
    rows.append(
        Row(
            "(e) /soundalike compute path",
            "p50 vs the original",
            "ms",
            ours=value("compute", "ours", "p50_ms"),
            anchor=original_p50,
            anchor_name="original: 4 pickles loaded per request + exact title match + similar_items",
            note=compute_note,
        )
    )
    rows.append(
        Row(
            "(e) quality: planted genre",
            "share of suggestions in the seed's genre",
            "",
            ours=value("compute", "genre_agreement"),
            anchor=value("compute", "implicit_similar_items", "genre_agreement"),
            anchor_name=f"implicit similar_items (chance: {value('compute', 'genre_chance')})",
            note=compute_note,
        )
    )
    # (f) throughput
    original_rate = round(1000 / original_p50, 2) if original_p50 else None
    rows.append(
        Row(
            "(f) concurrent /soundalike",
            "answers per second",
            "/s",
            ">= 200",
            ours=value("throughput", "answers_per_s"),
            anchor=original_rate,
            anchor_name="the original, one request at a time (1 / p50)",
            note=None if _ok(steps, "throughput") else _why(steps, "throughput"),
        )
    )
    # (g) autocomplete
    complete_note = None if _ok(steps, "complete") else _why(steps, "complete")
    rows.append(
        Row(
            "(g) autocomplete",
            "p95",
            "ms",
            "<= 20",
            ours=value("complete", "ours", "p95_ms"),
            anchor=value("complete", "wratio_full_scan", "p95_ms"),
            anchor_name="rapidfuzz process.extract(WRatio) over all titles",
            note=complete_note,
        )
    )
    # (h) during a retrain
    retrain_note = None if _ok(steps, "retrain") else _why(steps, "retrain")
    rows.append(
        Row(
            "(h) /soundalike during a retrain",
            "compute p99",
            "ms",
            "<= 100",
            ours=value("retrain", "during_retrain", "compute", "p99_ms"),
            anchor=value("retrain", "quiet", "compute", "p99_ms"),
            anchor_name="same, no retrain running",
            note=retrain_note,
        )
    )
    rows.append(
        Row(
            "(h) /soundalike during a retrain",
            "event-loop lag p99",
            "ms",
            "<= 100",
            ours=value("retrain", "during_retrain", "loop_lag", "p99_ms"),
            anchor=value("retrain", "quiet", "loop_lag", "p99_ms"),
            anchor_name="same, no retrain running",
            note=retrain_note,
        )
    )
    # (i) resolver: whatever figures bench/resolver_bench.py reports
    if _ok(steps, "resolver"):
        figures = _figures(steps, "resolver")
        titles = figures.get("titles") or figures.get("n_titles")
        label = f"(i) resolver, {titles:,} titles" if isinstance(titles, int) else "(i) resolver"
        scan = "rapidfuzz WRatio scan over all titles, same queries"
        known = [
            ("resolve p50", "ms", None, ("resolve", "p50_ms"), ("scan_baseline", "scan_latency", "p50_ms"), scan),
            ("resolve p95", "ms", None, ("resolve", "p95_ms"), ("scan_baseline", "scan_latency", "p95_ms"), scan),
            # Top-1 where the typed text determines the song (the target), and beside the scan on
            # the subsample it also ran; then every query, with the share no title can settle.
            (
                "top-1 accuracy, queries whose text determines the song",
                "",
                ">= 0.97",
                ("resolve", "top1_unambiguous"),
                None,
                None,
            ),
            (
                "top-1 accuracy, scanned subsample, text determines the song",
                "",
                ">= anchor",
                ("scan_baseline", "resolver_top1_determinable"),
                ("scan_baseline", "scan_top1_determinable"),
                scan,
            ),
            (
                "top-1 accuracy, scanned subsample, all",
                "",
                ">= anchor",
                ("scan_baseline", "resolver_top1_same_queries"),
                ("scan_baseline", "scan_top1"),
                scan,
            ),
            ("top-1 accuracy, all queries", "", None, ("resolve", "top1"), None, None),
            (
                "share of queries the text cannot determine (no artist; a more listened song has the title)",
                "",
                None,
                ("resolve", "ambiguous_share"),
                None,
                None,
            ),
            ("right at the top, or offered to pick, all queries", "", None, ("resolve", "top1_or_offered"), None, None),
            # Answers taken without asking: right, and for titles that are not in the index.
            ("confident answers that are right", "", ">= 0.99", ("confidence", "confident_right"), None, None),
            ("share of damaged queries answered confidently", "", None, ("confidence", "confident_share"), None, None),
            (
                "titles held out of the index answered confidently",
                "",
                "<= 0.05",
                ("confidence", "held_out_confident"),
                None,
                None,
            ),
            (
                "resolve CPU p50 with the confidence rule",
                "ms",
                None,
                ("confidence", "rule_cost", "resolve_cpu_p50_ms"),
                ("confidence", "rule_cost", "ranking_only_cpu_p50_ms"),
                "the same ranking without it, timed in turn",
            ),
            ("index build", "s", None, ("build_s",), None, None),
            ("index memory", "MB", None, ("rss_delta_mb",), None, None),
            ("autocomplete p95", "ms", "<= 20", ("complete", "p95_ms"), None, None),
        ]
        for figure, unit, target, ours_path, anchor_path, anchor_name in known:
            ours = _get(figures, *ours_path)
            if ours is None:
                continue
            rows.append(
                Row(
                    label,
                    figure,
                    unit,
                    target,
                    ours=ours,
                    anchor=_get(figures, *anchor_path) if anchor_path else None,
                    anchor_name=anchor_name,
                )
            )
        if not any(row.step == label for row in rows):  # other figures than expected: show them all
            for key, number in _flatten(figures).items():
                rows.append(Row(label, key, _unit_of(key), ours=number))
    else:
        rows.append(Row("(i) resolver", "figures", "", note=_why(steps, "resolver")))
    # (j) ANN
    ann_note = None if _ok(steps, "ann") else _why(steps, "ann")
    rows_count = value("ann", "rows")
    label = f"{rows_count:,} x 64" if rows_count else "10 M x scale x 64"
    rows.append(
        Row(
            f"(j) ANN, {label}",
            "recall@10",
            "",
            ">= 0.95",
            ours=value("ann", "recall_at_10"),
            anchor=1.0 if value("ann", "recall_at_10") is not None else None,
            anchor_name="brute force (exact)",
            note=ann_note,
        )
    )
    rows.append(
        Row(
            f"(j) ANN, {label}",
            "query p50",
            "ms",
            ours=value("ann", "ann", "p50_ms"),
            anchor=value("ann", "brute_force", "p50_ms"),
            anchor_name="brute force, one query, 1 BLAS thread",
            note=ann_note,
        )
    )
    rows.append(
        Row(f"(j) ANN, {label}", "index build", "s", "<= 600", ours=value("ann", "build_seconds"), note=ann_note)
    )
    return rows


def _flatten(figures: dict, prefix: str = "") -> dict:
    out = {}
    for key, item in figures.items():
        if key == "status":
            continue
        name = f"{prefix}{key}"
        if isinstance(item, bool):
            continue
        if isinstance(item, (int, float)):
            out[name] = item
        elif isinstance(item, dict):
            out.update(_flatten(item, name + "."))
    return out


def _unit_of(key: str) -> str:
    key = key.lower()
    if key.endswith("_ms") or ".p5" in key or ".p9" in key:
        return "ms"
    if key.endswith("_s") or key.endswith("seconds"):
        return "s"
    if key.endswith("_mb"):
        return "MB"
    return ""


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
    try:
        facts["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
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
