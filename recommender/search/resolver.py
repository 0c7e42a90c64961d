"""TitleResolver: find the song a person means, in a catalog of a million titles.

People type "hey ya", "Hey Ya!", "hye ya", "heya outkast", "Crazy in Love (feat. Jay-Z)",
"Beyonce - Halo". Every title and query goes through :mod:`recommender.text`, so case,
accents, punctuation, a leading "the" and version extras stop mattering. A query then
costs a few hundred string comparisons, never a scan of the catalog:

1. candidate generation, over unique normalized titles (:class:`~recommender.search.strings.StringIndex`):
   an exact look-up and a prefix range (both by bisection of a sorted list), and a
   character-trigram inverted index (numpy CSR: trigram -> title ids, ids ordered by title
   length, so "about this long" is one id range) that counts, within a bounded budget of
   postings, which titles share the query's rarest trigrams (partial queries and queries
   with extra words get a smaller pool of much longer or shorter titles);
2. rescoring of those candidates (:func:`~recommender.search.scoring.match_scores`: OSA edit
   similarity, sorted words, prefix and containment), blended with artist agreement when
   an artist was given or found inside the query ("OutKast - Hey Ya", "hey ya outkast");
   each way of reading the query ("the whole query is a title", "<artist> - <title>", "hey ya
   live" without "live") is scored, and each song keeps its best reading;
3. versions of one song (:class:`~recommender.versions.VersionGroups`) collapse to one
   candidate, shown as its most listened version, and equal matches are ordered by listeners,
   so the original beats a cover few people played.

``confident`` (:class:`~recommender.search.scoring.ConfidenceRule`) is True only when the best
match is within the typing slips its title's length allows ("let it go" is two slips from "let
it be": too many for nine letters) and no other song is as close; otherwise the candidates are
a "did you mean ...?" list (``close_call`` when they match about equally well, as several songs
called "Hello" do), or empty when nothing matched. A query that names an artist alone ("Adele",
"the beatles") comes back with ``kind`` "artist" and the artist's most listened songs. The
rule is calibrated on damaged catalog titles and on titles held out of the index
(``bench/resolver_confidence.py``).

The index itself (:class:`~recommender.search.index.TitleIndex`, which a TitleResolver is) is
built once per dataset (about 10 s for a million titles) and saved beside it
(:mod:`recommender.search.cache`), which later starts load, memory-mapped, in a fraction of a
second.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from recommender.results import Candidate, Resolution
from recommender.search.index import TitleIndex
from recommender.search.scoring import (
    ARTIST_AGREES,
    ARTIST_SHARE,
    DASH_CORE_PENALTY,
    EMBEDDED_ARTIST_PENALTY,
    FEATURED_BONUS,
    MIN_SCORE,
    MISTYPED_THE_PENALTY,
    NO_ITEMS,
    POPULARITY_WEIGHT,
    RIVALS,
    TYPED_VERSION_WORDS,
    VERSION_TAIL_PENALTY,
    ConfidenceRule,
    MatchEvidence,
    ScoredItems,
    best_per_item,
    match_scores,
    typed_edits,
)
from recommender.search.strings import sorted_distinct
from recommender.text import (
    MAX_CATALOG_CHARS,
    MAX_QUERY_CHARS,
    TitleParts,
    dash_parts,
    drop_leading_the,
    fold,
    parse_artist,
    parse_title,
    shorten,
    song_label,
    strip_invisible,
)

# -- work bounds (each query costs at most about this much) ------------------------------------
MAX_RESULTS = 50  # candidates a resolve may return
MAX_CHOICES = 25  # Discord's limit on autocomplete choices and select options
MAX_LABEL = 100  # Discord's limit on a choice label
MAX_ARTIST_TOKENS = 4  # longest artist name looked for inside a query, in words
MAX_EMBEDDED = 4  # artist readings of one query ("<artist> <title>", "<title> <artist>")
MAX_FEATURED = 3  # featured artists of a query checked against credits
# A query word that ends artist names ("lennon") agrees this much with those artists' songs.
SURNAME_AGREEMENT = 90.0
# Below this match score, a title is too far even for a "no song matches; closest: ..." list.
CLOSEST_FLOOR = 35.0

# (rank score, match score 0-100, item shown), best first: what the ranking of one query gives.
Ranked = list[tuple[float, float, int]]
# One way the query was read, for the confidence rule: (title text, the typing slips that
# reading stands for, the artist ids it names or None).
Reading = tuple[str, int, np.ndarray | None]


@dataclass(frozen=True)
class _Query:
    """A typed title (and artist) read once: what every reading of the query starts from."""

    text: str  # the query on one line
    artist_text: str  # the typed artist on one line, "" when none was given
    parts: TitleParts
    folded_artist: str  # the typed artist's primary name, folded
    dashed: bool  # "Beyonce - Halo" may be artist - title ("Hey Ya - Live" is only a version)
    version_tail: str  # "hey ya live": "live", version words typed after the title

    @classmethod
    def read(cls, title: object, artist: object, partial: bool) -> _Query:
        text = " ".join(strip_invisible(title, MAX_QUERY_CHARS).split())
        artist_text = " ".join(strip_invisible(artist, MAX_QUERY_CHARS).split()) if artist is not None else ""
        parts = parse_title(text)
        return cls(
            text=text,
            artist_text=artist_text,
            parts=parts,
            folded_artist=parse_artist(artist_text).primary if artist_text else "",
            dashed=bool(dash_parts(text)[1:]) and not parts.is_version,
            version_tail="" if partial else _version_tail(parts.core),
        )

    @property
    def extras(self) -> tuple[str, ...]:
        """The version extras typed: bracketed or dashed, or a trailing "live"."""
        return self.parts.extras + ((self.version_tail,) if self.version_tail else ())


def _version_tail(core: str) -> str:
    """ "hey ya live" -> "live": version words typed after the title, without brackets."""
    words = core.split()
    tail = 0
    while tail < min(2, len(words) - 1) and words[-1 - tail] in TYPED_VERSION_WORDS:
        tail += 1
    return " ".join(words[len(words) - tail :]) if tail else ""


def _plain_texts(parts: TitleParts, dashed: bool, version_tail: str) -> list[tuple[str, float, int]]:
    """The whole query read as a title: (text, score penalty, typing slips it stands for)."""
    readings = [(parts.core, DASH_CORE_PENALTY if dashed else 0.0, 0)]
    if parts.full != parts.core:
        readings.append((parts.full, 0.0, 0))
    if version_tail:
        readings.append((parts.core[: -len(version_tail)].rstrip(), VERSION_TAIL_PENALTY, 0))
    first, _, rest = parts.core.partition(" ")
    if rest and first != "the" and OSA.distance(first, "the", score_cutoff=1) <= 1:
        readings.append((rest, MISTYPED_THE_PENALTY, 1))  # "teh scientist", "tyhe scientist"
    return readings


class TitleResolver(TitleIndex):
    """Finds the songs a typed title (and artist) may mean; read-only and thread-safe once built."""

    # -- readings of a query ------------------------------------------------------------------
    def _plain_reading(
        self, parts: TitleParts, dashed: bool, version_tail: str, floor: float, partial: bool
    ) -> ScoredItems:
        """The whole query as a title (and without a trailing "live" or "remix")."""
        scored = []
        for text, penalty, _ in _plain_texts(parts, dashed, version_tail):
            ids, scores = self._title_candidates(text, partial)
            scored.append(self._items_of_titles(ids, scores - penalty, floor))
        return best_per_item(scored)

    def _artist_reading(
        self,
        title: str,
        artist_ids: np.ndarray,
        artist_similarity: np.ndarray,
        penalty: float,
        floor: float,
        partial: bool,
    ) -> ScoredItems:
        """``title`` among the songs of the given artists."""
        if not title or not len(artist_ids):
            return NO_ITEMS
        items = self._items_of_artists(artist_ids)
        if not len(items):
            return NO_ITEMS
        title_scores = self._score_titles_of_items(title, items, partial)
        # Each item's agreement with the matched artist(s).
        credits_sim = dict(zip(artist_ids.tolist(), artist_similarity.tolist()))
        agreement = np.array([credits_sim.get(int(a), 0.0) for a in self.item_primary[items].tolist()])
        missing = agreement == 0
        if missing.any():  # credited as featured, not primary
            agreement[missing] = max(credits_sim.values())
        scores = (1 - ARTIST_SHARE) * title_scores + ARTIST_SHARE * agreement - penalty
        keep = title_scores >= floor
        return ScoredItems(items[keep], scores[keep])

    def _embedded_artists(self, query: str, parts: TitleParts) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """Readings "<artist> - <title>", "<title> - <artist>", "<title> by <artist>",
        "<title> <artist>", "<artist> <title>": (title, artist ids, artist similarity)."""
        readings: list[tuple[str, np.ndarray, np.ndarray]] = []
        dash = [piece for piece in dash_parts(query) if fold(piece)]
        if len(dash) >= 2:
            left, right = dash[0], " ".join(dash[1:])
            for title, artist in ((right, left), (left, right)):
                folded_artist = drop_leading_the(fold(artist))
                if folded_artist:
                    ids, similarity = self._artist_ids(folded_artist)
                    if len(ids):
                        readings.append((parse_title(title).core, ids, similarity))
            return readings[:MAX_EMBEDDED]
        words = parts.core.split()
        if len(words) < 2:
            return readings
        found: list[tuple[str, np.ndarray, np.ndarray]] = []
        for size in range(min(MAX_ARTIST_TOKENS, len(words) - 1), 0, -1):
            for artist_last in (True, False):
                artist_words, title_words = (
                    (words[-size:], words[:-size]) if artist_last else (words[:size], words[size:])
                )
                artist_id = self.artist_index.find(" ".join(artist_words))
                if artist_id >= 0:
                    ids, similarity = np.array([artist_id], dtype=np.int64), np.array([100.0])
                elif size == 1 and artist_words[0] in self._artists_by_surname:  # "imagine lennon"
                    ids = self._artists_by_surname[artist_words[0]]
                    similarity = np.full(len(ids), SURNAME_AGREEMENT)
                else:
                    continue
                # "hey ya by outkast", "yesterday the beatles", "outkast by ...": drop the joining word.
                if artist_last:
                    while len(title_words) > 1 and title_words[-1] in ("by", "the", "from", "of"):
                        title_words = title_words[:-1]
                elif title_words and title_words[0] == "by":
                    title_words = title_words[1:]
                title = drop_leading_the(" ".join(title_words))
                if title:
                    found.append((title, ids, similarity))
        readings.extend(found[:MAX_EMBEDDED])
        return readings

    # -- ranking ------------------------------------------------------------------------------
    def _ranked(
        self,
        title: object,
        artist: object = None,
        *,
        floor: float = MIN_SCORE,
        partial: bool = False,
        readings_out: list[Reading] | None = None,
    ) -> tuple[str, str | None, Ranked, bool]:
        """(query, artist, [(rank score, match score, item to show)], artist agreed).

        ``readings_out`` receives each way the query was read as (title text, typing slips
        that reading stands for, the artist ids it names or None), for the confidence rule.
        """
        query = _Query.read(title, artist, partial)
        shown_artist = query.artist_text or None
        if not query.parts.core:
            return query.text, shown_artist, [], True
        scored = best_per_item(self._readings(query, floor, partial, readings_out))
        scored, artist_agreed = self._agree_with_artists(query, scored)
        keep = scored.scores >= floor
        if not keep.any():
            return query.text, shown_artist, [], artist_agreed
        ranked = self._one_per_song(scored.items[keep], scored.scores[keep])
        if query.extras:  # only the songs that can be shown look among their versions
            ranked[:MAX_CHOICES] = [
                (rank, score, self._version_matching(item, query.extras)) for rank, score, item in ranked[:MAX_CHOICES]
            ]
        return query.text, shown_artist, ranked, artist_agreed

    def _readings(
        self, query: _Query, floor: float, partial: bool, readings_out: list[Reading] | None
    ) -> list[ScoredItems]:
        """The items each reading of the query finds, with their scores: the whole query as a
        title, and with a given artist its songs first, or else artists found inside the query."""
        parts = query.parts
        readings = [self._plain_reading(parts, query.dashed, query.version_tail, floor, partial)]
        if readings_out is not None:
            readings_out.extend(
                (text, slips, None) for text, _, slips in _plain_texts(parts, query.dashed, query.version_tail)
            )
        if query.folded_artist:
            # A given artist: its songs are read first, everything else must agree with it.
            ids, similarity = self._artist_ids(query.folded_artist)
            readings.append(self._artist_reading(parts.core, ids, similarity, 0.0, floor, partial))
            if parts.full != parts.core:
                readings.append(self._artist_reading(parts.full, ids, similarity, 0.0, floor, partial))
            return readings
        for reading_title, ids, similarity in self._embedded_artists(query.text, parts):
            if readings_out is not None:
                readings_out.append((reading_title, 0, ids))
            readings.append(
                self._artist_reading(reading_title, ids, similarity, EMBEDDED_ARTIST_PENALTY, floor, partial)
            )
        return readings

    def _agree_with_artists(self, query: _Query, scored: ScoredItems) -> tuple[ScoredItems, bool]:
        """Scores with the typed artist blended in (songs by that artist only, when there are
        any) and a bonus for songs crediting a featured artist typed in the title; and whether
        the typed artist agreed with any song (True when none was typed)."""
        items, scores = scored.items, scored.scores
        artist_agreed = True
        if query.folded_artist and len(items):
            agreement = self._artist_agreement(items, query.folded_artist)
            agrees = agreement >= ARTIST_AGREES
            # Plain-reading items get their artist blended in too (no-op for artist-reading items,
            # whose score already includes it: keep the larger).
            blended = (1 - ARTIST_SHARE) * scores + ARTIST_SHARE * agreement
            scores = np.where(agrees, np.maximum(scores, blended), blended)
            if agrees.any():
                items, scores = items[agrees], scores[agrees]  # the artist narrows
            else:
                artist_agreed = False
        if query.parts.featured and len(items):
            for name in list(dict.fromkeys(query.parts.featured))[:MAX_FEATURED]:
                agreement = self._artist_agreement(items, name)
                scores = np.where(agreement >= 90, np.minimum(100.0, scores + FEATURED_BONUS), scores)
        return ScoredItems(items, scores), artist_agreed

    def _one_per_song(self, items: np.ndarray, scores: np.ndarray) -> Ranked:
        """One candidate per song: its best score, shown as its most listened version, ranked
        by match plus popularity (ties: the lower item index)."""
        groups = self.versions.item_group[items]
        order = np.lexsort((-scores, groups))
        first = np.r_[True, groups[order][1:] != groups[order][:-1]]
        groups, scores = groups[order][first], scores[order][first]
        shown = self.versions.representatives[groups]
        rank_scores = scores + POPULARITY_WEIGHT * np.log10(1.0 + self.listeners[shown])
        order = np.lexsort((shown, -rank_scores))[: MAX_RESULTS * 4]
        return [(float(rank_scores[i]), float(min(100.0, scores[i])), int(shown[i])) for i in order.tolist()]

    def _version_matching(self, representative: int, extras: tuple[str, ...]) -> int:
        """The version of the song whose extras best match the typed ones ("live"), else
        the representative."""
        members = self.versions.members(self.versions.group_of(representative))[:50]
        if len(members) < 2:
            return representative
        wanted = " ".join(extras)
        best, best_score = representative, 70.0  # a weaker likeness is no reason to switch
        for item, (_, title, _) in zip(members.tolist(), self.display(members)):
            item_extras = " ".join(parse_title(title, MAX_CATALOG_CHARS).extras)
            score = fuzz.token_set_ratio(wanted, item_extras) if item_extras else 0.0
            if score > best_score:
                best, best_score = item, score
        return best

    # -- public API ---------------------------------------------------------------------------
    def resolve(self, title: object, artist: object = None, limit: int = 10, closest: int = 0) -> Resolution:
        """Rank the songs ``title`` (and ``artist``) may mean; never raises on odd input.

        Confident only when :class:`ConfidenceRule` takes the best match without asking. A
        query that names an artist rather than a title ("Adele", "the beatles") comes back
        with ``kind`` "artist" and that artist's most listened songs to pick from. When nothing
        matched, ``closest`` > 0 adds that many of the nearest titles (a wider second look).
        """
        resolution = self.resolve_with_evidence(title, artist, limit)[0]
        if closest > 0 and not resolution.found:
            resolution = replace(resolution, closest=self.closest_titles(title, closest))
        return resolution

    def resolve_with_evidence(
        self, title: object, artist: object = None, limit: int = 10, rule: ConfidenceRule | None = None
    ) -> tuple[Resolution, MatchEvidence | None]:
        """:meth:`resolve`, and the evidence about its best song match that ``rule`` (default:
        the module's knobs) judged; None when no song matched. The calibration bench sweeps
        rules over this evidence."""
        rule = rule or ConfidenceRule()
        limit = max(1, min(int(limit), MAX_RESULTS))
        readings: list[Reading] = []
        query, shown_artist, ranked, artist_agreed = self._ranked(title, artist, readings_out=readings)
        artist_matched = artist_agreed if shown_artist else None
        evidence = self._evidence(ranked, readings, artist_agreed) if ranked else None
        if not shown_artist and query:
            # "Adele": an artist, unless the typed text is also exactly a title.
            title_typed_exactly = evidence is not None and evidence.edits == 0 and rule.good_match(evidence)
            if not title_typed_exactly:
                named = self._named_artist(query, rule, fuzzy=not rule.confident(evidence))
                if named is not None:
                    return self._artist_resolution(query, *named, limit=limit), evidence
        if evidence is None:  # no song matched
            return Resolution(
                query=query, artist=shown_artist, candidates=[], confident=False, artist_matched=artist_matched
            ), None
        confident = rule.confident(evidence)
        close = [entry for entry in ranked if ranked[0][0] - entry[0] < rule.close_margin]
        keep = ranked[:limit] if confident else ranked[: max(limit, min(len(close), MAX_CHOICES))]
        candidates = self.candidates([item for _, _, item in keep], [score for _, score, _ in keep])
        return Resolution(
            query=query,
            artist=shown_artist,
            candidates=candidates,
            confident=confident,
            close_call=not confident and rule.good_match(evidence),
            artist_matched=artist_matched,
        ), evidence

    def _evidence(self, ranked: Ranked, readings: list[Reading], artist_agreed: bool) -> MatchEvidence:
        """What the confidence rule judges about the best of ``ranked``: its score, its lead,
        the fewest typing slips between a reading of the query and its title, and the fewest
        of the next RIVALS candidates."""
        _, score, item = ranked[0]
        margin = ranked[0][0] - ranked[1][0] if len(ranked) > 1 else math.inf
        edits, length = self._slips(item, readings)
        # Rivals have another title: between songs of one title (a cover), listeners decide.
        rival_edits = min(
            (
                self._slips(other, readings)[0]
                for _, _, other in ranked[1 : 1 + RIVALS]
                if self.item_core[other] != self.item_core[item]
            ),
            default=MAX_QUERY_CHARS,
        )
        return MatchEvidence(
            score=score, margin=margin, edits=edits, length=length, artist_agreed=artist_agreed, rival_edits=rival_edits
        )

    def _slips(self, item: int, readings: list[Reading]) -> tuple[int, int]:
        """(fewest typing slips between a reading of the query and the item's title, that
        title's length)."""
        parts = parse_title(self.titles[item].as_py() or "", MAX_CATALOG_CHARS)
        names = {name for name in (parts.core, parts.full) if name}
        credits: set[int] | None = None
        edits, length = MAX_QUERY_CHARS, len(parts.core)
        for text, slips, artist_ids in readings:
            if not text:
                continue
            if artist_ids is not None:  # "halo beyonce" reads "halo" only for Beyoncé's songs
                if credits is None:
                    credits = set(self.credit_artists[self.credit_indptr[item] : self.credit_indptr[item + 1]].tolist())
                if credits.isdisjoint(artist_ids.tolist()):
                    continue
            for name in names:
                found = slips + typed_edits(text, name)
                if found < edits or (found == edits and len(name) > length):
                    edits, length = found, len(name)
        return edits, length

    def _named_artist(self, query: str, rule: ConfidenceRule, fuzzy: bool) -> tuple[int, float] | None:
        """(artist id, match score) when the whole query names an artist with songs of their
        own: exactly, or (``fuzzy``) within the slips ``rule`` forgives for a name that long."""
        folded = drop_leading_the(fold(query))
        if not folded:
            return None
        index = self.artist_index
        exact = index.find(folded)
        if exact >= 0 and self.artist_display[exact]:
            return exact, 100.0
        if not fuzzy:
            return None
        best: tuple[int, float, int] | None = None  # (slips, -popularity, id)
        for artist_id in index.similar(folded).tolist():
            name = index.strings[artist_id]
            if not self.artist_display[artist_id]:
                continue
            slips = typed_edits(folded, name)
            if slips <= rule.allowed_edits(len(name)):
                key = (slips, -float(index.popularity[artist_id]), artist_id)
                best = key if best is None or key < best else best
        if best is None:
            return None
        return best[2], float(match_scores(folded, [index.strings[best[2]]])[0])

    def _artist_resolution(self, query: str, artist_id: int, score: float, limit: int) -> Resolution:
        """The artist's most listened songs (one per song, versions collapsed) to pick from."""
        items = self._items_of_artists(np.array([artist_id], dtype=np.int64))
        reps = self.versions.representatives[sorted_distinct(self.versions.item_group[items])]
        reps = reps[np.lexsort((reps, -self.listeners[reps]))][:limit]
        return Resolution(
            query=query,
            artist=None,
            candidates=self.candidates(reps.tolist(), [score] * len(reps)),
            confident=False,
            kind="artist",
            named_artist=self.artist_display[artist_id],
        )

    def closest_titles(self, query: object, limit: int = 5) -> list[str]:
        """Labels of the nearest titles, however weak, for a "no match" message."""
        limit = max(1, min(int(limit), MAX_CHOICES))
        _, _, ranked, _ = self._ranked(query, floor=CLOSEST_FLOOR)
        return [
            song_label(title, artist, MAX_LABEL)
            for _, title, artist in self.display([item for _, _, item in ranked[:limit]])
        ]

    def complete(self, partial: object, artist: object = None, limit: int = MAX_CHOICES) -> list[tuple[str, str]]:
        """Autocomplete choices (label, item id) for a half-typed title, best first.

        Titles starting with what was typed come first (by popularity), then fuzzy
        matches; versions collapse; labels are "Title — Artist" in <= 100 characters.
        """
        limit = max(1, min(int(limit), MAX_CHOICES))
        text = " ".join(strip_invisible(partial, MAX_QUERY_CHARS).split())
        artist_text = " ".join(strip_invisible(artist, MAX_QUERY_CHARS).split()) if artist is not None else ""
        if not parse_title(text).core:
            shown = self._popular_items(artist_text, limit)
        else:
            _, _, ranked, _ = self._ranked(text, artist_text or None, partial=True)
            shown = [item for _, _, item in ranked[:limit]]
        return [(song_label(title, artist, MAX_LABEL), item_id) for item_id, title, artist in self.display(shown)]

    def _popular_items(self, artist_text: str, limit: int) -> list[int]:
        folded = parse_artist(artist_text).primary if artist_text else ""
        if not folded:
            return [int(self.versions.representatives[g]) for g in self.popular_groups[:limit].tolist()]
        ids, _ = self._artist_ids(folded)
        items = self._items_of_artists(ids)
        groups = sorted_distinct(self.versions.item_group[items])
        reps = self.versions.representatives[groups]
        reps = reps[np.argsort(-self.listeners[reps], kind="stable")]
        return [int(i) for i in reps[:limit].tolist()]

    def complete_artist(self, partial: object, limit: int = MAX_CHOICES) -> list[str]:
        """Artist names for the artist option's autocomplete, best match then most listened."""
        limit = max(1, min(int(limit), MAX_CHOICES))
        index = self.artist_index
        folded = drop_leading_the(fold(strip_invisible(partial, MAX_QUERY_CHARS)))
        if not folded:
            ids = index.prefixed("", limit * 4)  # some are featured-only names, not shown
            scores = np.full(len(ids), 100.0)
        else:
            ids = sorted_distinct(np.r_[index.prefixed(folded, limit * 2), index.similar(folded)])
            scores = match_scores(folded, [index.strings[i] for i in ids.tolist()], partial=True)
        keep = scores >= MIN_SCORE
        ids, scores = ids[keep], scores[keep]
        rank = scores + POPULARITY_WEIGHT * np.log10(1.0 + index.popularity[ids])
        names: list[str] = []
        for i in ids[np.argsort(-rank, kind="stable")].tolist():
            name = self.artist_display[i]
            if name and name not in names:  # featured-only names have no display spelling
                names.append(shorten(" ".join(name.split()), MAX_LABEL))
            if len(names) >= limit:
                break
        return names


def candidate_to_dict(candidate: Candidate) -> dict[str, object]:
    """A candidate as plain JSON-ready values."""
    return {
        "item_id": candidate.item_id,
        "title": candidate.title,
        "artist": candidate.artist,
        "score": round(float(candidate.score), 1),
        "listeners": int(candidate.listeners),
    }


def resolution_to_dict(resolution: Resolution) -> dict[str, object]:
    """A resolution as plain JSON-ready values: query, artist, confident, close_call, kind
    ("song", or "artist" with artist_name: the query named an artist), candidates."""
    result: dict[str, object] = {
        "query": resolution.query,
        "artist": resolution.artist,
        "confident": resolution.confident,
        "close_call": resolution.close_call,
        "kind": resolution.kind,
    }
    if resolution.kind == "artist":
        result["artist_name"] = resolution.named_artist
    result["candidates"] = [candidate_to_dict(c) for c in resolution.candidates]
    return result


def resolve_batch(resolver: TitleResolver, lines: Iterable[str]) -> Iterator[dict[str, object]]:
    """Resolve one query per line (``title`` or ``title<TAB>artist``); blank lines are skipped.

    Each result is :func:`resolution_to_dict` of it.
    """
    for line in lines:
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        title, _, artist = line.partition("\t")
        yield resolution_to_dict(resolver.resolve(title, artist=artist.strip() or None))
