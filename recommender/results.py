"""Plain result types shared by the resolver, the recommender, the CLI, console and bot.

They carry indices (for the library) and ids/titles (for people) so that callers never
look anything up twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from recommender.text import song_label


@dataclass(frozen=True)
class Candidate:
    """One catalog song a typed title may mean."""

    item_index: int
    item_id: str
    title: str
    artist: str
    score: float  # match quality 0..100
    listeners: int  # popularity, used to break ties

    @property
    def label(self) -> str:
        """ "Title — Artist" (:func:`recommender.text.song_label`)."""
        return song_label(self.title, self.artist)


@dataclass(frozen=True)
class Resolution:
    """What a typed title resolved to. ``candidates`` is ranked best first.

    ``confident`` is True only when the best candidate is taken without asking; otherwise
    the candidates are a "did you mean ...?" list (or empty: nothing matched).
    ``close_call``: not confident only because other songs match about as well ("Halo" by
    Beyoncé or by Depeche Mode); the best is itself a good match. Otherwise the best match
    is far from what was typed ("Let it go" is not "Let It Be").
    ``kind`` is "song", or "artist" when the query named an artist ("Adele"): then
    ``named_artist`` is the artist as the catalog spells it and the candidates are that
    artist's most listened songs, to pick from.
    """

    query: str
    artist: str | None
    candidates: list[Candidate]
    confident: bool
    # With an artist given: whether any song matching the title is by that artist (False:
    # the candidates are by others). None when no artist was given.
    artist_matched: bool | None = None
    close_call: bool = False
    kind: str = "song"
    named_artist: str | None = None
    # When nothing matched and the caller asked for them: labels of the nearest titles, however
    # weak, for a "no song matches" message (the same resolve, so nothing is looked up twice).
    closest: list[str] = field(default_factory=list)

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def found(self) -> bool:
        return bool(self.candidates)


@dataclass(frozen=True)
class Suggestion:
    """One recommended song with why it was picked."""

    item_index: int
    item_id: str
    title: str
    artist: str
    score: float  # similarity 0..1, shown as a percentage
    reason: str  # one line a person can read
    # Seeds (item indices) or liked songs that led to this pick, for /mix and /foryou.
    because_of: tuple[int, ...] = ()
    # Distinct people who played this and a seed named in the reason (/soundalike, /mix);
    # the number the reason states. None where the reason counts nothing (/foryou).
    shared_listeners: int | None = None

    @property
    def percent(self) -> int:
        return round(max(0.0, min(1.0, self.score)) * 100)


@dataclass(frozen=True)
class Answer:
    """A full answer: the seeds, the ranked suggestions, and the model that made them."""

    seeds: list[Candidate]
    suggestions: list[Suggestion]
    model_version: str
    dataset: str
    # Position of the first suggestion in the full ranking (for "More").
    offset: int = 0
    notes: list[str] = field(default_factory=list)
    # Whether songs are left after this page: False when the list ends here (no song left
    # above the match floor), so front ends offer no "More".
    has_more: bool = True
