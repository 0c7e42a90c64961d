"""The steps of answering, shared by the Discord cogs and the console.

``look_up`` turns what a person typed (or an autocomplete value) into a seed song, a short
list to pick from, or the closest titles; ``mix_seeds`` does the same for the songs of a mix.
A :class:`Request` says what was asked (/soundalike, /mix or /foryou, with its options and
page); it is stored in the log's params, so "More" can ask for the next page of any logged
answer, also after a restart. ``compute_answer`` runs a request on the compute pool, leaving
out the server's blocked songs and what the member turned down; ``log_answer`` writes the query
and what was shown. ``rate_suggestion`` records a 👍/👎 on one suggestion, or takes it back when
the member presses the same rating again. ``block_song`` / ``unblock_song`` are the admin side.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from recommender.app.limits import ComputePool
from recommender.errors import SoundalikeError, UnknownSong
from recommender.feedback.log import FeedbackLog, LoggedQuery
from recommender.ranking import NOVELTY_LEVELS
from recommender.results import Answer, Candidate
from recommender.service import MAX_MIX_SEEDS, SoundalikeService
from recommender.text import one_line

# Typed text longer than this is cut before matching: no title is that long, and fuzzy
# matching a 10,000-character string against the catalog would only waste the pool.
MAX_QUERY_CHARS = 200
# Songs offered when a title is ambiguous (a select menu holds at most 25).
MAX_CHOICES = 10
# "More" stops here: rating buttons number positions with at most three digits, and nobody
# reads 200 suggestions for one song.
MAX_POSITION = 200
# Songs in one answer: Discord's option range (the config's max_results is usually lower).
MAX_COUNT = 25
# A per-artist cap above this is no cap in practice (an answer holds at most 25 songs).
MAX_PER_ARTIST_CAP = 25
# The commands whose answers can be asked again ("More").
COMMANDS = ("soundalike", "mix", "foryou")
DEFAULT_NOVELTY = "balanced"
NOVELTY_NAMES = {"popular": "popular", "balanced": "balanced", "deep": "deep cuts"}


class EmptyQuery(SoundalikeError):
    def __init__(self) -> None:
        super().__init__("Type a song title, e.g. /soundalike Hey Ya!")


class BadNovelty(SoundalikeError):
    def __init__(self, given: object) -> None:
        super().__init__(f"novelty must be one of {', '.join(NOVELTY_LEVELS)}, not {one_line(given)[:40]!r}")


class MixNeedsTwoSongs(SoundalikeError):
    def __init__(self) -> None:
        super().__init__("A mix needs at least two different songs, e.g. /mix Hey Ya! | Hello")


class OutOfRange(SoundalikeError):
    """A typed number outside what the option accepts (never clamped silently)."""

    def __init__(self, name: str, value: object, low: int, high: int, note: str = ""):
        super().__init__(f"{name} takes a whole number from {low}{note} to {high}, not {one_line(value)[:40]}")


class ArtistDidNotMatch(SoundalikeError):
    """A mix song typed with an artist that none of the matching songs is by."""

    def __init__(self, query: str, artist: str, others: list[Candidate]):
        text = f"No song by “{artist}” matches “{query}”."
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
    """Synchronous (run it on the compute pool). An exact item id wins, else the resolver."""
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
    try:
        service.seed(query, artist)
    except UnknownSong as error:
        return Lookup(closest=list(error.suggestions), query=query, note=note)
    # seed() found something resolve() did not (it also tries exact ids); ask rather than guess.
    return Lookup(query=query, note=note)


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
        raise MixNeedsTwoSongs()
    if len(seeds) > MAX_MIX_SEEDS:
        raise SoundalikeError(f"A mix takes at most {MAX_MIX_SEEDS} songs, got {len(seeds)}.")
    return list(seeds.values())


async def compute_answer(
    service: SoundalikeService,
    feedback_log: FeedbackLog,
    pool: ComputePool,
    request: Request,
    *,
    guild_id: int,
    user_id: int,
    pool_key: Hashable | None,
) -> Answer:
    """One page of suggestions for ``request``; raises Busy when the pool is full,
    SoundalikeError (e.g. NotEnoughHistory) when there is no answer.

    Never shown: the server's blocked songs. /soundalike leaves out what the member turned
    down (👎 on the song itself) in answers for the same seed; /mix and /foryou leave out
    everything they turned down in this server, and /foryou also what they already like
    (the service drops the history it folds in).
    """
    excluded = await feedback_log.blocked_items(guild_id)
    options = dict(
        count=request.count, offset=request.offset, novelty=request.novelty, per_artist_cap=request.per_artist_cap
    )
    if request.command == "soundalike":
        (seed,) = request.seeds[:1]
        excluded |= await feedback_log.disliked_items(guild_id, user_id, seed)
        return await pool.run(
            pool_key,
            service.similar,
            seed,
            exclude_seed_artist=request.exclude_seed_artist,
            exclude_ids=tuple(sorted(excluded)),
            **options,
        )
    excluded |= await feedback_log.disliked_items(guild_id, user_id)
    if request.command == "mix":
        return await pool.run(
            pool_key, service.mix, list(request.seeds), exclude_ids=tuple(sorted(excluded)), **options
        )
    if request.command == "foryou":
        # The service leaves the liked songs (the history it folds in) out by itself.
        liked = await feedback_log.liked_items(guild_id, user_id)
        return await pool.run(pool_key, service.for_you, liked, exclude_ids=tuple(sorted(excluded)), **options)
    raise ValueError(f"unknown command {request.command!r}")


async def log_answer(
    feedback_log: FeedbackLog,
    answer: Answer,
    *,
    command: str,
    guild_id: int,
    user_id: int,
    channel_id: int | None,
    typed_title: str | None,
    typed_artist: str | None,
    started: float,
    message_id: int | None = None,
    params: dict | None = None,
    request: Request | None = None,
) -> int:
    """Log a query and what was shown. With a ``request``, its params are stored (so "More"
    and ratings work after a restart) and the logged seed is the request's."""
    if request is not None:
        resolved = request.seed_item_id
        params = {**request.params(), **(params or {})}
    else:
        resolved = answer.seeds[0].item_id if answer.seeds else None
    return await feedback_log.record_answer(
        guild_id=guild_id,
        user_id=user_id,
        command=command,
        channel_id=channel_id,
        typed_title=tidy(typed_title) or None,
        typed_artist=tidy(typed_artist) or None,
        resolved_item_id=resolved,
        model_version=answer.model_version,
        latency_ms=(time.perf_counter() - started) * 1000.0,
        params=params or {},
        suggestions=[
            (position, suggestion.item_id, float(suggestion.score))
            for position, suggestion in enumerate(answer.suggestions, start=1 + answer.offset)
        ],
        message_id=message_id,
    )


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
    outcome: BlockOutcome
    song: Candidate | None = None
    lookup: Lookup | None = None


