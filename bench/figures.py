"""The table's rows: each figure a step measured, its target, and the anchor measured beside it.

``build_rows(steps)`` reads the ``steps`` of a run (bench/results/*.json, earlier runs included)
and gives one :class:`Row` per figure; a step that did not run, or failed, still gets its rows,
with a note saying why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Row:
    """One figure: ours beside the anchor measured in the same run, and whether the target is met."""

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


class Measured:
    """The measured steps of one run (bench/results ``steps``), asked for figures by step name."""

    def __init__(self, steps: dict):
        self.steps = steps

    def figures(self, name: str) -> dict:
        step = self.steps.get(name) or {}
        return step.get("figures") or {}

    def ok(self, name: str) -> bool:
        step = self.steps.get(name) or {}
        return bool(step) and step.get("returncode") == 0 and self.figures(name).get("status") == "ok"

    def why(self, name: str) -> str:
        """Why a step has no figures: not run, failed (and how), timed out."""
        step = self.steps.get(name)
        if not step:
            return f"{name}: not run"
        figures = step.get("figures") or {}
        # "not available": runs from before the bench imported the product directly.
        if figures.get("status") in ("not available", "failed"):
            return f"{name}: {figures['status']}: {figures.get('reason')}"
        if step.get("timed_out"):
            return f"{name}: timed out after {step.get('wall_s')} s"
        if step.get("returncode") != 0:
            lines = (step.get("stderr_tail") or "").strip().splitlines()
            return f"{name}: exit {step.get('returncode')}: {lines[-1] if lines else ''}"
        return f"{name}: no figure"

    def note(self, name: str) -> str | None:
        """None when the step ran, else why it did not: the note of its rows."""
        return None if self.ok(name) else self.why(name)

    def value(self, name: str, *path: str):
        """A figure from a step's own JSON, None unless the step ran."""
        return _get(self.figures(name), *path) if self.ok(name) else None

    def measured(self, name: str, what: str):
        """The operating system's view of a step that ran: "wall_s", "peak_rss_mb"."""
        return self.steps[name].get(what) if self.ok(name) else None


def _get(figures: dict, *path):
    for key in path:
        if not isinstance(figures, dict) or key not in figures:
            return None
        figures = figures[key]
    return figures


def build_rows(steps: dict) -> list[Row]:
    """The table, from what each step reported. Missing pieces become rows with a note."""
    run = Measured(steps)
    return [
        *import_rows(run),
        *load_rows(run),
        *training_rows(run),
        *start_rows(run),
        *compute_rows(run),
        *throughput_rows(run),
        *autocomplete_rows(run),
        *retrain_rows(run),
        *resolver_rows(run),
        *ann_rows(run),
        # Only in runs that measured them (extra steps): saved runs rebuild their tables as they were.
        *(listenbrainz_rows(run) if "import-listenbrainz" in steps else []),
        *burst_rows(run),
    ]


def import_rows(run: Measured) -> list[Row]:
    step, note = "(a) import MSD files", run.note("import-msd")
    return [
        Row(
            step,
            "wall time",
            "s",
            "<= 20",
            ours=run.measured("import-msd", "wall_s"),
            anchor=run.measured("import-anchor", "wall_s"),
            anchor_name='pandas read_csv(engine="pyarrow"), category dtypes -> CSR (triplets only)',
            note=note,
        ),
        Row(
            step,
            "peak RSS",
            "MB",
            "<= 2560",
            ours=run.measured("import-msd", "peak_rss_mb"),
            anchor=run.measured("import-anchor", "peak_rss_mb"),
            anchor_name="same",
            note=note,
        ),
    ]


def load_rows(run: Measured) -> list[Row]:
    return [
        Row(
            "(b) load binary dataset",
            "Dataset.load",
            "s",
            "<= 1",
            ours=run.value("load", "seconds"),
            anchor=run.value("import-anchor", "seconds"),
            anchor_name="reading the text triplets (anchor reader, in process)",
            note=run.note("load"),
        )
    ]


def training_rows(run: Measured) -> list[Row]:
    ours_iteration, how = None, None
    if run.ok("train"):
        reported = run.value("train", "per_iteration_s")
        if reported:
            ours_iteration, how = reported, "reported by the model"
        else:
            ours_iteration = round(run.steps["train"]["wall_s"] / 15, 4)
            how = "whole `train` command / 15 (includes loading and weighting)"
    step = "(c) ALS 64 factors x 15"
    return [
        Row(
            step,
            "seconds per iteration",
            "s",
            "<= 6",
            ours=ours_iteration,
            anchor=run.value("train-implicit", "per_iteration_s"),
            anchor_name="implicit defaults as installed, BLAS threads not limited",
            note=how if ours_iteration is not None else run.why("train"),
        ),
        Row(
            step,
            "peak RSS",
            "MB",
            ours=run.measured("train", "peak_rss_mb"),
            anchor=run.measured("train-implicit", "peak_rss_mb"),
            anchor_name="same",
        ),
        *spark_rows(run),
    ]


