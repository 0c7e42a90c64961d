"""When does the title resolver take a match without asking? Measured, and calibrated.

Two kinds of generated queries, typed with the same damage (bench.resolver_bench.make_queries:
case, punctuation, a dropped "the", one or two typos, swapped words, the artist in the query,
"(feat. ...)" added or removed):

- **catalog** queries: damaged forms of titles in the index. They should come back confident
  and right;
- **held-out** queries: real-looking titles that are *not* in the index: every song with that
  normalized title is left out of the index the queries run against (on the demo, five folds
  hold out each title once; on a generated catalog, one split). None may come back confident:
  the person must be asked "did you mean ...?".

Targets (issue 12): at least 99 % of confident answers right, at most 5 % of held-out queries
confident, on the demo catalog and on a generated catalog of 1 M titles. :func:`rates` measures
a set of outcomes as the resolver answered them; :func:`calibrate` sweeps
:class:`recommender.search.scoring.ConfidenceRule` over the evidence the resolver recorded for each
query and lists the rules that meet the targets on every catalog, most confident answers first
(the resolver's knobs, MIN_CONFIDENT_SCORE, CLOSE_MARGIN, ONE_EDIT_FROM and TWO_EDITS_FROM,
are set from that list by hand, then measured again as resolved).

    .venv/bin/python -m bench.resolver_confidence                          # demo, as resolved
    .venv/bin/python -m bench.resolver_confidence --titles 1000000 --calibrate   # + 1 M, sweep
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.resolver_bench import ACCURACY_KINDS, Catalog, generate_catalog, make_queries
from recommender.search.resolver import TitleResolver
from recommender.search.scoring import ConfidenceRule, MatchEvidence
from recommender.text import parse_title

TARGET_CONFIDENT_RIGHT = 0.99  # share of confident answers that are the song meant
TARGET_HELD_OUT_CONFIDENT = 0.05  # share of held-out titles answered confidently
# Typed against the whole demo catalog, these were answered confidently with a far match
# (Everlong, Let It Be, Stayin' Alive): a rule must ask about every one of them.
MUST_ASK_ON_DEMO = ("everyone", "Let it go", "Stay", "@everyone")

# The rules calibrate() tries: every combination.
GRID = {
    "min_score": (70.0, 75.0, 80.0, 85.0, 90.0),
    "close_margin": (1.0, 2.0, 3.0, 4.0, 6.0),
    "one_edit_from": (3, 4, 5, 6, 7, 8, 9, 10),
    "two_edits_from": (8, 10, 11, 12, 13, 14, 16, 18, 20, 25, 1000),
}


@dataclass(frozen=True)
class ScoreMarginRule(ConfidenceRule):
    """The rule before calibration, to measure beside it: a match score of at least 75, two
    ranking points ahead of the next candidate, the typed artist agreeing; any number of
    typing slips, and no artist answers (those queries count as unsure here)."""

    min_score: float = 75.0
    close_margin: float = 2.0

    def good_match(self, evidence: MatchEvidence) -> bool:
        return evidence.artist_agreed and evidence.score >= self.min_score

    def confident(self, evidence: MatchEvidence | None) -> bool:
        return evidence is not None and self.good_match(evidence) and evidence.margin >= self.close_margin


@dataclass(frozen=True)
class Outcome:
    """One query as the resolver answered it."""

    population: str  # "catalog" or "held_out"
    kind: str  # the damage (resolver_bench.KINDS)
    query: str
    right: bool  # the best candidate is a version of the song the query was made from
    confident: bool  # as resolved, with the resolver's own rule
    named_artist: bool  # answered as an artist ("kind": "artist"): never confident
    evidence: MatchEvidence | None  # about the best song match; None when nothing matched


def resolve_outcomes(
    resolver: TitleResolver, queries: Iterable[dict], songs: np.ndarray, population: str
) -> list[Outcome]:
    """Resolve each query (resolver_bench.make_queries form) against ``resolver``; ``songs``
    gives the song of each item of the index (for held-out queries nothing is right)."""
    outcomes = []
    for query in queries:
        if query["kind"] not in ACCURACY_KINDS:
            continue
        resolution, evidence = resolver.resolve_with_evidence(query["query"])
        best = resolution.best
        right = (
            population == "catalog"
            and best is not None
            and resolution.kind == "song"
            and int(songs[best.item_index]) == query["song"]
        )
        outcomes.append(
            Outcome(
                population,
                query["kind"],
                query["query"],
                right,
                resolution.confident,
                resolution.kind == "artist",
                evidence,
            )
        )
    return outcomes


def wilson(part: int, whole: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of the share part / whole (95 % by default), or None."""
    if not whole:
        return None
    share = part / whole
    center = (share + z * z / (2 * whole)) / (1 + z * z / whole)
    half = z * math.sqrt(share * (1 - share) / whole + z * z / (4 * whole * whole)) / (1 + z * z / whole)
    return max(0.0, center - half), min(1.0, center + half)


