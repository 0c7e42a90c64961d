"""(e) the /soundalike compute path, with what its answers are worth, beside two anchors measured
in the same process: implicit's similar_items alone, and the original product's request."""

from __future__ import annotations

import pickle  # the anchor re-enacting the original product only; never in product code
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from bench.generate import TRUTH
from bench.steps.answering import RENDERER, ComputePath
from bench.steps.context import RSS_MB, Context, percentiles
from bench.steps.serving import as_typed, open_service, query_songs, steady, titles_and_listeners
from bench.steps.training import implicit_anchor_model
from recommender.dataset import Dataset


def compute(ctx: Context) -> dict:
    service = open_service()
    serving = steady(service)
    titles, listeners, dataset = titles_and_listeners(service)
    rng = ctx.rng(1)
    picked = query_songs(ctx, titles, listeners, ctx.queries, purpose=2)
    typed = [as_typed(titles[i], rng) for i in picked]
    path = ComputePath(service)
    genres = truth_genres(ctx, dataset.item_ids)

    path(typed[0])  # first call pays lazy set-up (norms, caches); the bot pays it at start
    path.stages = {"resolve": [], "similar": [], "render": []}
    tally = answer_all(path, dataset, genres, picked, typed)
    stages = {name: percentiles(seconds) for name, seconds in path.stages.items()}
    path.stages = None
    answered = max(1, len(tally.latencies))
    return {
        "ours": percentiles(tally.latencies),
        "stages": stages,
        "ours_blas_one_thread": percentiles(with_one_blas_thread(path, typed[:300])),
        "serving": serving,
        "render": RENDERER,
        "not_found": tally.not_found,
        "answered_with_message": tally.messages,
        # The seed is the song the title was typed from (or a same-title same-artist twin).
        "resolved_to_the_song_asked": round(tally.resolved_to_asked / answered, 4),
        "resolved_to_the_song_asked_unshared_titles": round(tally.unique_resolved / max(1, tally.unique_asked), 4),
        "queries_with_unshared_titles": tally.unique_asked,
        "genre_agreement": round(tally.same_genre / tally.suggested, 4) if tally.suggested else None,
        "genre_chance": genre_chance(genres),
        "implicit_similar_items": anchor_similar_items(ctx, dataset, picked, genres),
        "original_pickles": anchor_original(ctx, dataset, typed),
    }


@dataclass
class Tally:
    """What the timed answers came to: latencies, and whether each answer was the song asked."""

    latencies: list[float] = field(default_factory=list)
    not_found: int = 0
    messages: dict[str, int] = field(default_factory=dict)  # SoundalikeError name -> count
    resolved_to_asked: int = 0
    unique_asked: int = 0  # queries whose title no other artist shares
    unique_resolved: int = 0
    suggested: int = 0
    same_genre: int = 0


def answer_all(
    path: ComputePath, dataset: Dataset, genres: np.ndarray, picked: np.ndarray, typed: list[str], budget_s: float = 120
) -> Tally:
    """Each typed title through the path, timed (within ``budget_s``), each answer judged."""
    tally = Tally()
    ambiguous = shared_titles(dataset)
    deadline = time.perf_counter() + budget_s
    for asked, title in zip(picked.tolist(), typed):
        started = time.perf_counter()
        answer = path(title)
        tally.latencies.append(time.perf_counter() - started)
        if answer is None:
            tally.not_found += 1
        elif isinstance(answer, Exception):
            tally.messages[type(answer).__name__] = tally.messages.get(type(answer).__name__, 0) + 1
        else:
            seed = answer.seeds[0].item_index
            hit = int(
                seed == asked
                or (dataset.title(seed), dataset.artist(seed)) == (dataset.title(asked), dataset.artist(asked))
            )
            tally.resolved_to_asked += hit
            if dataset.title(asked).casefold() not in ambiguous:
                tally.unique_asked += 1
                tally.unique_resolved += hit
            seed_genre = genres[answer.seeds[0].item_index]
            for suggestion in answer.suggestions:
                tally.suggested += 1
                tally.same_genre += int(genres[suggestion.item_index] == seed_genre)
        if time.perf_counter() > deadline:
            break
    return tally


