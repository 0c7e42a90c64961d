"""bench/results/scaling.png: time and memory against scale for import, training and serving.

Reads every bench/results/scale-<s>.json, so runs at 0.01, 0.1 and 1.0 made on different
days combine into one picture (each file records its machine and date).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# (label, step, where the seconds are, colour, line style); "wall_s" is the OS's view of the process.
SERIES = [
    ("import: ours (import-msd)", "import-msd", "wall_s", "tab:blue", "-"),
    ("import: anchor (read_csv + CSR)", "import-anchor", "wall_s", "tab:blue", ":"),
    ("training: ours, 15 iterations", "train", "wall_s", "tab:orange", "-"),
    ("training: implicit defaults", "train-implicit", "wall_s", "tab:orange", ":"),
    ("serving: service open", "open", ("figures", "seconds"), "tab:green", "-"),
    ("serving: compute p99 (s)", "compute", ("figures", "ours", "p99_ms"), "tab:red", "-"),
]


def load_runs(results_dir: Path) -> list[dict]:
    runs = []
    for path in sorted(Path(results_dir).glob("scale-*.json")):
        try:
            runs.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(runs, key=lambda run: run["scale"])


def _seconds(run: dict, step: str, where) -> float | None:
    measured = run.get("steps", {}).get(step) or {}
    if measured.get("returncode") != 0 or (measured.get("figures") or {}).get("status") not in (None, "ok"):
        return None
    if isinstance(where, str):
        return measured.get(where)
    value = measured
    for key in where:
        value = value.get(key) if isinstance(value, dict) else None
    if value is not None and where[-1].endswith("_ms"):
        value = value / 1000.0
    return value


def _peak_gb(run: dict, step: str) -> float | None:
    measured = run.get("steps", {}).get(step) or {}
    if measured.get("returncode") != 0 or (measured.get("figures") or {}).get("status") not in (None, "ok"):
        return None
    rss = measured.get("peak_rss_mb")
    return rss / 1024 if rss else None


def plot_scaling(results_dir: Path, out: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    runs = load_runs(results_dir)
    if not runs:
        return None
    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(12, 4.8))
    for label, step, where, colour, style in SERIES:
        points = [(run["scale"], _seconds(run, step, where)) for run in runs]
        points = [(x, y) for x, y in points if y]
        if points:
            time_axis.plot(*zip(*points), marker="o", color=colour, linestyle=style, label=label)
        if where == "wall_s" or step == "open":
            memory = [(run["scale"], _peak_gb(run, step)) for run in runs]
            memory = [(x, y) for x, y in memory if y]
            if memory:
                memory_axis.plot(
                    *zip(*memory),
                    marker="o",
                    color=colour,
                    linestyle=style,
                    label=label.replace(", 15 iterations", "").replace(" (s)", ""),
                )
    memory_axis.axhline(1.5, color="tab:green", alpha=0.4, linewidth=1, label="bot budget (1.5 GB)")
    for axis, title, unit in ((time_axis, "time", "seconds"), (memory_axis, "peak memory (RSS)", "GB")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("scale (1.0 = full MSD: 48.4 M triplets)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        if axis.has_data():
            axis.legend(fontsize=8)
    scales = ", ".join(f"{run['scale']:g} ({run['date'][:10]})" for run in runs)
    figure.suptitle(f"Soundalike bench: runs at scale {scales}", fontsize=10)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(out.stem + ".tmp.png")
    figure.savefig(temp, dpi=110)
    plt.close(figure)
    temp.replace(out)
    return out


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results"
    print(plot_scaling(folder, folder / "scaling.png"))