def rates(outcomes: Sequence[Outcome], rule: ConfidenceRule | None = None) -> dict:
    """The figures the targets are about, with the 95 % interval bound on the side of each
    target. With ``rule``, each query is judged again from its recorded evidence (what the
    sweep does); without, as the resolver answered it."""

    def confident(outcome: Outcome) -> bool:
        if rule is None:
            return outcome.confident
        return not outcome.named_artist and rule.confident(outcome.evidence)

    catalog = [(confident(o), o.right) for o in outcomes if o.population == "catalog"]
    held_out = [confident(o) for o in outcomes if o.population == "held_out"]
    confident_catalog = [right for is_confident, right in catalog if is_confident]
    right_bounds = wilson(sum(confident_catalog), len(confident_catalog))
    held_out_bounds = wilson(sum(held_out), len(held_out))
    return {
        "catalog_queries": len(catalog),
        # Of the confident answers to damaged catalog titles, the share that are the song meant.
        "confident_right": _share(sum(confident_catalog), len(confident_catalog)),
        "confident_right_low": round(right_bounds[0], 4) if right_bounds else None,
        # Damaged catalog titles answered confidently (and right): how rarely people are asked.
        "confident_share": _share(len(confident_catalog), len(catalog)),
        "right_and_confident_share": _share(sum(confident_catalog), len(catalog)),
        "held_out_queries": len(held_out),
        "held_out_confident": _share(sum(held_out), len(held_out)),
        "held_out_confident_high": round(held_out_bounds[1], 4) if held_out_bounds else None,
    }


def meets_targets(figures: dict, bounds: bool = False) -> bool:
    """Both targets met by the measured shares or, with ``bounds``, by the ends of their 95 %
    intervals (what the sweep asks, so that the chosen rule does not meet them by luck)."""
    right, held_out = (
        ("confident_right_low", "held_out_confident_high") if bounds else ("confident_right", "held_out_confident")
    )
    return (
        figures[right] is not None
        and figures[right] >= TARGET_CONFIDENT_RIGHT
        and figures[held_out] is not None
        and figures[held_out] <= TARGET_HELD_OUT_CONFIDENT
    )


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def calibrate(
    outcome_sets: dict[str, Sequence[Outcome]], grid: dict = GRID, must_ask: Sequence[Outcome] = (), bounds: bool = True
) -> list[dict]:
    """Every rule of ``grid`` that meets the targets (with ``bounds``: at the ends of the 95 %
    intervals) on every set of outcomes and is not confident about any of ``must_ask``, best
    first: the most catalog queries answered confidently and right on the worst set, then the
    fewest held-out queries confident. Each entry: the rule's fields and its figures per set."""
    found = []
    names = list(grid)
    for values in itertools.product(*(grid[name] for name in names)):
        rule = ConfidenceRule(**dict(zip(names, values)))
        if rule.two_edits_from < rule.one_edit_from:
            continue
        if any(not o.named_artist and rule.confident(o.evidence) for o in must_ask):
            continue
        figures = {name: rates(outcomes, rule) for name, outcomes in outcome_sets.items()}
        if all(meets_targets(f, bounds) for f in figures.values()):
            found.append({"rule": asdict(rule), "figures": figures})
    found.sort(
        key=lambda entry: (
            -min(f["right_and_confident_share"] for f in entry["figures"].values()),
            max(f["held_out_confident"] for f in entry["figures"].values()),
        )
    )
    return found


# -- the held-out split ------------------------------------------------------------------------


def core_titles(titles: Iterable[str]) -> np.ndarray:
    """The normalized core title of each raw title: what "the same title" means here."""
    return np.array([parse_title(title).core for title in titles], dtype=object)


def split_world(items: pd.DataFrame, listeners: np.ndarray, held_cores: set) -> tuple[Catalog, Catalog, TitleResolver]:
    """(catalog kept in the index, catalog held out, the index of the kept one). ``items``
    has item_id, title, artist and song (the ground truth) columns."""
    held = np.array([core in held_cores for core in core_titles(items["title"])], dtype=bool)
    kept_items, held_items = items[~held].reset_index(drop=True), items[held].reset_index(drop=True)
    resolver = TitleResolver.from_columns(
        kept_items["item_id"], kept_items["title"], kept_items["artist"], listeners[~held]
    )
    return (
        Catalog(kept_items, np.asarray(listeners[~held]), 0),
        # A held-out song nobody played would never be a target; give each one listener.
        Catalog(held_items, np.maximum(np.asarray(listeners[held]), 1), 0),
        resolver,
    )