def spark_rows(run: Measured) -> list[Row]:
    """The spark engine beside implicit's anchor, on the same data in the same run (runs saved
    before the step existed, or run without it, have no Spark rows)."""
    if "train-spark" not in run.steps:
        return []
    step, note = "(c) Spark ALS 64 factors, local[2]", run.note("train-spark")
    implicit = "implicit defaults as installed (train-implicit, same run)"
    return [
        Row(
            step,
            "seconds per iteration",
            "s",
            ours=run.value("train-spark", "per_iteration_s"),
            anchor=run.value("train-implicit", "per_iteration_s"),
            anchor_name=implicit,
            note=note or "(fit with 5 iterations - fit with 1) / 4",
        ),
        Row(
            step,
            "peak RSS, Python driver",
            "MB",
            ours=run.value("train-spark", "peak_python_driver_mb"),
            anchor=run.measured("train-implicit", "peak_rss_mb"),
            anchor_name=implicit,
            note=note,
        ),
        Row(
            step,
            "peak RSS, JVM (driver and executors)",
            "MB",
            ours=run.value("train-spark", "peak_jvm_mb"),
            note=note or "local mode: both executor threads live in the driver's JVM",
        ),
    ]


def start_rows(run: Measured) -> list[Row]:
    step, note = "(d) bot start to answering", run.note("open")
    original_p50 = run.value("compute", "original_pickles", "p50_ms")
    first_step, first_note = "(d) first start after an import", run.note("open-first")
    return [
        Row(
            step,
            "SoundalikeService.open",
            "s",
            "<= 5",
            ours=run.value("open", "seconds"),
            anchor=round(original_p50 / 1000, 4) if original_p50 is not None else None,
            anchor_name="the original loads its pickles on every request (p50)",
            note=note,
        ),
        Row(step, "first /soundalike after open", "ms", ours=run.value("open", "first_answer_ms"), note=note),
        Row(step, "peak RSS", "MB", "<= 1536", ours=run.measured("open", "peak_rss_mb"), note=note),
        Row(
            first_step,
            "open, building and saving the title index",
            "s",
            ours=run.value("open-first", "seconds"),
            note=first_note,
        ),
        Row(first_step, "peak RSS", "MB", ours=run.measured("open-first", "peak_rss_mb"), note=first_note),
    ]


def compute_rows(run: Measured) -> list[Row]:
    step, note = "(e) /soundalike compute path", run.note("compute")
    ours_p50 = run.value("compute", "ours", "p50_ms")
    return [
        Row(
            step,
            "p50",
            "ms",
            "<= 5",
            ours=ours_p50,
            anchor=run.value("compute", "implicit_similar_items", "p50_ms"),
            anchor_name="implicit similar_items brute force alone (no resolve, merge, reasons)",
            note=note,
        ),
        Row(
            step,
            "p99",
            "ms",
            "<= 25",
            ours=run.value("compute", "ours", "p99_ms"),
            anchor=run.value("compute", "implicit_similar_items", "p99_ms"),
            anchor_name="same",
            note=note,
        ),
        Row(
            step,
            "p50 with BLAS held to 1 thread (diagnostic)",
            "ms",
            ours=run.value("compute", "ours_blas_one_thread", "p50_ms"),
            anchor=ours_p50,
            anchor_name="ours as configured",
            note=note,
        ),
        Row(
            step,
            "p50 vs the original",
            "ms",
            ours=ours_p50,
            anchor=run.value("compute", "original_pickles", "p50_ms"),
            anchor_name="original: 4 pickles loaded per request + exact title match + similar_items",
            note=note,
        ),
        Row(
            "(e) quality: planted genre",
            "share of suggestions in the seed's genre",
            "",
            ours=run.value("compute", "genre_agreement"),
            anchor=run.value("compute", "implicit_similar_items", "genre_agreement"),
            anchor_name=f"implicit similar_items (chance: {run.value('compute', 'genre_chance')})",
            note=note,
        ),
    ]


def throughput_rows(run: Measured) -> list[Row]:
    original_p50 = run.value("compute", "original_pickles", "p50_ms")
    return [
        Row(
            "(f) concurrent /soundalike",
            "answers per second",
            "/s",
            ">= 200",
            ours=run.value("throughput", "answers_per_s"),
            anchor=round(1000 / original_p50, 2) if original_p50 else None,
            anchor_name="the original, one request at a time (1 / p50)",
            note=run.note("throughput"),
        )
    ]


def autocomplete_rows(run: Measured) -> list[Row]:
    return [
        Row(
            "(g) autocomplete",
            "p95",
            "ms",
            "<= 20",
            ours=run.value("complete", "ours", "p95_ms"),
            anchor=run.value("complete", "wratio_full_scan", "p95_ms"),
            anchor_name="rapidfuzz process.extract(WRatio) over all titles",
            note=run.note("complete"),
        )
    ]


def retrain_rows(run: Measured) -> list[Row]:
    step, note = "(h) /soundalike during a retrain", run.note("retrain")
    return [
        Row(
            step,
            f"{label} p99",
            "ms",
            "<= 100",
            ours=run.value("retrain", "during_retrain", figure, "p99_ms"),
            anchor=run.value("retrain", "quiet", figure, "p99_ms"),
            anchor_name="same, no retrain running",
            note=note,
        )
        for label, figure in (("compute", "compute"), ("event-loop lag", "loop_lag"))
    ]