async def block_song(
    service,
    feedback_log: FeedbackLog,
    pool: ComputePool,
    *,
    guild_id: int,
    user_id: int,
    song: str,
    pool_key: Hashable | None,
) -> BlockResult:
    """Block a song (an item id, or a title that names one song) in a server."""
    if not tidy(song):
        raise SoundalikeError("Name the song to block, e.g. /block Hey Ya!")
    found: Lookup = await pool.run(pool_key, look_up, service, song)
    if found.seed is None:
        return BlockResult(BlockOutcome.AMBIGUOUS if found.choices else BlockOutcome.NOT_FOUND, lookup=found)
    added = await feedback_log.block(guild_id, found.seed.item_id, user_id)
    return BlockResult(BlockOutcome.BLOCKED if added else BlockOutcome.ALREADY_BLOCKED, song=found.seed)


async def unblock_song(
    service, feedback_log: FeedbackLog, pool: ComputePool, *, guild_id: int, song: str, pool_key: Hashable | None
) -> BlockResult:
    """Unblock a song: an item id, or a title; of several songs by that title, the blocked one."""
    if not tidy(song):
        raise SoundalikeError("Name the song to unblock, e.g. /unblock Hey Ya!")
    blocked = await feedback_log.blocked_items(guild_id)
    found: Lookup = await pool.run(pool_key, look_up, service, song)
    options = [found.seed] if found.seed is not None else found.choices
    blocked_options = [candidate for candidate in options if candidate.item_id in blocked]
    if len(blocked_options) > 1:
        return BlockResult(BlockOutcome.AMBIGUOUS, lookup=dataclasses.replace(found, choices=blocked_options))
    if not blocked_options:
        if not options:
            return BlockResult(BlockOutcome.NOT_FOUND, lookup=found)
        return BlockResult(BlockOutcome.NOT_BLOCKED, song=options[0])
    (target,) = blocked_options
    removed = await feedback_log.unblock(guild_id, target.item_id)
    return BlockResult(BlockOutcome.UNBLOCKED if removed else BlockOutcome.NOT_BLOCKED, song=target)


def blocked_songs(service, blocked: set[str]) -> list[Candidate]:
    """The blocked songs still in the catalog, by title."""
    songs = [service.candidate(item_id) for item_id in blocked]
    return sorted((s for s in songs if s is not None), key=lambda s: (s.title.casefold(), s.artist.casefold()))