def demo_world(users: int = 2000, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """The shipped demo catalog (with its live and remix versions) and synthetic listeners:
    items with item_id, title, artist and song (the catalog row a version belongs to)."""
    from recommender.importers.demo import generate_demo, read_catalog

    data = generate_demo(read_catalog(), users=users, seed=seed)
    listeners = np.asarray((data.interactions > 0).sum(axis=0)).ravel().astype(np.int64)
    song = np.where(data.version_of >= 0, data.version_of, np.arange(len(data.items)))
    items = data.items[["item_id", "title", "artist"]].assign(song=song.astype(np.int64))
    return items, listeners


def folds_outcomes(
    items: pd.DataFrame, listeners: np.ndarray, *, folds: int = 5, queries_per_fold: int = 400, seed: int = 1
) -> list[Outcome]:
    """Cross-validated on a small catalog: the normalized titles fall in ``folds`` groups;
    each fold's index leaves one group out, gets damaged forms of its own titles (catalog)
    and of the left-out ones (held out). Targets are drawn by the square root of listeners,
    so the long tail is asked for too."""
    cores = core_titles(items["title"])
    distinct = sorted(set(cores.tolist()))
    fold_of = dict(zip(distinct, np.random.default_rng(seed).permutation(len(distinct)) % folds))
    outcomes: list[Outcome] = []
    for fold in range(folds):
        held_cores = {core for core in distinct if fold_of[core] == fold}
        kept, held, resolver = split_world(items, listeners, held_cores)
        songs = kept.items["song"].to_numpy()
        outcomes += resolve_outcomes(
            resolver, make_queries(kept, None, queries_per_fold, seed + fold, "sqrt"), songs, "catalog"
        )
        outcomes += resolve_outcomes(
            resolver, make_queries(held, None, queries_per_fold, seed + 100 + fold, "sqrt"), songs, "held_out"
        )
    return outcomes


def held_out_cores(items: pd.DataFrame, listeners: np.ndarray, count: int, seed: int) -> set:
    """``count`` normalized titles of songs someone played, drawn uniformly: the titles to
    hold out of a large catalog's index."""
    cores = core_titles(items["title"])
    played = sorted(set(cores[listeners > 0].tolist()))
    picks = np.random.default_rng(seed + 13).choice(len(played), size=min(count, len(played) // 10), replace=False)
    return {played[i] for i in picks.tolist()}


def held_out_outcomes(catalog: Catalog, n_queries: int, seed: int, held_titles: int = 2000) -> list[Outcome]:
    """Held-out queries on a large generated catalog: ``held_titles`` titles left out of a
    second index, typed ``n_queries`` times. Targets are drawn by the square root of
    listeners (as on the demo): how often people ask for a song the catalog lacks has
    nothing to do with its listeners here, and drawing by listeners would type a few
    popular held-out titles over and over."""
    held_cores = held_out_cores(catalog.items, catalog.listeners, held_titles, seed)
    kept, held, resolver = split_world(catalog.items, catalog.listeners, held_cores)
    return resolve_outcomes(
        resolver, make_queries(held, None, n_queries, seed + 100, "sqrt"), kept.items["song"].to_numpy(), "held_out"
    )


def generated_outcomes(n_titles: int, n_queries: int, seed: int) -> list[Outcome]:
    """Both populations on a generated catalog of ``n_titles``: catalog queries against the
    full index (as resolver_bench measures accuracy), held-out ones against the index
    without their titles."""
    catalog = generate_catalog(n_titles, seed)
    resolver = TitleResolver.from_columns(
        catalog.items["item_id"], catalog.items["title"], catalog.items["artist"], catalog.listeners
    )
    outcomes = resolve_outcomes(
        resolver, make_queries(catalog, resolver, n_queries, seed), catalog.items["song"].to_numpy(), "catalog"
    )
    del resolver
    return outcomes + held_out_outcomes(catalog, n_queries, seed)


def must_ask_outcomes(
    items: pd.DataFrame, listeners: np.ndarray, queries: Sequence[str] = MUST_ASK_ON_DEMO
) -> list[Outcome]:
    """``queries`` against the index of the whole catalog: none is a title in it."""
    resolver = TitleResolver.from_columns(items["item_id"], items["title"], items["artist"], listeners)
    outcomes = []
    for query in queries:
        resolution, evidence = resolver.resolve_with_evidence(query)
        outcomes.append(
            Outcome("must_ask", "exact", query, False, resolution.confident, resolution.kind == "artist", evidence)
        )
    return outcomes


def save_outcomes(path: Path, sets: dict[str, list[Outcome]], must_ask: Sequence[Outcome]) -> None:
    """Every outcome as one JSON line, so rules can be swept again without resolving again."""
    with path.open("w", encoding="utf-8") as out:
        for name, outcomes in [*sets.items(), ("must_ask", must_ask)]:
            for o in outcomes:
                record = {**asdict(o), "set": name}
                if o.evidence is not None and math.isinf(o.evidence.margin):
                    record["evidence"]["margin"] = None
                out.write(json.dumps(record, ensure_ascii=False) + "\n")


def load_outcomes(path: Path) -> tuple[dict[str, list[Outcome]], list[Outcome]]:
    """What :func:`save_outcomes` wrote: (outcome sets, must-ask outcomes)."""
    sets: dict[str, list[Outcome]] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            name = record.pop("set")
            evidence = record.pop("evidence")
            if evidence is not None:
                evidence["margin"] = math.inf if evidence["margin"] is None else evidence["margin"]
                evidence = MatchEvidence(**evidence)
            sets.setdefault(name, []).append(Outcome(**record, evidence=evidence))
    return sets, sets.pop("must_ask", [])


def _evidence_dict(evidence: MatchEvidence | None) -> dict | None:
    if evidence is None:
        return None
    figures = asdict(evidence)
    figures["margin"] = None if figures["margin"] == float("inf") else round(figures["margin"], 2)
    figures["score"] = round(figures["score"], 1)
    return figures


def _by_kind(outcomes: Sequence[Outcome]) -> dict:
    return {
        kind: rates([o for o in outcomes if o.kind == kind])
        for kind in ACCURACY_KINDS
        if any(o.kind == kind for o in outcomes)
    }


def _examples(outcomes: Sequence[Outcome], limit: int = 8) -> dict:
    """Some queries that miss a target, to read."""
    wrong = [o.query for o in outcomes if o.population == "catalog" and o.confident and not o.right]
    held = [o.query for o in outcomes if o.population == "held_out" and o.confident]
    return {"confident_but_wrong": wrong[:limit], "held_out_but_confident": held[:limit]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.resolver_confidence", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--titles", type=int, default=0, help="also a generated catalog of this many titles (e.g. 1000000)"
    )
    parser.add_argument("--queries", type=int, default=1000, help="queries per population on the generated catalog")
    parser.add_argument("--demo-users", type=int, default=2000, help="synthetic listeners behind the demo catalog")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--queries-per-fold", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--calibrate", action="store_true", help="sweep ConfidenceRule over the grid too")
    parser.add_argument("--top", type=int, default=10, help="rules to list with --calibrate")
    parser.add_argument("--save", type=Path, help="write every outcome to this JSON-lines file")
    parser.add_argument(
        "--load",
        type=Path,
        help="sweep the outcomes of an earlier --save instead of resolving again "
        "(the as-resolved figures are then those of that run)",
    )
    args = parser.parse_args(argv)

    if args.load:
        sets, must_ask = load_outcomes(args.load)
    else:
        sets = {}
        started = time.perf_counter()
        items, listeners = demo_world(args.demo_users, args.seed)
        sets["demo"] = folds_outcomes(
            items, listeners, folds=args.folds, queries_per_fold=args.queries_per_fold, seed=args.seed
        )
        must_ask = must_ask_outcomes(items, listeners)
        print(f"demo: {len(sets['demo'])} queries in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        if args.titles:
            started = time.perf_counter()
            sets[f"generated {args.titles:,}"] = generated_outcomes(args.titles, args.queries, args.seed)
            print(f"generated: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    if args.save:
        save_outcomes(args.save, sets, must_ask)
    result: dict = {
        "rule": asdict(ConfidenceRule()),
        "targets": {"confident_right": TARGET_CONFIDENT_RIGHT, "held_out_confident": TARGET_HELD_OUT_CONFIDENT},
        "must_ask_on_demo": {
            o.query: {"confident": o.confident, "evidence": _evidence_dict(o.evidence)} for o in must_ask
        },
        "as_resolved": {
            name: {
                **rates(o),
                "meets_targets": meets_targets(rates(o)),
                "meets_targets_at_95_percent_bounds": meets_targets(rates(o), bounds=True),
                "by_kind": _by_kind(o),
                "examples": _examples(o),
            }
            for name, o in sets.items()
        },
        "before_calibration": {name: rates(o, ScoreMarginRule()) for name, o in sets.items()},
    }
    if args.calibrate:
        started = time.perf_counter()
        found = calibrate(sets, must_ask=must_ask)
        result["calibration"] = {
            "rules_meeting_targets": len(found),
            "best": found[: args.top],
            "seconds": round(time.perf_counter() - started, 1),
        }
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
