"""Ranking: from a model's raw neighbours to the suggestions a person sees.

The model proposes a pool of candidates (``LoadedModel.similar_to_each`` or
``score_for_history``). This module turns the pool into an answer, in this order:

1. drop what must never be shown: the seeds and their other versions, songs below the
   listener floor or the match floor (``MIN_MATCH_SCORE``), songs the caller excludes
   (dislikes, server blocks), optionally the seed's artist;
2. re-rank against popularity by the novelty knob (popular / balanced / deep);
3. with several seeds (a mix), let every seed's neighbourhood contribute (``mix_lists``:
   the seeds take turns, see ``MIX_STRATEGY``);
4. collapse versions of one song to its most-listened version;
5. cap songs per artist;
6. cut the page (``offset``/``count``, for "More"), say whether anything is left after it,
   and attach a reason to each pick.

Everything here is cheap array work on a pool of a few hundred items, so one answer
costs well under a millisecond beyond the model's own call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from recommender.dataset import Dataset
from recommender.results import Suggestion
from recommender.versions import VersionGroups

# Exponent on relative popularity applied to scores: score * pop ** -beta.
# beta < 0 favours well-known songs, beta > 0 favours deep cuts. Measured by
# `evaluate --knobs` (coverage, novelty, diversity beside accuracy for each setting).
# deep: the largest beta on a 0.01 grid keeping >= 50% of balanced's hit@10 on Last.fm
# item2item (/soundalike), required on split seeds 2 and 3 and checked on seed 1. Similarity
# scores there are so close that small betas already bite: seed 1 hit@10 0.273 vs balanced
# 0.501, novelty 9.16 vs 7.61 bits, mean listeners 21 vs 48; 0.05 kept 43-47%, the old 0.35
# kept 14% (0.069) and showed songs with ~3 listeners. popular -0.25 is the knee: hit@10
# 0.769 (-0.5: 0.798, -0.1: 0.708).
# Since models calibrate "deep" for their own data at train time (``evaluation.calibration.calibrate_deep``,
# kept in the manifest's "novelty"), 0.04 is only the fallback for models published before that.
# Each level is relative to the model's default ranking (``DefaultRanking``, what "balanced" means,
# chosen per command at train time): popular leans 0.25 further towards popularity than it, deep
# cuts its calibrated beta further away.
NOVELTY_BETA = {"popular": -0.25, "balanced": 0.0, "deep": 0.04}
NOVELTY_LEVELS = tuple(NOVELTY_BETA)

# A lift below this is not worth saying "x more than chance" about, and a seed of a mix
# whose listeners share a pick no more than this is not named as a reason for it: a song
# everyone plays overlaps with everything, by chance.
MIN_LIFT_TO_MENTION = 1.5
# Nor is a seed whose lift is below this share of the strongest seed's: listeners who play a
# lot overlap with everything a little (on the demo, most pairs of songs lift 1.3-1.7x), so
# next to a seed at 4.5x, one at 1.6x explains nothing.
NAMED_SHARE_OF_BEST_LIFT = 0.5

# No suggestion below this score (shown as "5% match"): below it the model says nothing
# useful (on the demo, the median song's cosine with any seed is about -0.03), and "More"
# ends there, saying so, instead of paging through "0% match" songs.
MIN_MATCH_SCORE = 0.05

# How the seeds of a mix share its list (measured by `evaluate --protocol mix`, README "Mixes"):
# - "mean": one list by the seeds' mean similarity (the order of the seeds' mean direction,
#   how mixes were ranked before): the seed with the tighter neighbourhood takes every place;
# - "min": one list by the smallest of the seeds' similarities, each scaled by its best;
# - "turns": the seeds take turns, each adding its closest song not yet picked;
# - "turns-shared": turns, each seed's similarities scaled by its best, its order also
#   counting the other seeds' (scaled) similarity by half: songs near several seeds first.
# Two songs of a held-out listener as seeds, hit@10 demo / Last.fm: mean 0.746 / 0.651, min
# 0.550 / 0.597, turns 0.790 / 0.656, turns-shared 0.791 / 0.699; 200 demo mixes of two genres
# showing both: mean 0.68, min 0.37, turns and turns-shared 1.00.
MIX_STRATEGIES = ("mean", "min", "turns", "turns-shared")
MIX_STRATEGY = "turns-shared"
SHARED_WEIGHT = 0.5  # "turns-shared": the weight of the other seeds' mean scaled similarity


@dataclass(frozen=True)
class DefaultRanking:
    """What "balanced" means for one command: the model's scores re-weighed against listeners.

    A song's ranking score is ``score * popularity ** popularity_exponent * n / (n + shrinkage)``
    (popularity: listeners relative to the most listened song, as the novelty knob has it; n: its
    listeners), and songs with fewer than ``min_listeners`` listeners are left out. The plain
    default (all zero, floor 1) is the model's own order. Each model's is chosen on validation
    listeners at train time (``evaluation.defaults.choose_defaults``, kept in its manifest's
    "novelty" as "default"); the knob's "popular" and "deep cuts" move relative to it.
    """

    popularity_exponent: float = 0.0
    shrinkage: float = 0.0
    min_listeners: int = 1

    def __post_init__(self) -> None:
        if not math.isfinite(self.popularity_exponent):
            raise ValueError(f"popularity exponent must be a finite number, not {self.popularity_exponent!r}")
        if not (math.isfinite(self.shrinkage) and self.shrinkage >= 0):
            raise ValueError(f"shrinkage must be a finite number >= 0, not {self.shrinkage!r}")
        if isinstance(self.min_listeners, bool) or not isinstance(self.min_listeners, int) or self.min_listeners < 1:
            raise ValueError(f"the listener floor must be a whole number >= 1, not {self.min_listeners!r}")

    def to_dict(self) -> dict:
        return {
            "popularity_exponent": self.popularity_exponent,
            "shrinkage": self.shrinkage,
            "min_listeners": self.min_listeners,
        }

    @classmethod
    def from_dict(cls, values: object) -> DefaultRanking | None:
        """The setting a manifest keeps, or None when it is missing or not a valid setting."""
        if not isinstance(values, dict):
            return None
        numbers: list[float] = []
        for key in ("popularity_exponent", "shrinkage", "min_listeners"):
            value = values.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None
            numbers.append(float(value))
        exponent, shrinkage, floor = numbers
        if not floor.is_integer():
            return None
        try:
            return cls(exponent, shrinkage, int(floor))
        except (ValueError, OverflowError):
            return None

    def describe(self) -> str:
        if self == PLAIN_DEFAULT:
            return "the model's own order"
        parts = []
        if self.popularity_exponent:
            parts.append(f"score x popularity^{self.popularity_exponent:g}")
        if self.shrinkage:
            parts.append(f"shrunk by listeners n/(n+{self.shrinkage:g})")
        if self.min_listeners > 1:
            parts.append(f"at least {self.min_listeners} listeners")
        return ", ".join(parts)


PLAIN_DEFAULT = DefaultRanking()


@dataclass(frozen=True)
class RankingOptions:
    count: int = 5
    offset: int = 0
    novelty: str = "balanced"
    per_artist_cap: int = 2  # 0 = no cap
    exclude_seed_artist: bool = False
    min_listeners: int = 1
    min_score: float = MIN_MATCH_SCORE
    # The model's calibrated "deep" beta (its manifest's novelty.deep_beta); None = NOVELTY_BETA.
    deep_beta: float | None = None
    mix_strategy: str = MIX_STRATEGY
    # What "balanced" means for this command (its model's chosen default); the knob's levels
    # move from it.
    default: DefaultRanking = PLAIN_DEFAULT

    def __post_init__(self) -> None:
        if self.novelty not in NOVELTY_BETA:
            raise ValueError(f"novelty must be one of {', '.join(NOVELTY_LEVELS)}, not {self.novelty!r}")
        if self.count < 1 or self.offset < 0 or self.per_artist_cap < 0:
            raise ValueError("count must be >= 1, offset and per_artist_cap >= 0")
        if self.mix_strategy not in MIX_STRATEGIES:
            raise ValueError(f"mix strategy must be one of {', '.join(MIX_STRATEGIES)}, not {self.mix_strategy!r}")
        if self.deep_beta is not None and not (math.isfinite(self.deep_beta) and self.deep_beta >= 0):
            raise ValueError(f"deep beta must be a finite number >= 0, not {self.deep_beta!r}")

    @property
    def beta(self) -> float:
        """The exponent on popularity the ranking applies (``score * popularity ** -beta``): the
        knob's level (the model's own for "deep" when it has one) moved from the default's."""
        if self.novelty == "deep" and self.deep_beta is not None:
            level = float(self.deep_beta)
        else:
            level = NOVELTY_BETA[self.novelty]
        return level - self.default.popularity_exponent

    @property
    def listener_floor(self) -> int:
        """The fewest listeners a song shown may have: the serving floor, or the default's when it
        has one above 1 (a floor of 1 is the plain default's "none")."""
        if self.default.min_listeners <= 1:
            return self.min_listeners
        return max(self.min_listeners, self.default.min_listeners)

    @property
    def pool_size(self) -> int:
        """How many raw neighbours to ask the model for: enough to survive the filters."""
        return max(200, (self.offset + self.count) * 12)


