"""What the console prints: the app's typed results as plain lines for a terminal or a pipe.

No markdown and no escaping: titles and artists are untrusted, so each is put on one line
(control characters out) before it is printed. Sentences the bot says too come from
:mod:`recommender.app.wording`, worded for the console ("in the console", not "this server").
"""

from __future__ import annotations

from collections.abc import Mapping

from recommender.app import wording
from recommender.app.answers import BlockResult, Lookup
from recommender.app.core import ServerStats
from recommender.app.retrainer import RetrainProgress
from recommender.results import Answer, Candidate
from recommender.text import one_line

# Where a block holds, as the console says it.
PLACE = "the console"


def answer_text(answer: Answer, *, novelty: str | None = None) -> str:
    """An answer: heading, numbered suggestions with match, reason and listen links, model."""
    lines = [wording.answer_heading(answer) + ":"]
    for note in answer.notes:
        lines.append(f"  ({one_line(note)})")
    for position, suggestion in enumerate(answer.suggestions, start=1 + answer.offset):
        lines.append(
            f"{position:>3}. {one_line(suggestion.title)} — {one_line(suggestion.artist)}  {suggestion.percent}% match"
        )
        lines.append(f"     {one_line(suggestion.reason)}")
        spotify, youtube = wording.search_links(suggestion.title, suggestion.artist)
        lines.append(f"     {spotify}")
        lines.append(f"     {youtube}")
    if not answer.suggestions:
        lines.append("  No suggestions this time.")
    lines.append(
        f"(model {one_line(answer.model_version)}, {one_line(answer.dataset)} data{wording.novelty_note(novelty)})"
    )
    return "\n".join(lines)


def choice_lines(choices: list[Candidate]) -> list[str]:
    """Songs to pick by number."""
    return [
        f"{number:>3}. {one_line(candidate.label)}  ({candidate.listeners:,} listeners)"
        for number, candidate in enumerate(choices, start=1)
    ]


def pick_question(lookup: Lookup) -> str:
    return wording.pick_question(lookup) + " Type its number (0: none of these):"


def no_match_text(lookup: Lookup) -> str:
    """Nothing matched well: the closest titles, and what the data know (on the demo data)."""
    text = f"No song matches “{one_line(lookup.query)}”."
    if lookup.closest:
        text += " Closest titles: " + "; ".join(one_line(title) for title in lookup.closest[:5])
    if lookup.note:
        text += "\n" + one_line(lookup.note)
    return text


def nothing_picked_text(note: str | None) -> str:
    text = "Nothing picked. Add the artist (artist:NAME) to find the song you mean."
    return text + ("\n" + one_line(note) if note else "")


def block_text(result: BlockResult) -> str:
    return wording.block_text(result, place=PLACE)


def progress_line(progress: RetrainProgress) -> str:
    share = f" {progress.progress:.0%}" if progress.progress is not None else ""
    return f"  retrain: {one_line(progress.stage)}{share} {one_line(progress.message)}"


def model_lines(info: Mapping[str, object]) -> list[str]:
    """/model: which model answers, on what data, its held-out figures and the versions on disk."""
    lines = [
        f"Model {info.get('version')} ({info.get('algorithm', '?')}) on {info.get('dataset')} data, "
        f"created {info.get('created', '?')}"
    ]
    metrics = info.get("metrics")
    if isinstance(metrics, dict) and metrics:
        lines += [f"  {line}" for line in wording.metrics_lines(metrics) or ["none"]]
    versions = info.get("versions")
    if isinstance(versions, (list, tuple)) and versions:
        lines.append(f"  versions on disk: {', '.join(map(str, versions))}")
    return lines


def stats_lines(stats: ServerStats) -> list[str]:
    """/stats: answers and 👍/👎 per model version, then the most asked-for songs."""
    lines = [] if stats.versions else ["No answers logged from the console yet."]
    for row in stats.versions:
        rated = row.up + row.down
        lines.append(
            f"model {row.model_version}: {row.answers} answered, "
            f"👍 {row.up} ({wording.percent(row.up, rated)}), 👎 {row.down} ({wording.percent(row.down, rated)})"
        )
    if stats.top_songs:
        lines.append("Most asked-for songs:")
        lines += [f"  {times:>3}× {one_line(name)}" for name, times in stats.top_songs]
    return lines