def shared_titles(dataset: Dataset) -> set[str]:
    """Titles (case-folded) several artists share ("Home", covers): ambiguous without the artist."""
    folded = dataset.items["title"].astype(str).str.casefold()
    artists_per_title = dataset.items.groupby(folded)["artist"].nunique()
    return set(artists_per_title.index[artists_per_title > 1])


def with_one_blas_thread(path: ComputePath, typed: list[str]) -> list[float]:
    """Diagnostic: the same path with BLAS held to one thread (a matrix-vector product per request
    gains nothing from BLAS threads, and on 2 busy cores they can cost more than the product)."""
    seconds = []
    with threadpool_limits(1, "blas"):
        for title in typed:
            started = time.perf_counter()
            path(title)
            seconds.append(time.perf_counter() - started)
    return seconds


def truth_genres(ctx: Context, item_ids) -> np.ndarray:
    """Planted genre of each item id (-1 where the generator did not make it)."""
    with np.load(ctx.msd / TRUTH, allow_pickle=False) as truth:
        ids = truth["song_ids"].astype(str)
        genre = truth["genre"]
    lookup = dict(zip(ids.tolist(), genre.tolist()))
    return np.array([lookup.get(str(i), -1) for i in item_ids], dtype=np.int64)


def genre_chance(genres: np.ndarray) -> float:
    """Share of suggestions in the seed's genre if suggestions were drawn at random."""
    known = genres[genres >= 0]
    shares = np.bincount(known) / max(1, len(known))
    return round(float(np.sum(shares**2)), 4)


def anchor_similar_items(ctx: Context, dataset: Dataset, picked: np.ndarray, genres: np.ndarray) -> dict:
    """implicit's brute-force similar_items on the same item ids: no resolver, no rendering."""
    model = implicit_anchor_model(ctx, dataset)
    model.similar_items(int(picked[0]), N=6)  # item norms are computed on the first call
    latencies, same, total = [], 0, 0
    for item in picked.tolist():
        started = time.perf_counter()
        ids, _ = model.similar_items(item, N=6)
        latencies.append(time.perf_counter() - started)
        for other in ids.tolist():
            if other != item:
                total += 1
                same += int(genres[other] == genres[item])
    return {**percentiles(latencies), "genre_agreement": round(same / total, 4) if total else None}


def anchor_original(ctx: Context, dataset: Dataset, typed: list[str], budget_s: float = 60.0) -> dict:
    """The original product's request path, re-enacted: four pickles loaded on every request,
    an exact title match (first hit wins), then implicit's similar_items."""
    files = original_pickles(ctx, dataset)

    def request(title: str):
        loaded = {}
        for name, path in files.items():
            with path.open("rb") as handle:
                loaded[name] = pickle.load(handle)
        songs = loaded["songs"]
        hits = songs[songs.song_title == title]
        if hits.empty:
            return None
        item = loaded["index"][hits.iloc[0].song_id]
        return loaded["model"].similar_items(item, N=6)

    latencies, found = [], 0
    deadline = time.perf_counter() + budget_s
    for title in typed[:200]:
        started = time.perf_counter()
        found += request(title) is not None
        latencies.append(time.perf_counter() - started)
        if time.perf_counter() > deadline:
            break
    return {
        **percentiles(latencies),
        "found": found,
        "pickled_mb": round(sum(p.stat().st_size for p in files.values()) / RSS_MB, 1),
    }


def original_pickles(ctx: Context, dataset: Dataset) -> dict:
    """The original's four pickles (model, matrix, songs frame, id index), written once per work folder."""
    folder = ctx.anchor / "original-pickles"
    folder.mkdir(exist_ok=True)
    files = {name: folder / f"{name}.pkl" for name in ("model", "matrix", "songs", "index")}
    if all(path.exists() for path in files.values()):
        return files
    model = implicit_anchor_model(ctx, dataset)
    songs = pd.DataFrame(
        {
            "song_id": dataset.item_ids.astype(str),
            "song_title": dataset.items["title"].astype(str),
            "artist_name": dataset.items["artist"].astype(str),
        }
    )
    for name, value in (
        ("model", model),
        ("matrix", dataset.interactions),
        ("songs", songs),
        ("index", {sid: i for i, sid in enumerate(songs["song_id"])}),
    ):
        with files[name].open("wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return files