def novelty_rerank(
    indices: np.ndarray, scores: np.ndarray, listeners: np.ndarray, novelty: str, beta: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Re-order a candidate pool against popularity; returns (indices, adjusted scores).

    Popularity is relative to the most-listened song, so the knob means the same on a
    2,000-user demo and on the 1 M-user MSD. ``beta`` overrides ``NOVELTY_BETA[novelty]``
    (a model's calibrated "deep").
    """
    beta = NOVELTY_BETA[novelty] if beta is None else float(beta)
    if beta == 0.0 or len(indices) == 0:
        return indices, scores
    adjusted = _novelty_adjusted(indices, scores, listeners, beta)
    order = np.argsort(-adjusted, kind="stable")
    return indices[order], adjusted[order]


def _novelty_adjusted(indices: np.ndarray, scores: np.ndarray, listeners: np.ndarray, beta: float) -> np.ndarray:
    """``score * popularity ** -beta`` (the scores themselves at beta 0)."""
    if beta == 0.0 or len(indices) == 0:
        return scores
    popularity = (listeners[indices] + 1.0) / (float(listeners.max()) + 1.0)
    return np.maximum(scores, 0.0) * popularity ** (-beta)


def mix_lists(per_seed: np.ndarray, strategy: str = MIX_STRATEGY) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The lists that take turns in an answer: (score held to the match floor, ranking score,
    shown score) per candidate.

    ``per_seed`` holds each seed's similarity to each candidate (seeds x candidates). One
    seed, or a one-list strategy, gives one list; "turns" gives one list per seed, each
    seed's own similarity deciding what it may add, and shows a song's best similarity to
    any seed.
    """
    per_seed = np.atleast_2d(np.asarray(per_seed, dtype=np.float32))
    if per_seed.shape[0] == 1:
        return [(per_seed[0], per_seed[0], per_seed[0])]
    if strategy == "mean":
        mean = per_seed.mean(axis=0)
        return [(mean, mean, mean)]
    if strategy == "min":
        best = per_seed.max(axis=1, keepdims=True)
        scaled = per_seed / np.where(best > 0, best, 1.0)
        lowest = per_seed.min(axis=0)
        return [(lowest, scaled.min(axis=0), lowest)]
    closest = per_seed.max(axis=0)
    if strategy == "turns":
        return [(row, row, closest) for row in per_seed]
    if strategy == "turns-shared":
        # Each seed's similarities scaled by its own best, so that a seed with a loose
        # neighbourhood still prefers its own neighbours to a tighter seed's.
        best = per_seed.max(axis=1, keepdims=True)
        scaled = per_seed / np.where(best > 0, best, 1.0)
        total, others = scaled.sum(axis=0), per_seed.shape[0] - 1
        return [(row, own + SHARED_WEIGHT * (total - own) / others, closest) for row, own in zip(per_seed, scaled)]
    raise ValueError(f"mix strategy must be one of {', '.join(MIX_STRATEGIES)}, not {strategy!r}")


def in_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_set)`` for a sorted ``sorted_set`` (``np.unique``'s output): a
    binary search, several times quicker than ``np.isin`` on the few songs of one answer, which
    choosing a default asks millions of times."""
    if not sorted_set.size:
        return np.zeros(np.shape(values), dtype=bool)
    positions = np.minimum(np.searchsorted(sorted_set, values), sorted_set.size - 1)
    return sorted_set[positions] == values


@dataclass(frozen=True)
class RankedPage:
    """One page of (item index, shown score) pairs, and whether any song is left after it."""

    picked: list[tuple[int, float]]
    has_more: bool


def rank_page(
    dataset: Dataset,
    indices: np.ndarray,
    scores: np.ndarray,
    options: RankingOptions,
    *,
    exclude: Iterable[int] = (),
    seed_artists: Iterable[str] = (),
    versions: VersionGroups | None = None,
) -> RankedPage:
    """Apply filters, the novelty knob, the mix's turns, version merging and the artist cap.

    ``scores`` is one score per candidate, or one row per seed (``LoadedModel.similar_to_each``)
    for a mix, shared out by ``options.mix_strategy``. The shown score stays the model's
    similarity (in a mix, to the closest seed): the knob only changes the order.
    Candidates below ``options.min_score`` are never shown; ``has_more`` says whether a song
    is left after this page, so "More" can stop where the list ends. With ``versions``, each
    song is shown once, as its most listened version.
    """
    indices = np.asarray(indices, dtype=np.int64)
    per_list = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    if per_list.shape[1] != indices.size:
        raise ValueError(f"{per_list.shape[1]} scores for {indices.size} candidates")
    listeners = dataset.listeners
    keep = listeners[indices] >= options.listener_floor if indices.size else np.ones(0, dtype=bool)
    excluded = np.unique(np.fromiter(exclude, dtype=np.int64))
    if excluded.size:
        keep &= ~in_sorted(indices, excluded)
    indices, per_list = indices[keep], per_list[:, keep]
    # Each list in its own order (a mix's pool is in no seed's order), the knob applied:
    # (item indices, shown scores), best first.
    orders: list[tuple[list[int], list[float]]] = []
    for floored, ranking, shown in mix_lists(per_list, options.mix_strategy):
        good = np.flatnonzero(floored >= options.min_score)
        adjusted = _novelty_adjusted(indices[good], ranking[good], listeners, options.beta)
        if options.default.shrinkage:
            counts = listeners[indices[good]].astype(np.float64)
            adjusted = np.maximum(adjusted, 0.0) * counts / (counts + options.default.shrinkage)
        order = good[np.argsort(-adjusted, kind="stable")]
        orders.append((indices[order].tolist(), shown[order].tolist()))

    banned_artists = {a.casefold() for a in seed_artists} if options.exclude_seed_artist else set()
    seen_groups: set[int] = set()
    per_artist: dict[str, int] = {}

    def take(index: int) -> int | None:
        """The song shown for ``index`` if it may join the list (and count it), else None."""
        group = versions.group_of(index) if versions is not None else index
        if group in seen_groups:
            return None
        artist = dataset.artist(index).casefold()
        if artist in banned_artists:
            return None
        if options.per_artist_cap and per_artist.get(artist, 0) >= options.per_artist_cap:
            return None
        seen_groups.add(group)
        per_artist[artist] = per_artist.get(artist, 0) + 1
        return versions.representative(group) if versions is not None else index

    picked: list[tuple[int, float]] = []
    wanted = options.offset + options.count
    # The lists take turns (one list: it takes every turn); a list with nothing left drops out.
    # One song beyond the page is looked for, to know whether there is more.
    positions = [0] * len(orders)
    active = list(range(len(orders)))
    turn = 0
    while active and len(picked) <= wanted:
        current = active[turn]
        list_items, list_scores = orders[current]
        while positions[current] < len(list_items):
            position = positions[current]
            positions[current] += 1
            shown_item = take(list_items[position])
            if shown_item is not None:
                picked.append((shown_item, list_scores[position]))
                turn = (turn + 1) % len(active)
                break
        else:
            active.pop(turn)
            turn = turn % len(active) if active else 0
    return RankedPage(picked[options.offset : wanted], len(picked) > wanted)


def rank(
    dataset: Dataset,
    indices: np.ndarray,
    scores: np.ndarray,
    options: RankingOptions,
    *,
    exclude: Iterable[int] = (),
    seed_artists: Iterable[str] = (),
    versions: VersionGroups | None = None,
) -> list[tuple[int, float]]:
    """The page ``[offset, offset + count)`` of (item index, score) pairs: see :func:`rank_page`."""
    return rank_page(
        dataset,
        indices,
        scores,
        options,
        exclude=exclude,
        seed_artists=seed_artists,
        versions=versions,
    ).picked


def rank_for_seeds(
    dataset: Dataset,
    versions: VersionGroups,
    indices: np.ndarray,
    scores: np.ndarray,
    options: RankingOptions,
    *,
    seeds: Sequence[int],
    exclude: Iterable[int] = (),
    seed_artists: bool = True,
) -> RankedPage:
    """The page an answer about ``seeds`` shows from the model's pool, as every front end and
    the evaluation rank it: the seeds and their other versions left out (with ``exclude``),
    versions merged to their representative, and with ``options.exclude_seed_artist`` the
    seeds' artists left out (``seed_artists`` False: the seeds are a member's history, whose
    artists are welcome)."""
    return rank_page(
        dataset,
        indices,
        scores,
        options,
        exclude=versions.with_versions(seeds) | {int(i) for i in exclude},
        seed_artists=[dataset.artist(s) for s in seeds] if seed_artists and options.exclude_seed_artist else (),
        versions=versions,
    )


class CoListeners:
    """Counts shared listeners between a seed and candidates, for reasons and lift.

    Uses a boolean mask over users, so one seed costs O(its listeners) and each
    candidate O(its listeners): no set intersections of large arrays.
    """

    def __init__(self, dataset: Dataset, seed_index: int):
        self.dataset = dataset
        seed_users = dataset.item_user.of(seed_index)
        self.seed_listeners = len(seed_users)
        self.mask = np.zeros(dataset.n_users, dtype=bool)
        self.mask[seed_users] = True

    def count(self, index: int) -> tuple[int, float]:
        """(shared listeners, lift): how many more than chance the overlap is."""
        users = self.dataset.item_user.of(index)
        shared = int(self.mask[users].sum())
        return shared, lift_over_chance(shared, self.seed_listeners, len(users), self.dataset.n_users)


def lift_over_chance(shared: int, seed_listeners: int, item_listeners: int, n_users: int) -> float:
    """Shared listeners / the number expected if the two songs were played independently."""
    expected = seed_listeners * item_listeners / max(1, n_users)
    return shared / expected if expected > 0 else 0.0


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _lift_text(lift: float) -> str:
    if lift < MIN_LIFT_TO_MENTION:
        return ""
    return f", {lift:.0f}x more than chance" if lift >= 10 else f", {lift:.1f}x more than chance"


def co_listener_reason(shared: int, lift: float, seed_title: str) -> str:
    if shared == 0:
        return f"No shared listeners with {seed_title} yet; close to it in taste"
    return f"{_plural(shared, 'listener')} of {seed_title} also played this" + _lift_text(lift)


def _names(titles: Sequence[str]) -> str:
    return titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]


class MixListeners:
    """Shared listeners of a pick and a mix's seeds: per seed (with lift), and distinct people
    over any set of the seeds (a person who played two of them counts once)."""

    def __init__(self, dataset: Dataset, seeds: Sequence[int]):
        self.dataset = dataset
        self.counters = [CoListeners(dataset, seed) for seed in seeds]
        self._union_sizes: dict[tuple[int, ...], int] = {}

    def per_seed(self, index: int) -> list[tuple[int, float]]:
        return [counter.count(index) for counter in self.counters]

    def distinct(self, index: int, which: Sequence[int]) -> tuple[int, float]:
        """(people who played the pick and any of seeds ``which`` (positions), lift over chance)."""
        users = self.dataset.item_user.of(index)
        masks = [self.counters[j].mask for j in which]
        shared = int(np.logical_or.reduce([mask[users] for mask in masks]).sum()) if len(users) else 0
        key = tuple(sorted(which))
        if key not in self._union_sizes:
            self._union_sizes[key] = int(np.logical_or.reduce(masks).sum())
        return shared, lift_over_chance(shared, self._union_sizes[key], len(users), self.dataset.n_users)


def explain_similar(dataset: Dataset, seeds: Sequence[int], picked: list[tuple[int, float]]) -> list[Suggestion]:
    """Suggestions with co-listener reasons.

    With several seeds (a mix), each pick names the seeds that explain it: those whose
    listeners play it at least ``MIN_LIFT_TO_MENTION`` times more than chance and at least
    ``NAMED_SHARE_OF_BEST_LIFT`` of the strongest seed's lift, highest lift first (at most
    three). A song everyone plays overlaps with every pick by chance and explains none.
    The count is of distinct people who played the pick and any named seed. When no seed
    stands out, the reason says the pick is close in taste to the seed with the highest lift.
    """
    seeds = list(seeds)
    if len(seeds) == 1:
        counter = CoListeners(dataset, seeds[0])
        suggestions = []
        for index, score in picked:
            shared, lift = counter.count(index)
            reason = co_listener_reason(shared, lift, dataset.title(seeds[0]))
            suggestions.append(_suggestion(dataset, index, score, reason, (seeds[0],), shared))
        return suggestions
    listeners = MixListeners(dataset, seeds)
    suggestions = []
    for index, score in picked:
        overlaps = listeners.per_seed(index)
        by_lift = sorted(range(len(seeds)), key=lambda j: (-overlaps[j][1], j))
        floor = max(MIN_LIFT_TO_MENTION, NAMED_SHARE_OF_BEST_LIFT * overlaps[by_lift[0]][1])
        named = [j for j in by_lift if overlaps[j][0] > 0 and overlaps[j][1] >= floor][:3]
        if named:
            shared, lift = listeners.distinct(index, named)
            if len(named) == 1:
                count = f"{shared:,} of its listeners"
            else:
                count = _plural(shared, "listener") + (" of either" if len(named) == 2 else " of any of them")
            reason = f"From {_names([dataset.title(seeds[j]) for j in named])}: {count} also played this" + _lift_text(
                lift
            )
            because = tuple(seeds[j] for j in named)
        else:
            top = by_lift[0]
            shared, lift = overlaps[top]
            title = dataset.title(seeds[top])
            reason = (
                f"Close in taste to {title}; {_plural(shared, 'shared listener')}, {lift:.1f}x chance"
                if shared
                else f"Close in taste to {title}; no shared listeners yet"
            )
            because = (seeds[top],)
        suggestions.append(_suggestion(dataset, index, score, reason, because, shared))
    return suggestions


def explain_for_you(
    dataset: Dataset,
    picked: list[tuple[int, float]],
    history: Sequence[int],
    contributions: Callable[[Sequence[int], int], np.ndarray],
    played: Collection[int] = frozenset(),
) -> list[Suggestion]:
    """Suggestions for a member's own history: each names the liked (or, for ``played``,
    listened) songs that led to it."""
    suggestions = []
    for index, score in picked:
        weights = np.asarray(contributions(history, index), dtype=np.float64)
        order = [i for i in np.argsort(-weights, kind="stable") if weights[i] > 0][:2] or [int(np.argmax(weights))]
        because = tuple(int(history[i]) for i in order)
        liked = [dataset.title(i) for i in because if i not in played]
        heard = [dataset.title(i) for i in because if i in played]
        parts = [verb + " and ".join(titles) for verb, titles in (("liked ", liked), ("played ", heard)) if titles]
        reason = "Because you " + " and ".join(parts)
        suggestions.append(_suggestion(dataset, index, score, reason, because))
    return suggestions


def _suggestion(
    dataset: Dataset,
    index: int,
    score: float,
    reason: str,
    because: tuple[int, ...],
    shared_listeners: int | None = None,
) -> Suggestion:
    return Suggestion(
        item_index=int(index),
        item_id=str(dataset.item_ids[index]),
        title=dataset.title(index),
        artist=dataset.artist(index),
        score=float(max(0.0, min(1.0, score))),
        reason=reason,
        because_of=tuple(int(i) for i in because),
        shared_listeners=shared_listeners,
    )


def popularity_ranking(dataset: Dataset, n: int, exclude: Iterable[int] = ()) -> np.ndarray:
    """The most-listened items: the baseline every evaluation prints beside the model."""
    listeners = dataset.listeners.astype(np.float64).copy()
    excluded = np.fromiter(exclude, dtype=np.int64)
    listeners[excluded] = -1
    top = np.argpartition(-listeners, min(n, len(listeners) - 1))[:n]
    return top[np.argsort(-listeners[top], kind="stable")]
