"""Ranking: from a model's raw neighbours to the suggestions a person sees.

The model proposes a pool of candidates (``LoadedModel.similar_items`` or
``score_for_history``). This module turns the pool into an answer, in this order:

1. drop what must never be shown: the seeds and their other versions, songs below the
   listener floor, songs the caller excludes (dislikes, server blocks), optionally the
   seed's artist;
2. re-rank against popularity by the novelty knob (popular / balanced / deep);
3. collapse versions of one song to its most-listened version;
4. cap songs per artist;
5. cut the page (``offset``/``count``, for "More") and attach a reason to each pick.

Everything here is cheap array work on a pool of a few hundred items, so one answer
costs well under a millisecond beyond the model's own call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from .dataset import Dataset
from .results import Suggestion

# Exponent on relative popularity applied to scores: score * pop ** -beta.
# beta < 0 favours well-known songs, beta > 0 favours deep cuts. Measured by
# `evaluate --knobs` (coverage, novelty, diversity beside accuracy for each setting).
# deep: the largest beta on a 0.01 grid keeping >= 50% of balanced's hit@10 on Last.fm
# item2item (/soundalike), required on split seeds 2 and 3 and checked on seed 1. Similarity
# scores there are so close that small betas already bite: seed 1 hit@10 0.273 vs balanced
# 0.501, novelty 9.16 vs 7.61 bits, mean listeners 21 vs 48; 0.05 kept 43-47%, the old 0.35
# kept 14% (0.069) and showed songs with ~3 listeners. popular -0.25 is the knee: hit@10
# 0.769 (-0.5: 0.798, -0.1: 0.708).
NOVELTY_BETA = {"popular": -0.25, "balanced": 0.0, "deep": 0.04}
NOVELTY_LEVELS = tuple(NOVELTY_BETA)

# A lift below this is not worth saying "x more than chance" about.
MIN_LIFT_TO_MENTION = 1.5


@dataclass(frozen=True)
class RankingOptions:
    count: int = 5
    offset: int = 0
    novelty: str = "balanced"
    per_artist_cap: int = 2  # 0 = no cap
    exclude_seed_artist: bool = False
    min_listeners: int = 1

    def __post_init__(self) -> None:
        if self.novelty not in NOVELTY_BETA:
            raise ValueError(f"novelty must be one of {', '.join(NOVELTY_LEVELS)}, not {self.novelty!r}")
        if self.count < 1 or self.offset < 0 or self.per_artist_cap < 0:
            raise ValueError("count must be >= 1, offset and per_artist_cap >= 0")

    @property
    def pool_size(self) -> int:
        """How many raw neighbours to ask the model for: enough to survive the filters."""
        return max(200, (self.offset + self.count) * 12)


def novelty_rerank(
    indices: np.ndarray, scores: np.ndarray, listeners: np.ndarray, novelty: str
) -> tuple[np.ndarray, np.ndarray]:
    """Re-order a candidate pool against popularity; returns (indices, adjusted scores).

    Popularity is relative to the most-listened song, so the knob means the same on a
    2,000-user demo and on the 1 M-user MSD.
    """
    beta = NOVELTY_BETA[novelty]
    if beta == 0.0 or len(indices) == 0:
        return indices, scores
    popularity = (listeners[indices] + 1.0) / (float(listeners.max()) + 1.0)
    adjusted = np.maximum(scores, 0.0) * popularity ** (-beta)
    order = np.argsort(-adjusted, kind="stable")
    return indices[order], adjusted[order]


def rank(
    dataset: Dataset,
    indices: np.ndarray,
    scores: np.ndarray,
    options: RankingOptions,
    *,
    exclude: Iterable[int] = (),
    seed_artists: Iterable[str] = (),
    version_group: Callable[[int], int] | None = None,
    representative: Callable[[int], int] | None = None,
) -> list[tuple[int, float]]:
    """Apply filters, the novelty knob, version merging and the artist cap.

    Returns the page ``[offset, offset + count)`` of (item index, score) pairs; the score
    stays the model's similarity (what the person sees as a percentage), the knob only
    changes the order.
    """
    indices = np.asarray(indices, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float32)
    listeners = dataset.listeners
    keep = listeners[indices] >= options.min_listeners
    excluded = np.fromiter(exclude, dtype=np.int64)
    if excluded.size:
        keep &= ~np.isin(indices, excluded)
    indices, scores = indices[keep], scores[keep]
    similarity = dict(zip(indices.tolist(), scores.tolist()))
    indices, _ = novelty_rerank(indices, scores, listeners, options.novelty)

    banned_artists = {a.casefold() for a in seed_artists} if options.exclude_seed_artist else set()
    seen_groups: set[int] = set()
    per_artist: dict[str, int] = {}
    picked: list[tuple[int, float]] = []
    wanted = options.offset + options.count
    for index in indices.tolist():
        group = version_group(index) if version_group else index
        if group in seen_groups:
            continue
        artist = dataset.artist(index).casefold()
        if artist in banned_artists:
            continue
        if options.per_artist_cap and per_artist.get(artist, 0) >= options.per_artist_cap:
            continue
        seen_groups.add(group)
        per_artist[artist] = per_artist.get(artist, 0) + 1
        shown = representative(group) if representative else index
        picked.append((shown, similarity[index]))
        if len(picked) >= wanted:
            break
    return picked[options.offset:wanted]


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
        expected = self.seed_listeners * len(users) / max(1, self.dataset.n_users)
        lift = shared / expected if expected > 0 else 0.0
        return shared, lift


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def co_listener_reason(shared: int, lift: float, seed_title: str) -> str:
    if shared == 0:
        return f"No shared listeners with {seed_title} yet; close to it in taste"
    text = f"{_plural(shared, 'listener')} of {seed_title} also played this"
    if lift >= MIN_LIFT_TO_MENTION:
        text += f", {lift:.0f}x more than chance" if lift >= 10 else f", {lift:.1f}x more than chance"
    return text


def explain_similar(
    dataset: Dataset, seeds: Sequence[int], picked: list[tuple[int, float]]
) -> list[Suggestion]:
    """Suggestions with co-listener reasons. With several seeds (a mix), each pick names the
    seeds whose listeners share it, strongest first."""
    counters = [CoListeners(dataset, seed) for seed in seeds]
    suggestions = []
    for index, score in picked:
        overlaps = [(counter.count(index), seed) for counter, seed in zip(counters, seeds)]
        overlaps.sort(key=lambda item: (-item[0][0], seeds.index(item[1])))
        (shared, lift), top_seed = overlaps[0]
        because = tuple(seed for (n, _), seed in overlaps if n > 0) or (top_seed,)
        if len(seeds) == 1:
            reason = co_listener_reason(shared, lift, dataset.title(top_seed))
        else:
            named = " and ".join(dataset.title(seed) for seed in because[:3])
            total = sum(n for (n, _), _ in overlaps)
            reason = (
                f"From {named}: {_plural(total, 'shared listener')}"
                if total else f"Close in taste to {dataset.title(top_seed)}; no shared listeners yet"
            )
        suggestions.append(_suggestion(dataset, index, score, reason, because))
    return suggestions


def explain_for_you(
    dataset: Dataset,
    picked: list[tuple[int, float]],
    history: Sequence[int],
    contributions: Callable[[Sequence[int], int], np.ndarray],
) -> list[Suggestion]:
    """Suggestions for a member's own history: each names the liked songs that led to it."""
    suggestions = []
    for index, score in picked:
        weights = np.asarray(contributions(history, index), dtype=np.float64)
        order = [i for i in np.argsort(-weights, kind="stable") if weights[i] > 0][:2] or [int(np.argmax(weights))]
        because = tuple(int(history[i]) for i in order)
        reason = "Because you liked " + " and ".join(dataset.title(i) for i in because)
        suggestions.append(_suggestion(dataset, index, score, reason, because))
    return suggestions


def _suggestion(dataset: Dataset, index: int, score: float, reason: str, because: tuple[int, ...]) -> Suggestion:
    return Suggestion(
        item_index=int(index),
        item_id=str(dataset.item_ids[index]),
        title=dataset.title(index),
        artist=dataset.artist(index),
        score=float(max(0.0, min(1.0, score))),
        reason=reason,
        because_of=tuple(int(i) for i in because),
    )


def popularity_ranking(dataset: Dataset, n: int, exclude: Iterable[int] = ()) -> np.ndarray:
    """The most-listened items: the baseline every evaluation prints beside the model."""
    listeners = dataset.listeners.astype(np.float64).copy()
    excluded = np.fromiter(exclude, dtype=np.int64)
    listeners[excluded] = -1
    top = np.argpartition(-listeners, min(n, len(listeners) - 1))[:n]
    return top[np.argsort(-listeners[top], kind="stable")]
