"""The options of a question, checked the same way whichever front end asked.

A person gives a count, a novelty level and a per-artist cap; each is taken as given or
refused with a sentence naming the range (never clamped behind their back). Values read back
from the log (a "More" on an old answer) are clamped instead: nobody is there to ask.
"""

from __future__ import annotations

from recommender.errors import SoundalikeError
from recommender.ranking import NOVELTY_LEVELS
from recommender.text import one_line

# Songs in one answer: Discord's option range (the config's max_results is usually lower).
MAX_COUNT = 25
# A per-artist cap above this is no cap in practice (an answer holds at most 25 songs).
MAX_PER_ARTIST_CAP = 25
DEFAULT_NOVELTY = "balanced"
# How each novelty level is named to people: in Discord's choice list and the console's
# /novelty. An answer at a level other than "balanced" says so after it (NOVELTY_NOTES).
NOVELTY_NAMES = {"popular": "popular", "balanced": "balanced", "deep": "deep cuts"}
NOVELTY_NOTES = {"popular": "popular picks", "deep": "deep cuts"}


class BadNovelty(SoundalikeError):
    def __init__(self, given: object) -> None:
        super().__init__(f"novelty must be one of {', '.join(NOVELTY_LEVELS)}, not {one_line(given)[:40]!r}")


class OutOfRange(SoundalikeError):
    """A typed number outside what the option accepts (never clamped silently)."""

    def __init__(self, name: str, value: object, low: int, high: int, note: str = ""):
        super().__init__(f"{name} takes a whole number from {low}{note} to {high}, not {one_line(value)[:40]}")


def check_novelty(value: object, default: str = DEFAULT_NOVELTY) -> str:
    """A novelty level as the service takes it; None/empty means ``default`` (the config's
    [serving] novelty where a caller has the config)."""
    if value is None or value == "":
        return default
    text = str(value).strip().lower()
    if text in ("deep cuts", "deep-cuts", "deepcuts"):
        text = "deep"
    if text not in NOVELTY_LEVELS:
        raise BadNovelty(value)
    return text


def check_count(value: int | None, *, default: int, maximum: int) -> int:
    """A count a person gave (None: ``default``), refused outside 1..``maximum``."""
    if value is None:
        return default
    if not 1 <= int(value) <= maximum:
        raise OutOfRange("count", value, 1, maximum)
    return int(value)


def check_cap(value: int | None) -> int | None:
    """A per-artist cap a person gave (None: the configured one), refused outside 0..25."""
    if value is None:
        return None
    if not 0 <= int(value) <= MAX_PER_ARTIST_CAP:
        raise OutOfRange("per_artist", value, 0, MAX_PER_ARTIST_CAP, " (no limit)")
    return int(value)


def clamp_cap(value: int | None) -> int | None:
    """A per-artist cap within 0..MAX_PER_ARTIST_CAP; None keeps the configured default."""
    if value is None:
        return None
    return max(0, min(int(value), MAX_PER_ARTIST_CAP))
