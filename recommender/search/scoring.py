"""Match scoring: how well a typed title fits a catalog title, and when the best fit is
taken without asking.

:func:`match_scores` rescores the string index's candidates (rapidfuzz OSA edit similarity,
sorted words, prefix and containment, through ``process.cdist`` with ``processor=None`` on
pre-normalized strings); :func:`typed_edits` counts the typing slips between two strings;
:class:`ConfidenceRule` judges the :class:`MatchEvidence` about the best candidate. The
knobs here set the ranking (popularity, artist share, penalties of each reading of a query)
and the confidence rule, calibrated by ``bench/resolver_confidence.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from recommender.text import MAX_QUERY_CHARS

# -- ranking knobs ---------------------------------------------------------------------------
# Below this match score (0-100) a title is not offered as a match at all.
MIN_SCORE = 60.0
# -- when a match is taken without asking (calibrated: bench/resolver_confidence.py) -----------
# The best match is taken without asking only when all of these hold; otherwise the person is
# asked "did you mean ...?". Chosen on generated queries: damaged forms of catalog titles and
# titles held out of the index (see ConfidenceRule and the README's resolver table).
# The values are the first rule `python -m bench.resolver_confidence --titles 1000000
# --queries 4000 --calibrate` lists (README, "Finding the song you mean").
# Below this match score the best match is shown but not taken without asking.
MIN_CONFIDENT_SCORE = 70.0
# Typing slips (edits: a wrong, missing, extra or swapped letter; swapped words count one)
# forgiven between what was typed and the title: none in titles shorter than ONE_EDIT_FROM
# characters, one from there, two from TWO_EDITS_FROM characters on ("let it go" is two
# slips from the 9-letter "let it be", "stay" seven from "stayin alive": both are asked about).
ONE_EDIT_FROM = 3
TWO_EDITS_FROM = 10
# Ranking adds POPULARITY_WEIGHT points per tenfold listeners, so between equal matches the
# song more people played wins, and a one-character typo still loses to an exact title.
POPULARITY_WEIGHT = 2.0
# Candidates within this many ranking points of the best are "close": the person picks.
CLOSE_MARGIN = 2.0
# When an artist was given or found, the match is this share title, the rest artist.
ARTIST_SHARE = 0.2
# An artist found inside the query is a guess: it never quite beats an exact full title.
EMBEDDED_ARTIST_PENALTY = 1.0
# "Beyonce - Halo": the part before the dash alone is probably not the title.
DASH_CORE_PENALTY = 3.0
# "teh scientist": read as "the scientist" (whose "the" is dropped) at this cost.
MISTYPED_THE_PENALTY = 2.0
# "hey ya live": the title without the typed version words, scored this much less.
VERSION_TAIL_PENALTY = 2.0
TYPED_VERSION_WORDS = frozenset(
    "live remix acoustic remastered remaster demo instrumental edit version unplugged mix mono stereo".split()
)
# Candidates after the best whose typing slips are compared with the best's.
RIVALS = 4
# A given artist "agrees" with a song's credits from this similarity on.
ARTIST_AGREES = 80.0
# A featured artist in the query ("(feat. Jay-Z)") that the song credits adds this much.
FEATURED_BONUS = 3.0


# -- match score --------------------------------------------------------------------------------
# Swapped words ("spirit teen smells like") score their sorted-word similarity less this.
SWAP_PENALTY = 4.0
# Compared without spaces, a match scores this much less than the same match with them.
SPACE_PENALTY = 3.0
# A title that starts with the query ("smells like te"): PREFIX_BASE + PREFIX_SPAN * share typed.
PREFIX_BASE, PREFIX_SPAN = 85.0, 10.0
# Whole words of one inside the other ("hey ya outkats" holds "hey ya"): CONTAINED_BASE +
# CONTAINED_SPAN * share of the longer string covered.
CONTAINED_BASE, CONTAINED_SPAN = 62.0, 25.0
MIN_AFFIX_CHARS = 4  # shorter queries are too common as prefixes to mean anything
# While typing, a typo in what was typed so far against a title's start costs this much.
TYPED_SO_FAR_PENALTY = 2.0


def match_scores(query: str, strings: Sequence[str], partial: bool = False) -> np.ndarray:
    """0-100 similarity of a normalized query to each normalized string.

    The best of: edit similarity with transpositions (rapidfuzz OSA: "hye ya" is one edit
    from "hey ya"), the same without spaces, the same on sorted words (swapped words),
    "starts with what was typed" and whole-word containment either way. Unlike WRatio it
    never gives a one-word title 90 for appearing somewhere in a long query. ``partial``
    (autocomplete) also forgives a typo in what was typed so far.
    """
    if not len(strings):
        return np.zeros(0, dtype=np.float64)
    scores = _similarities(query, strings, OSA.normalized_similarity) * 100.0
    if " " in query or any(" " in string for string in strings):
        # Missing or extra spaces ("heya" for "hey ya") cost less than wrong letters.
        despaced = [string.replace(" ", "") for string in strings]
        despaced_scores = _similarities(query.replace(" ", ""), despaced, OSA.normalized_similarity) * 100.0
        np.maximum(scores, despaced_scores - SPACE_PENALTY, out=scores)
    if " " in query:
        swapped = _similarities(query, strings, fuzz.token_sort_ratio) - SWAP_PENALTY
        np.maximum(scores, swapped, out=scores)
    if partial:
        _raise_to_typed_so_far(scores, query, strings)
    if partial or len(query) >= MIN_AFFIX_CHARS:
        _raise_to_affixes(scores, query, strings, partial)
    return scores


def _similarities(query: str, strings: Sequence[str], scorer: Callable[..., float]) -> np.ndarray:
    """``scorer`` of the query against each string, on the pre-normalized strings as they are."""
    return process.cdist([query], strings, scorer=scorer, processor=None, dtype=np.float32)[0].astype(np.float64)


def _raise_to_typed_so_far(scores: np.ndarray, query: str, strings: Sequence[str]) -> None:
    """While typing: what was typed so far against each title's start, one character either way."""
    for cut in (len(query) - 1, len(query), len(query) + 1):
        if cut >= MIN_AFFIX_CHARS:
            heads = [string[:cut] for string in strings]
            typed = _similarities(query, heads, OSA.normalized_similarity) * 100.0 - TYPED_SO_FAR_PENALTY
            np.maximum(scores, typed, out=scores)


