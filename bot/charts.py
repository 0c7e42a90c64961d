"""The /stats chart: 👍 rate per model version over time, and the most asked-for songs.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global figure state, no
display), so it is safe to call from a worker thread; the cog runs it on the compute pool,
never on the event loop. matplotlib is imported on first use: starting the bot stays fast.
"""

from __future__ import annotations

import io
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from recommender.text import one_line, shorten

FILENAME = "soundalike-stats.png"
SONG_LABEL_CHARS = 40
MAX_SONGS = 8
MAX_VERSIONS = 8  # lines drawn; older versions beyond this are left out of the chart
COLOUR = "#1DB954"


@dataclass(frozen=True)
class RatingDay:
    day: str  # YYYY-MM-DD
    model_version: str
    up: int
    down: int


def _plain(text: object, limit: int) -> str:
    """A label matplotlib draws as typed: one line, short, and '$' not read as math."""
    return shorten(one_line(text), limit).replace("$", r"\$") or "?"


def has_data(days: Sequence[RatingDay], songs: Sequence[tuple[str, int]]) -> bool:
    return any(d.up + d.down for d in days) or any(times > 0 for _, times in songs)


def stats_png(days: Sequence[RatingDay], songs: Sequence[tuple[str, int]], *, title: str = "") -> bytes:
    """A PNG with two panels; ``songs`` are (label, times asked), most asked first.

    Call only when :func:`has_data` is true; a panel without data says so in words.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    rates, songs_axes = figure.subplots(1, 2, width_ratios=(3, 2))
    with warnings.catch_warnings():
        # A title in a script the default font lacks draws as boxes; that is no error.
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        warnings.filterwarnings("ignore", message="Matplotlib currently does not support")
        _draw_rates(rates, days)
        _draw_songs(songs_axes, songs)
        if title:
            figure.suptitle(_plain(title, 80))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _draw_rates(axes, days: Sequence[RatingDay]) -> None:
    axes.set_title("Thumbs-up share of ratings, per model version")
    by_version: dict[str, dict[datetime, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for row in days:
        if row.up + row.down == 0:
            continue
        try:
            day = datetime.combine(date.fromisoformat(row.day), datetime.min.time())
        except (TypeError, ValueError):
            continue
        counts = by_version[row.model_version or "?"][day]
        counts[0] += row.up
        counts[1] += row.down
    if not by_version:
        axes.text(0.5, 0.5, "No ratings yet", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return
    from matplotlib import dates

    all_days = [day for per_day in by_version.values() for day in per_day]
    first, last = min(all_days), max(all_days)
    for version in list(by_version)[-MAX_VERSIONS:]:
        points = sorted(by_version[version].items())
        axes.plot(
            [day for day, _ in points],
            [100 * up / (up + down) for _, (up, down) in points],
            marker="o",
            label=_plain(f"model {version}", 40),
        )
    # Whole days only: ratings are counted per UTC day, so hour ticks would mean nothing.
    span = (last - first).days
    axes.xaxis.set_major_locator(dates.DayLocator(interval=max(1, span // 7)))
    axes.xaxis.set_major_formatter(dates.DateFormatter("%b %d"))
    axes.set_xlim(first - timedelta(days=0.5), last + timedelta(days=0.5))
    axes.set_ylim(-5, 105)
    axes.set_ylabel("% thumbs-up")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left", fontsize="small")
    axes.tick_params(axis="x", labelrotation=30, labelsize="small")


def _draw_songs(axes, songs: Sequence[tuple[str, int]]) -> None:
    axes.set_title("Most asked-for songs")
    shown = [(label, times) for label, times in songs if times > 0][:MAX_SONGS]
    if not shown:
        axes.text(0.5, 0.5, "No questions yet", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return
    labels = [_plain(label, SONG_LABEL_CHARS) for label, _ in reversed(shown)]
    axes.barh(range(len(shown)), [times for _, times in reversed(shown)], color=COLOUR)
    axes.set_yticks(range(len(shown)), labels, fontsize="small")
    axes.set_xlabel("times asked")
    axes.xaxis.get_major_locator().set_params(integer=True)