_SCAN = "rapidfuzz WRatio scan over all titles, same queries"
# The resolver's rows: (figure, unit, target, where ours is, where the anchor is, the anchor's name).
RESOLVER_FIGURES: list[tuple[str, str, str | None, tuple[str, ...], tuple[str, ...] | None, str | None]] = [
    ("resolve p50", "ms", None, ("resolve", "p50_ms"), ("scan_baseline", "scan_latency", "p50_ms"), _SCAN),
    ("resolve p95", "ms", None, ("resolve", "p95_ms"), ("scan_baseline", "scan_latency", "p95_ms"), _SCAN),
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
        _SCAN,
    ),
    (
        "top-1 accuracy, scanned subsample, all",
        "",
        ">= anchor",
        ("scan_baseline", "resolver_top1_same_queries"),
        ("scan_baseline", "scan_top1"),
        _SCAN,
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


def resolver_rows(run: Measured) -> list[Row]:
    """Whatever figures bench/resolver_bench.py reports: the known ones, else all of them."""
    if not run.ok("resolver"):
        return [Row("(i) resolver", "figures", "", note=run.why("resolver"))]
    figures = run.figures("resolver")
    titles = figures.get("titles") or figures.get("n_titles")
    label = f"(i) resolver, {titles:,} titles" if isinstance(titles, int) else "(i) resolver"
    rows = [
        Row(
            label,
            figure,
            unit,
            target,
            ours=_get(figures, *ours_path),
            anchor=_get(figures, *anchor_path) if anchor_path else None,
            anchor_name=anchor_name,
        )
        for figure, unit, target, ours_path, anchor_path, anchor_name in RESOLVER_FIGURES
        if _get(figures, *ours_path) is not None
    ]
    if not rows:  # other figures than expected: show them all
        rows = [Row(label, key, _unit_of(key), ours=number) for key, number in _flatten(figures).items()]
    return rows


def ann_rows(run: Measured) -> list[Row]:
    note = run.note("ann")
    rows_count = run.value("ann", "rows")
    step = f"(j) ANN, {rows_count:,} x 64" if rows_count else "(j) ANN, 10 M x scale x 64"
    recall = run.value("ann", "recall_at_10")
    return [
        Row(
            step,
            "recall@10",
            "",
            ">= 0.95",
            ours=recall,
            anchor=1.0 if recall is not None else None,
            anchor_name="brute force (exact)",
            note=note,
        ),
        Row(
            step,
            "query p50",
            "ms",
            ours=run.value("ann", "ann", "p50_ms"),
            anchor=run.value("ann", "brute_force", "p50_ms"),
            anchor_name="brute force, one query, 1 BLAS thread",
            note=note,
        ),
        Row(step, "index build", "s", "<= 600", ours=run.value("ann", "build_seconds"), note=note),
    ]


def listenbrainz_rows(run: Measured) -> list[Row]:
    note = run.note("import-listenbrainz")
    listens = run.value("import-listenbrainz", "listens")
    step = f"(k) import ListenBrainz dump, {listens:,} listens" if listens else "(k) import ListenBrainz dump"
    return [
        Row(
            step,
            "listens per second",
            "/s",
            ours=run.value("import-listenbrainz", "listens_per_second"),
            note=note or "data import-listenbrainz on a generated .tar.zst (bench/listenbrainz_dump.py), wall time",
        ),
        Row(step, "peak RSS", "MB", ours=run.value("import-listenbrainz", "import_peak_rss_mb"), note=note),
    ]


# The burst steps, and who answers the burst in each.
BURST_STEPS = {"burst": "one bot process", "burst-processes": "two bot processes, one shard each"}


def burst_rows(run: Measured) -> list[Row]:
    """(k) the burst through the fake Discord (README: "Under load"), for each burst step the run
    measured: every request answered, none "busy", acknowledgement p99 <= 1.5 s (Discord drops an
    interaction not acknowledged within 3 s), every answer within 10 s."""
    rows = []
    for name, answering in BURST_STEPS.items():
        if name not in run.steps:
            continue
        note, requests = run.note(name), run.value(name, "requests")
        step = f"(k) burst of {requests:,} /soundalike, {answering}" if requests else f"(k) burst, {answering}"
        rows += [
            Row(
                step,
                "answered",
                "",
                f">= {requests}" if requests else None,
                ours=run.value(name, "answered"),
                note=note,
            ),
            Row(step, "answered busy", "", "<= 0", ours=run.value(name, "busy"), note=note),
            Row(
                step,
                "acknowledgement p99",
                "ms",
                "<= 1500",
                ours=run.value(name, "acknowledgement", "p99_ms"),
                note=note,
            ),
            Row(step, "last answer", "ms", "<= 10000", ours=run.value(name, "answer", "max_ms"), note=note),
        ]
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
    if key.endswith(("_s", "seconds")):
        return "s"
    if key.endswith("_mb"):
        return "MB"
    return ""
