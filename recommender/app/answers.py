"""The steps of answering that every front end shares (through :class:`recommender.app.core.Soundalike`).

``look_up`` turns what a person typed (or an autocomplete value) into a seed song, a short
list to pick from, or the closest titles, resolving the title once; ``mix_seeds`` does the same
for the songs of a mix. A :class:`Request` says what was asked (/soundalike, /mix or /foryou,
with its options and page) and a :class:`Member` who asked; the request is stored in the log's
params, so "More" can ask for the next page of any logged answer, also after a restart.
``rate_suggestion`` records a 👍/👎 on one suggestion, or takes it back when the member presses
the same rating again.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from recommender.app.options import DEFAULT_NOVELTY, MAX_COUNT, check_novelty, clamp_cap
from recommender.errors import SoundalikeError
from recommender.feedback.log import FeedbackLog, LoggedQuery
from recommender.results import Candidate
from recommender.service import MixNeedsTwoSongs, SoundalikeService
from recommender.text import one_line

# Typed text longer than this is cut before matching: no title is that long, and fuzzy
# matching a 10,000-character string against the catalog would only waste the pool.
MAX_QUERY_CHARS = 200
# Songs offered when a title is ambiguous (a select menu holds at most 25).
MAX_CHOICES = 10
# "More" stops here: rating buttons number positions with at most three digits, and nobody
# reads 200 suggestions for one song.
MAX_POSITION = 200
# The commands whose answers can be asked again ("More").
COMMANDS = ("soundalike", "mix", "foryou")


class EmptyQuery(SoundalikeError):
    def __init__(self) -> None:
        super().__init__("Type a song title, e.g. /soundalike Hey Ya!")


class ArtistDidNotMatch(SoundalikeError):
    """A song typed with an artist that none of the matching songs is by."""

    def __init__(self, query: str, artist: str, others: list[Candidate]):
        text = artist_mismatch_text(query, artist)
        if others:
            text += " By other artists: " + "; ".join(c.label for c in others[:5])
        super().__init__(text)


def artist_mismatch_text(query: str, artist: str) -> str:
    return f"No song by “{artist}” matches “{query}”."


class UnknownMixSong(SoundalikeError):
    """One song of a mix matched nothing well; the message names it and the closest titles
    (or, when it named an artist, some of the artist's songs)."""

    def __init__(self, query: str, closest: list[str], *, artist: str | None = None, note: str = ""):
        self.query = query
        self.closest = closest
        if artist:
            text = f"“{query}” is an artist, not a song: name one of their songs."
            if closest:
                text += " Most listened: " + "; ".join(closest[:5])
        else:
            text = f"No song matches “{query}”."
            if closest:
                text += " Closest titles: " + "; ".join(closest[:5])
        if note:
            text += " " + note
        super().__init__(text)


@dataclass(frozen=True)
class Member:
    """Who asks: a member of a server (``guild_id``; the log's NO_GUILD in DMs and the console)."""

    guild_id: int
    user_id: int


@dataclass(frozen=True)
class Lookup:
    """Exactly one of: a ``seed``, ``choices`` to ask about, or the ``closest`` titles (maybe none).

    ``choices`` are asked about as "did you mean ...?": songs that match about equally well
    (``close_call``: several songs called "Hello"), far matches of what was typed ("everyone"
    is not "Everlong"), or, for ``kind`` "artist", the most listened songs of the artist the
    query named (``artist``). ``note`` is said beside far matches and "no song matches" (on
    the demo data: what it knows, and how to import more), else "".
    """

    seed: Candidate | None = None
    choices: list[Candidate] = field(default_factory=list)
    closest: list[str] = field(default_factory=list)
    query: str = ""
    # An artist was typed and no song matching the title is by them: ``choices`` (if any)
    # are by other artists, and none is taken without asking.
    artist_mismatch: str | None = None
    kind: str = "song"
    artist: str | None = None
    close_call: bool = False
    note: str = ""


def tidy(text: str | None) -> str:
    """Typed text as it is matched and logged: one line, at most MAX_QUERY_CHARS."""
    return one_line(text or "")[:MAX_QUERY_CHARS].strip()


@dataclass(frozen=True)
class Request:
    """What was asked. ``params()`` is what the log keeps; ``from_logged`` reads it back."""

    command: str  # soundalike | mix | foryou
    seeds: tuple[str, ...] = ()  # item ids: one for soundalike, 2..5 for a mix, none for foryou
    count: int = 5
    offset: int = 0
    novelty: str = DEFAULT_NOVELTY
    exclude_seed_artist: bool = False
    per_artist_cap: int | None = None  # None = the config's [serving] per_artist_cap

    def params(self) -> dict:
        return {
            "count": self.count,
            "offset": self.offset,
            "novelty": self.novelty,
            "seeds": list(self.seeds),
            "exclude_seed_artist": self.exclude_seed_artist,
            "per_artist_cap": self.per_artist_cap,
        }

    def next_page(self) -> Request:
        return dataclasses.replace(self, offset=self.offset + self.count)

    @property
    def seed_item_id(self) -> str | None:
        """The seed a /soundalike answer is logged under (dislikes stick per seed); else None."""
        return self.seeds[0] if self.command == "soundalike" and self.seeds else None

    @classmethod
    def from_logged(cls, logged: LoggedQuery) -> Request | None:
        """The request behind a logged answer; None when it cannot be asked again.

        Answers logged before params held everything (only ``count``) were /soundalike
        answers: their seed is the resolved item.
        """
        params: Mapping = logged.params if isinstance(logged.params, Mapping) else {}
        command = logged.command if logged.command in COMMANDS else None
        if command is None:
            return None
        seeds = params.get("seeds")
        if not isinstance(seeds, list) or not all(isinstance(s, str) for s in seeds):
            seeds = [logged.resolved_item_id] if logged.resolved_item_id else []
        if command != "foryou" and not seeds:
            return None
        try:
            count = max(1, min(int(params.get("count", 5)), MAX_COUNT))
            offset = max(0, int(params.get("offset", 0)))
            novelty = check_novelty(params.get("novelty"))
            cap = params.get("per_artist_cap")
            cap = clamp_cap(cap) if cap is not None else None
        except (TypeError, ValueError, SoundalikeError):
            return None
        return cls(command, tuple(seeds), count, offset, novelty, params.get("exclude_seed_artist") is True, cap)


def look_up(service: SoundalikeService, title: str, artist: str | None = None) -> Lookup:
    """Synchronous (run it on the compute pool). An exact item id wins, else the resolver, once:
    its one resolution also carries the closest titles when nothing matched."""
    query = tidy(title)
    artist = tidy(artist) or None
    if not query:
        raise EmptyQuery()
    exact = service.candidate(str(title).strip()) if len(str(title)) <= MAX_QUERY_CHARS else None
    if exact is not None:
        return Lookup(seed=exact, query=query)
    resolution = service.resolve(query, artist)
    if artist and resolution.artist_matched is False:
        return Lookup(choices=list(resolution.candidates[:MAX_CHOICES]), query=query, artist_mismatch=artist)
    if resolution.found and resolution.confident:
        return Lookup(seed=resolution.best, query=query)
    choices = list(resolution.candidates[:MAX_CHOICES])
    if resolution.kind == "artist" and choices:
        return Lookup(choices=choices, query=query, kind="artist", artist=resolution.named_artist)
    # Not sure: even a single candidate is only a "did you mean", never taken as the song.
    note = service.no_match_note() or ""
    if choices:
        return Lookup(
            choices=choices, query=query, close_call=resolution.close_call, note="" if resolution.close_call else note
        )
    return Lookup(closest=list(resolution.closest), query=query, note=note)


def mix_seeds(service: SoundalikeService, songs: list[tuple[str, str | None]]) -> list[Candidate]:
    """Synchronous. The seeds of a mix from (title or item id, artist) pairs, empty ones skipped.

    A mix cannot stop to ask "which one did you mean?" for each song, so a title several
    songs match about equally well takes the resolver's best match (the answer's heading
    names the songs it used); a title that matches nothing well (a far match, an artist's
    name, nothing at all) is an error naming it and the closest titles.
    """
    seeds: dict[str, Candidate] = {}
    for title, artist in songs:
        if not tidy(title):
            continue
        found = look_up(service, title, artist)
        if found.artist_mismatch:
            raise ArtistDidNotMatch(found.query, found.artist_mismatch, found.choices)
        seed = found.seed or (found.choices[0] if found.choices and found.close_call else None)
        if seed is None:
            closest = [c.label for c in found.choices] if found.choices else found.closest
            raise UnknownMixSong(
                found.query, closest, artist=found.artist if found.kind == "artist" else None, note=found.note
            )
        seeds.setdefault(seed.item_id, seed)
    if len(seeds) < 2:
        raise MixNeedsTwoSongs("A mix needs at least two different songs, e.g. /mix Hey Ya! | Hello")
    # More than MAX_MIX_SEEDS is the service's to refuse (service.mix), like any caller's.
    return list(seeds.values())


# -- ratings --------------------------------------------------------------------------------


class Rated(enum.Enum):
    RECORDED = "recorded"
    TAKEN_BACK = "taken back"
    NOT_FOUND = "not found"  # the answer or that position is not in the log


async def rate_suggestion(
    feedback_log: FeedbackLog,
    *,
    guild_id: int,
    user_id: int,
    value: int,
    position: int,
    item_id: str | None,
    message_id: int | None = None,
    query_id: int | None = None,
) -> Rated:
    """Rate suggestion ``position`` (showing ``item_id``) of an answer, or take the rating back.

    Pressing 👎 on a song the member currently turns down (or 👍 on one they like) takes back
    that rating on this answer, so a dislike that sticks can always be undone where it was made.
    The log decides and writes in one transaction, so two quick presses cannot race.
    """
    outcome = await feedback_log.rate_or_take_back(
        guild_id=guild_id,
        user_id=user_id,
        value=value,
        position=position,
        item_id=item_id,
        message_id=message_id,
        query_id=query_id,
    )
    return Rated[outcome.name]  # the log's outcomes carry the same names


# -- blocks ---------------------------------------------------------------------------------


class BlockOutcome(enum.Enum):
    BLOCKED = "blocked"
    ALREADY_BLOCKED = "already blocked"
    UNBLOCKED = "unblocked"
    NOT_BLOCKED = "not blocked"
    AMBIGUOUS = "ambiguous"
    NOT_FOUND = "not found"


@dataclass(frozen=True)
class BlockResult:
    """What /block or /unblock did: the ``song`` it was about, or the ``lookup`` that named no
    one song (choices to pick from, or the closest titles)."""

    outcome: BlockOutcome
    song: Candidate | None = None
    lookup: Lookup | None = None