def _raise_to_affixes(scores: np.ndarray, query: str, strings: Sequence[str], partial: bool) -> None:
    """A title starting with the query (while typing: a full match), or whole words of one
    inside the other, score at least their bonus."""
    spaced = f" {query} "
    affixes = len(query) >= MIN_AFFIX_CHARS
    for position, string in enumerate(strings):
        if string.startswith(query):
            bonus = 100.0 if partial else PREFIX_BASE + PREFIX_SPAN * len(query) / len(string)
        elif affixes and len(string) >= MIN_AFFIX_CHARS and (f" {string} " in spaced or spaced in f" {string} "):
            longer = max(len(string), len(query))
            bonus = CONTAINED_BASE + CONTAINED_SPAN * min(len(string), len(query)) / longer
        else:
            continue
        if bonus > scores[position]:
            scores[position] = bonus


def typed_edits(typed: str, title: str) -> int:
    """Typing slips between two normalized strings: optimal string alignment distance (a
    transposition is one slip) with spaces not counted ("heya" for "hey ya" is one slip), or
    one slip for putting the words in another order plus those left after sorting the words
    ("spirit teen smells like")."""
    edits = OSA.distance(typed, title)
    if edits and (" " in typed or " " in title):
        edits = min(edits, OSA.distance(typed.replace(" ", ""), title.replace(" ", "")))
        if edits > 1 and " " in typed and " " in title:
            edits = min(edits, 1 + OSA.distance(" ".join(sorted(typed.split())), " ".join(sorted(title.split()))))
    return edits


@dataclass(frozen=True)
class MatchEvidence:
    """How well the best candidate fits what was typed: what the confidence rule judges."""

    score: float  # its match score, 0-100
    margin: float  # ranking points ahead of the next candidate (inf when it is alone)
    edits: int  # typing slips between the typed title (best reading) and its title
    length: int  # characters of that (normalized) title
    artist_agreed: bool  # a typed artist matches its credits (True when none was typed)
    # The fewest slips of the next RIVALS candidates with another title ("hey yo": "Hey You"
    # and "Hey Ya!" are both one slip away); MAX_QUERY_CHARS when there is none.
    rival_edits: int = MAX_QUERY_CHARS


@dataclass(frozen=True)
class ConfidenceRule:
    """When the best candidate is taken without asking. The defaults are the module's knobs,
    calibrated by ``bench/resolver_confidence.py``; the bench sweeps other rules through this."""

    min_score: float = MIN_CONFIDENT_SCORE
    close_margin: float = CLOSE_MARGIN
    one_edit_from: int = ONE_EDIT_FROM
    two_edits_from: int = TWO_EDITS_FROM

    def allowed_edits(self, length: int) -> int:
        return 0 if length < self.one_edit_from else 1 if length < self.two_edits_from else 2

    def good_match(self, evidence: MatchEvidence) -> bool:
        """The best candidate itself is close enough to what was typed to be meant."""
        return (
            evidence.artist_agreed
            and evidence.score >= self.min_score
            and evidence.edits <= self.allowed_edits(evidence.length)
        )

    def confident(self, evidence: MatchEvidence | None) -> bool:
        """A good match that no other candidate comes close to: ahead by ``close_margin``
        ranking points and, when what was typed has slips, no other song as few slips away
        (between exact titles, the most listened wins by the margin)."""
        return (
            evidence is not None
            and self.good_match(evidence)
            and evidence.margin >= self.close_margin
            and not (evidence.edits and evidence.rival_edits <= evidence.edits)
        )


@dataclass(frozen=True)
class ScoredItems:
    """Match scores of candidate items (catalog rows): parallel arrays."""

    items: np.ndarray
    scores: np.ndarray


NO_ITEMS = ScoredItems(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


def best_per_item(parts: Iterable[ScoredItems]) -> ScoredItems:
    """One score per item: the best of all readings of the query."""
    parts = [p for p in parts if len(p.items)]
    if not parts:
        return NO_ITEMS
    items = np.concatenate([p.items for p in parts])
    scores = np.concatenate([p.scores for p in parts])
    order = np.lexsort((-scores, items))
    items, scores = items[order], scores[order]
    first = np.r_[True, items[1:] != items[:-1]]
    return ScoredItems(items[first], scores[first])
