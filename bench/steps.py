"""The measurements, one per process: ``python -m bench.steps <step> --scale S --work DIR --out FILE``.

Each step writes a JSON object of its own figures to ``--out`` (latencies, per-iteration
times, quality); :mod:`bench.measure` adds the wall time, CPU time and peak RSS of the whole
process. A step whose product code is not there yet writes
``{"status": "not available", "reason": ...}`` and exits 0, so the suite runs while the
product is being built.

Folders under ``--work`` (bench/work/scale-<s>/):
  msd/     the generated MSD-shaped files (bench.generate)
  data/    the product's data root: datasets/msd, models/msd (SOUNDALIKE_DATA__ROOT)
  anchor/  what the anchors need: implicit's factors (.npz), the original's pickles
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import pickle  # the anchor re-enacting the original product only; never in product code
import shutil
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bench.generate import TRACKS, TRIPLETS, TRUTH

DATASET_NAME = "msd"
RSS_MB = 1024 * 1024


class Unavailable(Exception):
    """A step cannot run yet (its product code is missing); the message says why."""


# -- context -----------------------------------------------------------------------------------


class Context:
    def __init__(self, scale: float, work: Path, seed: int, queries: int):
        self.scale = scale
        self.work = Path(work).resolve()
        self.seed = seed
        self.queries = queries
        self.msd = self.work / "msd"
        self.data_root = self.work / "data"
        self.anchor = self.work / "anchor"
        self.anchor.mkdir(parents=True, exist_ok=True)

    @property
    def dataset_dir(self) -> Path:
        return self.data_root / "datasets" / DATASET_NAME

    def rng(self, purpose: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, 100 + purpose])


def product_env(work: Path) -> dict:
    """Environment that points the product at the bench's data root and ALS 64 x 15."""
    env = dict(os.environ)
    env.update(
        {
            "SOUNDALIKE_DATA__ROOT": str(Path(work).resolve() / "data"),
            "SOUNDALIKE_DATA__DEFAULT_DATASET": DATASET_NAME,
            "SOUNDALIKE_TRAINING__ALGORITHM": "als",
            "SOUNDALIKE_TRAINING__FACTORS": "64",
            "SOUNDALIKE_TRAINING__ITERATIONS": "15",
            "SOUNDALIKE_BOT__DATABASE": str(Path(work).resolve() / "soundalike.sqlite3"),
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        }
    )
    return env


def _import(module: str, what: str):
    """Import a product module or say, as Unavailable, which piece is missing."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name and (error.name == module or module.startswith(error.name + ".")):
            raise Unavailable(f"{module} is not there yet ({what})") from None
        raise


def load_config():
    from recommender.config import load_config as load

    return load()


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / RSS_MB


def percentiles(seconds: list[float]) -> dict:
    """p50/p95/p99/max in milliseconds."""
    if not seconds:
        return {"count": 0}
    ms = np.asarray(seconds) * 1000.0
    return {
        "count": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
        "mean_ms": round(float(ms.mean()), 3),
    }


# -- the product's command line ----------------------------------------------------------------


def cli_parsers() -> tuple[dict, dict]:
    """The product CLI's sub-command parsers: (top-level, data), or Unavailable."""
    import argparse as _argparse

    cli = _import("recommender.cli.main", "the command line")
    try:
        parser = cli.build_parser()
    except ModuleNotFoundError as error:
        raise Unavailable(f"the command line cannot be built yet: {error}") from None

    def choices(p) -> dict:
        for action in p._actions:  # argparse keeps sub-commands here; there is no public API
            if isinstance(action, _argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    top = choices(parser)
    return top, choices(top["data"]) if "data" in top else {}


def option_names(parser) -> set[str]:
    return {name for action in parser._actions for name in action.option_strings} | {
        action.dest for action in parser._actions if not action.option_strings
    }


def import_msd_argv(work: Path) -> list[str]:
    """``python -m recommender data import-msd ...`` for the generated files."""
    _, data = cli_parsers()
    if "import-msd" not in data:
        raise Unavailable("`data import-msd` is not registered yet")
    names = option_names(data["import-msd"])
    msd = Path(work).resolve() / "msd"
    argv = [sys.executable, "-m", "recommender", "data", "import-msd"]
    for flag, value in (
        ("--triplets", msd / TRIPLETS),
        ("--tracks", msd / TRACKS),
        ("--name", DATASET_NAME),
        ("--dataset", DATASET_NAME),
    ):
        if flag in names:
            argv += [flag, str(value)]
    if "--no-progress" in names:
        argv.append("--no-progress")
    if "--replace" in names:  # the work folder is reused from run to run: import again on purpose
        argv.append("--replace")
    if "--triplets" not in names:
        if "--source" in names:
            argv += ["--source", str(msd)]
        elif {"source", "folder", "path", "directory"} & names:
            argv += [str(msd)]
        else:
            raise Unavailable(f"import-msd arguments not recognised: {sorted(names)}")
    return argv


def train_argv() -> list[str]:
    """``python -m recommender train`` for ALS 64 x 15 on the bench dataset, publishing it."""
    top, _ = cli_parsers()
    if "train" not in top:
        raise Unavailable("`train` is not registered yet")
    names = option_names(top["train"])
    argv = [sys.executable, "-m", "recommender", "train"]
    for flag, value in (
        ("--dataset", DATASET_NAME),
        ("--algorithm", "als"),
        ("--factors", "64"),
        ("--iterations", "15"),
    ):
        if flag in names:
            argv += [flag, value]
    # The held-out evaluation and the novelty calibration fit more models; the figure here is one training.
    argv += [flag for flag in ("--no-eval", "--no-calibrate", "--quiet") if flag in names]
    return argv


def retrain_argv(ctx: Context) -> list[str]:
    """The retrain exactly as the bot starts it (recommender.app.retrainer), else a plain `train`.

    While the command line cannot be built, the library training (train-library) stands in.
    """
    try:
        top, _ = cli_parsers()
    except Unavailable:
        return [
            sys.executable,
            "-m",
            "bench.steps",
            "train-library",
            "--scale",
            repr(ctx.scale),
            "--work",
            str(ctx.work),
            "--seed",
            str(ctx.seed),
            "--out",
            str(ctx.work / "retrain.json"),
        ]
    if "retrain" in top:
        try:
            from recommender.app.retrainer import Retrainer
        except ImportError:
            Retrainer = None
        if Retrainer is not None:
            return Retrainer(load_config(), dataset=DATASET_NAME).argv()
        return [sys.executable, "-m", "recommender", "retrain", "--dataset", DATASET_NAME]
    return train_argv()


# -- data helpers ------------------------------------------------------------------------------


def read_triplets_anchor(path: Path):
    """The anchor: pandas read_csv(engine="pyarrow") with category dtypes, codes -> CSR."""
    import pandas as pd
    import scipy.sparse as sp

    frame = pd.read_csv(
        path,
        sep="\t",
        header=None,
        names=["user", "song", "plays"],
        engine="pyarrow",
        dtype={"user": "category", "song": "category", "plays": "float32"},
    )
    users = frame["user"].cat
    songs = frame["song"].cat
    matrix = sp.csr_matrix(
        (frame["plays"].to_numpy(), (users.codes.to_numpy(), songs.codes.to_numpy())),
        shape=(len(users.categories), len(songs.categories)),
    )
    return matrix, users.categories.to_numpy(), songs.categories.to_numpy()


def read_tracks(path: Path):
    """unique_tracks.txt as a frame (song_id, artist, title); the first track of a song wins."""
    import pandas as pd

    rows = [line.rstrip("\n").split("<SEP>") for line in path.open(encoding="utf-8")]
    frame = pd.DataFrame(rows, columns=["track_id", "song_id", "artist", "title"])
    return frame.drop_duplicates("song_id").set_index("song_id")


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


def query_songs(ctx: Context, titles: np.ndarray, listeners: np.ndarray, count: int, purpose: int) -> np.ndarray:
    """Item indices people would ask about: half by popularity, half uniformly."""
    rng = ctx.rng(purpose)
    having = np.flatnonzero(listeners > 0)
    weights = listeners[having] / listeners[having].sum()
    popular = rng.choice(having, size=count // 2, p=weights)
    anything = rng.choice(having, size=count - count // 2)
    picked = np.concatenate([popular, anything])
    rng.shuffle(picked)
    return picked


def as_typed(title: str, rng: np.random.Generator) -> str:
    """A title as a person types it: sometimes lower case, sometimes without punctuation."""
    roll = rng.random()
    if roll < 0.3:
        return title.lower()
    if roll < 0.4:
        return "".join(ch for ch in title if ch.isalnum() or ch.isspace())
    return title


# -- (a) import --------------------------------------------------------------------------------


def step_import_anchor(ctx: Context) -> dict:
    started = time.perf_counter()
    matrix, users, songs = read_triplets_anchor(ctx.msd / TRIPLETS)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "users": int(matrix.shape[0]),
        "songs": int(matrix.shape[1]),
        "nnz": int(matrix.nnz),
        "rss_after_mb": round(rss_mb(), 1),
    }


def step_write_dataset(ctx: Context) -> dict:
    """Stand-in for import-msd while it is missing: the anchor's reader + write_dataset."""
    import pandas as pd

    dataset = _import("recommender.dataset", "dataset format")
    matrix, users, songs = read_triplets_anchor(ctx.msd / TRIPLETS)
    tracks = read_tracks(ctx.msd / TRACKS)
    catalog = tracks.reindex(songs.astype(str))
    items = pd.DataFrame(
        {
            "item_id": songs.astype(str),
            "title": catalog["title"].fillna("").to_numpy(),
            "artist": catalog["artist"].fillna("").to_numpy(),
        }
    )
    dataset.write_dataset(
        ctx.dataset_dir,
        name=DATASET_NAME,
        interactions=matrix,
        items=items,
        user_ids=users.astype(str),
        source={"kind": "bench stand-in for import-msd"},
    )
    return {"written_by": "bench (read_csv + write_dataset)", "items": len(items), "nnz": int(matrix.nnz)}


# -- (b) load ----------------------------------------------------------------------------------


def step_load(ctx: Context) -> dict:
    dataset_module = _import("recommender.dataset", "dataset format")
    if not (ctx.dataset_dir / "manifest.json").exists():
        raise Unavailable(f"no dataset at {ctx.dataset_dir} (the import step did not make one)")
    before = rss_mb()
    started = time.perf_counter()
    dataset = dataset_module.Dataset.load(ctx.dataset_dir)
    catalog_seconds = time.perf_counter() - started
    dataset.interactions  # read on first use since the bot does not need it: count it here
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 4),
        "catalog_only_seconds": round(catalog_seconds, 4),
        "users": dataset.n_users,
        "items": dataset.n_items,
        "nnz": int(dataset.interactions.nnz),
        "rss_added_mb": round(rss_mb() - before, 1),
    }


# -- (c) training ------------------------------------------------------------------------------


def step_train_implicit(ctx: Context) -> dict:
    """implicit's ALS with its defaults as installed (no thread limit), 64 factors, 15 iterations."""
    import implicit
    import scipy.sparse as sp
    from implicit.als import AlternatingLeastSquares

    dataset_module = _import("recommender.dataset", "dataset format")
    dataset = dataset_module.Dataset.load(ctx.dataset_dir)
    per_iteration: list[float] = []
    model = AlternatingLeastSquares(factors=64, iterations=15, random_state=ctx.seed)
    started = time.perf_counter()
    model.fit(
        sp.csr_matrix(dataset.interactions),
        show_progress=False,
        callback=lambda iteration, elapsed, loss: per_iteration.append(elapsed),
    )
    seconds = time.perf_counter() - started
    model = model.to_cpu() if hasattr(model, "to_cpu") else model
    np.savez(
        ctx.anchor / "implicit-als.npz",
        item_factors=model.item_factors,
        user_factors=model.user_factors,
        item_ids=np.asarray(dataset.item_ids, dtype=str),
    )
    return {
        "seconds": round(seconds, 3),
        "iterations": len(per_iteration),
        "per_iteration_s": round(statistics.median(per_iteration), 4) if per_iteration else None,
        "implicit_version": implicit.__version__,
    }


def step_train_library(ctx: Context) -> dict:
    """What `train --no-eval` does, through the library: used while the CLI cannot be built."""
    training = _import("recommender.training", "training")
    store_module = _import("recommender.store", "model store")
    dataset_module = _import("recommender.dataset", "dataset format")
    config = load_config()
    dataset = dataset_module.Dataset.open(config.datasets_dir, DATASET_NAME)
    params = config.training
    stamps: list[float] = []
    started = time.perf_counter()
    fitted = training.fit(params, dataset.interactions, progress=lambda share: stamps.append(time.perf_counter()))
    seconds = time.perf_counter() - started
    manifest = {**fitted.manifest_fields(), "dataset": training.dataset_fields(dataset), "metrics": {}}
    version = store_module.ModelStore.for_dataset(config.models_dir, DATASET_NAME).publish(fitted.arrays(), manifest)
    iterations = np.diff([started, *stamps[: params.iterations]])
    return {
        "via": "recommender.training.fit + ModelStore.publish (the CLI is not buildable yet)",
        "version": version,
        "seconds_with_weighting": round(seconds, 3),
        "fit_seconds": round(fitted.seconds, 3),
        "iterations": params.iterations,
        "factors": params.factors,
        "per_iteration_s": round(float(np.median(iterations[1:] if len(iterations) > 1 else iterations)), 4),
    }


def trained_model_figures(work: Path) -> dict:
    """Seconds per iteration from the newest model manifest the product's store wrote."""
    models = Path(work) / "data" / "models"
    manifests = sorted(models.rglob("manifest.json"), key=lambda p: p.stat().st_mtime) if models.exists() else []
    if not manifests:
        return {}
    try:
        manifest = json.loads(manifests[-1].read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    seconds = (manifest.get("training") or {}).get("seconds")
    median_iteration = (manifest.get("training") or {}).get("median_iteration_seconds")
    iterations = (manifest.get("parameters") or {}).get("iterations")
    figures = {
        "model": str(manifests[-1].parent.relative_to(models)),
        "fit_seconds": seconds,
        "factors": (manifest.get("parameters") or {}).get("factors"),
        "iterations": iterations,
    }
    # The median of implicit's own per-iteration times, as the train-implicit anchor reports;
    # models from before the manifest kept them fall back to the whole fit / iterations.
    if median_iteration:
        figures["per_iteration_s"] = median_iteration
    elif seconds and iterations:
        figures["per_iteration_s"] = round(seconds / iterations, 4)
    return figures


# -- (d) service start -------------------------------------------------------------------------


def open_service(ctx: Context):
    service_module = _import("recommender.service", "SoundalikeService")
    from recommender.errors import ModelError

    config = load_config()
    try:
        return service_module.SoundalikeService.open(config)
    except ModelError as error:
        if not (ctx.data_root / "models").exists():  # the train step has not made one yet
            raise Unavailable(f"no trained model yet: {error}") from None
        raise


def steady(service, limit_s: float = 120.0):
    """Wait (bounded) for the background nearest-neighbour index the service builds at start
    on large catalogs ([serving] index = "auto"/"ann"): serving figures are for a bot that
    has been up a few seconds, not for its first seconds."""
    from recommender.service import wants_ann_index

    setting = service.config.serving.index
    wanted = wants_ann_index(service.config, service.model)
    started = time.perf_counter()
    while wanted and service.model.ann_index is None and time.perf_counter() - started < limit_s:
        time.sleep(0.1)
    return {
        "index": setting,
        "ann_ready": service.model.ann_index is not None,
        "waited_s": round(time.perf_counter() - started, 2),
    }


def step_open_first(ctx: Context) -> dict:
    """The first start after an import: the title index is built and saved beside the dataset."""
    resolver_module = _import("recommender.search.cache", "title index cache")
    cache = ctx.dataset_dir / resolver_module.CACHE_DIR
    if cache.exists():
        shutil.rmtree(cache)
    return step_open(ctx)


def step_open(ctx: Context) -> dict:
    before = rss_mb()
    started = time.perf_counter()
    service = open_service(ctx)
    seconds = time.perf_counter() - started
    info = {}
    try:
        info = service.model_info()
    except Exception as error:  # the figure is the start time; model_info is a courtesy
        info = {"error": str(error)}
    titles, listeners, _ = _titles_and_listeners(service)
    first = titles[int(np.argmax(listeners))]
    path = ComputePath(service)  # imports the renderer (discord.py): the bot has it loaded already
    answered = time.perf_counter()
    path(first)  # what the first /soundalike after a start costs
    first_answer = time.perf_counter() - answered
    return {
        "seconds": round(seconds, 3),
        "first_answer_ms": round(first_answer * 1000, 2),
        "rss_after_open_mb": round(rss_mb(), 1),
        "rss_added_mb": round(rss_mb() - before, 1),
        "model": _jsonable(info),
    }


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


# -- (e) the /soundalike compute path ----------------------------------------------------------


def renderer() -> tuple[str, Callable]:
    """bot/render.py's answer renderer when there is one, else a plain text formatter."""
    try:
        render = importlib.import_module("bot.render")
    except ModuleNotFoundError:
        render = None
    if render is not None:
        for name in ("render_answer", "answer_embed", "render_similar", "render"):
            function = getattr(render, name, None)
            if callable(function):
                return f"bot.render.{name}", function

    def as_text(answer) -> str:
        lines = [f"Because you like {', '.join(seed.label for seed in answer.seeds)}:"]
        for number, suggestion in enumerate(answer.suggestions, start=answer.offset + 1):
            lines.append(
                f"{number}. {suggestion.title} — {suggestion.artist} ({suggestion.percent}%) {suggestion.reason}"
            )
        return "\n".join(lines)

    return "plain text (bot/render.py not there)", as_text


class ComputePath:
    """resolve + similar (versions merged, reasons) + render: what one /soundalike costs."""

    def __init__(self, service):
        self.service = service
        self.render_name, self.render = renderer()
        # Set to {"resolve": [], "similar": [], "render": []} to record per-stage seconds (one thread).
        self.stages: dict[str, list[float]] | None = None

    def __call__(self, title: str):
        """The rendered answer, None when no title matched, or the SoundalikeError the bot would show."""
        from recommender.errors import SoundalikeError

        started = time.perf_counter()
        best = self.service.resolve(title).best
        resolved = time.perf_counter()
        if best is None:
            return None
        try:
            answer = self.service.similar(best.item_id, count=5)
        except SoundalikeError as error:  # e.g. a song nobody has played: the bot says so
            return error
        answered = time.perf_counter()
        self.render(answer)
        if self.stages is not None:
            self.stages["resolve"].append(resolved - started)
            self.stages["similar"].append(answered - resolved)
            self.stages["render"].append(time.perf_counter() - answered)
        return answer


def _titles_and_listeners(service=None, dataset=None):
    dataset = dataset if dataset is not None else getattr(service, "dataset", None)
    if dataset is None:
        raise Unavailable("the service exposes no .dataset to draw query titles from")
    return dataset.items["title"].astype(str).to_numpy(), dataset.listeners, dataset


def step_compute(ctx: Context) -> dict:
    service = open_service(ctx)
    serving = steady(service)
    titles, listeners, dataset = _titles_and_listeners(service)
    rng = ctx.rng(1)
    picked = query_songs(ctx, titles, listeners, ctx.queries, purpose=2)
    typed = [as_typed(titles[i], rng) for i in picked]
    path = ComputePath(service)
    genres = truth_genres(ctx, dataset.item_ids)

    path(typed[0])  # first call pays lazy set-up (norms, caches); the bot pays it at start
    path.stages = {"resolve": [], "similar": [], "render": []}
    latencies, same_genre, suggested, not_found = [], 0, 0, 0
    messages: dict[str, int] = {}
    resolved_to_asked = 0
    # Titles several artists share ("Home", covers) are ambiguous without the artist: count apart.
    folded = dataset.items["title"].astype(str).str.casefold()
    artists_per_title = dataset.items.groupby(folded)["artist"].nunique()
    ambiguous = set(artists_per_title.index[artists_per_title > 1])
    unique_asked, unique_resolved = 0, 0
    deadline = time.perf_counter() + 120
    for asked, title in zip(picked.tolist(), typed):
        started = time.perf_counter()
        answer = path(title)
        latencies.append(time.perf_counter() - started)
        if answer is None:
            not_found += 1
        elif isinstance(answer, Exception):
            messages[type(answer).__name__] = messages.get(type(answer).__name__, 0) + 1
        else:
            seed = answer.seeds[0].item_index
            hit = int(
                seed == asked
                or (dataset.title(seed), dataset.artist(seed)) == (dataset.title(asked), dataset.artist(asked))
            )
            resolved_to_asked += hit
            if dataset.title(asked).casefold() not in ambiguous:
                unique_asked += 1
                unique_resolved += hit
            seed_genre = genres[answer.seeds[0].item_index]
            for suggestion in answer.suggestions:
                suggested += 1
                same_genre += int(genres[suggestion.item_index] == seed_genre)
        if time.perf_counter() > deadline:
            break
    stages = {name: percentiles(seconds) for name, seconds in path.stages.items()}
    # Diagnostic: the same path with BLAS held to one thread (a matrix-vector product per request
    # gains nothing from BLAS threads, and on 2 busy cores they can cost more than the product).
    from threadpoolctl import threadpool_limits

    path.stages = None
    one_thread = []
    with threadpool_limits(1, "blas"):
        for title in typed[:300]:
            started = time.perf_counter()
            path(title)
            one_thread.append(time.perf_counter() - started)
    return {
        "ours": percentiles(latencies),
        "stages": stages,
        "ours_blas_one_thread": percentiles(one_thread),
        "serving": serving,
        "render": path.render_name,
        "not_found": not_found,
        "answered_with_message": messages,
        # The seed is the song the title was typed from (or a same-title same-artist twin).
        "resolved_to_the_song_asked": round(resolved_to_asked / max(1, len(latencies)), 4),
        "resolved_to_the_song_asked_unshared_titles": round(unique_resolved / max(1, unique_asked), 4),
        "queries_with_unshared_titles": unique_asked,
        "genre_agreement": round(same_genre / suggested, 4) if suggested else None,
        "genre_chance": genre_chance(genres),
        "implicit_similar_items": anchor_similar_items(ctx, dataset, picked, genres),
        "original_pickles": anchor_original(ctx, dataset, typed),
    }


def implicit_anchor_model(ctx: Context, dataset):
    """implicit's ALS with the factors the train-implicit step saved (trained here if missing)."""
    from implicit.cpu.als import AlternatingLeastSquares

    path = ctx.anchor / "implicit-als.npz"
    if not path.exists():
        step_train_implicit(ctx)
    with np.load(path, allow_pickle=False) as saved:
        if saved["item_factors"].shape[0] != dataset.n_items:
            raise Unavailable("implicit's saved factors are for another dataset; rerun train-implicit")
        model = AlternatingLeastSquares(factors=saved["item_factors"].shape[1])
        model.item_factors = saved["item_factors"]
        model.user_factors = saved["user_factors"]
    return model


def anchor_similar_items(ctx: Context, dataset, picked: np.ndarray, genres: np.ndarray) -> dict:
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


def anchor_original(ctx: Context, dataset, typed: list[str], budget_s: float = 60.0) -> dict:
    """The original product's request path, re-enacted: four pickles loaded on every request,
    an exact title match (first hit wins), then implicit's similar_items."""
    import pandas as pd

    folder = ctx.anchor / "original-pickles"
    folder.mkdir(exist_ok=True)
    files = {name: folder / f"{name}.pkl" for name in ("model", "matrix", "songs", "index")}
    if not all(path.exists() for path in files.values()):
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


# -- (f) throughput ----------------------------------------------------------------------------


def step_throughput(ctx: Context, in_flight: int = 64) -> dict:
    """Many /soundalike at once through asyncio + a thread pool, as the bot runs them."""
    service = open_service(ctx)
    steady(service)
    titles, listeners, _ = _titles_and_listeners(service)
    rng = ctx.rng(3)
    typed = [as_typed(titles[i], rng) for i in query_songs(ctx, titles, listeners, ctx.queries, 4)]
    path = ComputePath(service)
    path(typed[0])

    async def run() -> tuple[float, list[float], str, int]:
        pool, pool_name = compute_pool()
        # Stay inside the pool's queue bound, as a busy bot would by answering "busy" beyond it.
        gate = asyncio.Semaphore(in_flight)
        latencies: list[float] = []

        async def one(title: str) -> None:
            async with gate:
                started = time.perf_counter()
                await pool.run(None, path, title)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.gather(*(one(t) for t in typed)), timeout=300)
        finally:
            pool.close()
        return time.perf_counter() - started, latencies, pool_name, pool.workers

    seconds, latencies, pool_name, workers = asyncio.run(run())
    return {
        "answers_per_s": round(len(latencies) / seconds, 1),
        "requests": len(latencies),
        "pool": pool_name,
        "workers": workers,
        "in_flight": in_flight,
        "latency_under_load": percentiles(latencies),
    }


class _PlainPool:
    """A thread pool with ComputePool's run/close, for when bot/limits.py is not there."""

    def __init__(self, workers: int):
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers)

    async def run(self, guild_id, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=False)


def compute_pool():
    """The bot's compute pool (recommender.app.limits.ComputePool), or a plain pool of 4 threads."""
    try:
        from recommender.app.limits import ComputePool
    except ImportError:
        return _PlainPool(4), "ThreadPoolExecutor(4) (bot/limits.py not there)"
    config = load_config()
    pool = ComputePool(per_guild=config.bot.per_guild_concurrency, max_queue=10**6)
    return pool, f"recommender.app.limits.ComputePool ({pool.workers} workers)"


# -- (g) autocomplete --------------------------------------------------------------------------


def step_complete(ctx: Context) -> dict:
    from rapidfuzz import fuzz, process

    service = open_service(ctx)
    titles, listeners, _ = _titles_and_listeners(service)
    rng = ctx.rng(5)
    partials = []
    for item in query_songs(ctx, titles, listeners, ctx.queries, 6).tolist():
        title = as_typed(titles[item], rng)
        partials.append(title[: int(rng.integers(2, max(3, min(len(title), 14) + 1)))])
    service.complete(partials[0])
    latencies = []
    deadline = time.perf_counter() + 60
    for partial in partials:
        started = time.perf_counter()
        service.complete(partial, limit=25)
        latencies.append(time.perf_counter() - started)
        if time.perf_counter() > deadline:
            break
    choices = titles.tolist()
    anchor = []
    for partial in partials[:5]:
        started = time.perf_counter()
        process.extract(partial, choices, scorer=fuzz.WRatio, limit=25)
        anchor.append(time.perf_counter() - started)
    return {"ours": percentiles(latencies), "titles": len(choices), "wratio_full_scan": percentiles(anchor)}


# -- (h) serving during a retrain --------------------------------------------------------------


def step_retrain(
    ctx: Context, quiet_s: float = 3.0, max_retrain_s: float = 1800.0, requesters: int = 2, pause_s: float = 0.05
) -> dict:
    """/soundalike p99 and event-loop lag while `retrain` (or `train`) runs beside the bot."""
    argv = retrain_argv(ctx)
    service = open_service(ctx)
    steady(service)
    titles, listeners, _ = _titles_and_listeners(service)
    rng = ctx.rng(7)
    typed = [as_typed(titles[i], rng) for i in query_songs(ctx, titles, listeners, 2000, 8)]
    path = ComputePath(service)
    path(typed[0])

    async def observe(until: Callable[[], bool], limit_s: float) -> dict:
        loop = asyncio.get_running_loop()
        lags: list[float] = []
        latencies: list[float] = []
        stop_at = time.perf_counter() + limit_s

        def done() -> bool:
            return until() or time.perf_counter() > stop_at

        async def heartbeat() -> None:  # stands in for discord.py's gateway heartbeat
            while not done():
                started = loop.time()
                await asyncio.sleep(0.010)
                lags.append(max(0.0, loop.time() - started - 0.010))

        async def requester(offset: int) -> None:
            index = offset
            while not done():
                started = time.perf_counter()
                await pool.run(None, path, typed[index % len(typed)])
                latencies.append(time.perf_counter() - started)
                index += requesters
                await asyncio.sleep(pause_s)

        await asyncio.gather(heartbeat(), *(requester(i) for i in range(requesters)))
        return {"compute": percentiles(latencies), "loop_lag": percentiles(lags)}

    async def main() -> dict:
        nonlocal pool
        pool, pool_name = compute_pool()  # made inside the loop its semaphore belongs to
        try:
            quiet = await observe(lambda: False, quiet_s)
            with (ctx.work / "retrain.log").open("wb") as log:
                started = time.perf_counter()
                # As the bot does (bot/retrain.py): a separate process, stdout read line by line.
                child = await asyncio.create_subprocess_exec(
                    *argv, env=product_env(ctx.work), stdout=log, stderr=asyncio.subprocess.STDOUT
                )
                try:
                    busy = await observe(lambda: child.returncode is not None, max_retrain_s)
                finally:
                    if child.returncode is None:
                        child.kill()
                    await child.wait()
                retrain_seconds = time.perf_counter() - started
        finally:
            pool.close()
        return {
            "command": " ".join(argv[2:]),
            "pool": pool_name,
            "retrain_seconds": round(retrain_seconds, 2),
            "retrain_returncode": child.returncode,
            "quiet": quiet,
            "during_retrain": busy,
        }

    pool = None
    return asyncio.run(main())


# -- (i) resolver ------------------------------------------------------------------------------


def step_resolver(ctx: Context) -> dict:
    resolver_bench = _import("bench.resolver_bench", "resolver benchmark")
    n_titles = max(1000, int(round(1_000_000 * ctx.scale)))
    figures = resolver_bench.run(n_titles, ctx.queries, ctx.seed)
    return {"n_titles": n_titles, "n_queries": ctx.queries, **_jsonable(figures)}


# -- (j) approximate nearest neighbours --------------------------------------------------------

ANN_DIM = 64
ANN_FULL_ROWS = 10_000_000


def ann_rows(scale: float) -> int:
    return max(2_000, int(round(ANN_FULL_ROWS * scale)))


def ann_factors(ctx: Context, rows: int) -> np.ndarray:
    """A synthetic rows x 64 float32 factor matrix, unit rows, made in chunks into a memmap.

    Items cluster loosely (a few thousand overlapping taste groups), as trained item factors
    do; uniformly random vectors would make every index look worse than it is in practice.
    """
    path = ctx.anchor / f"ann-factors-{rows}x{ANN_DIM}.f32"
    if path.exists() and path.stat().st_size == rows * ANN_DIM * 4:
        return np.memmap(path, dtype=np.float32, mode="r", shape=(rows, ANN_DIM))
    rng = np.random.default_rng([ctx.seed, 300])
    centres = rng.standard_normal((max(16, min(4096, rows // 2000)), ANN_DIM)).astype(np.float32)
    temp = path.with_suffix(".tmp")
    out = np.memmap(temp, dtype=np.float32, mode="w+", shape=(rows, ANN_DIM))
    for start in range(0, rows, 500_000):
        stop = min(start + 500_000, rows)
        chunk_rng = np.random.default_rng([ctx.seed, 301, start])
        chunk = centres[chunk_rng.integers(0, len(centres), size=stop - start)]
        chunk += chunk_rng.standard_normal(chunk.shape, dtype=np.float32) * 0.9
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        out[start:stop] = chunk
    out.flush()
    del out
    os.replace(temp, path)
    return np.memmap(path, dtype=np.float32, mode="r", shape=(rows, ANN_DIM))


def brute_top_k(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k inner products, in blocks so the score matrix stays small (~70 MB)."""
    if len(queries) > 128:
        return np.concatenate(
            [brute_top_k(data, queries[start : start + 128], k) for start in range(0, len(queries), 128)]
        )
    best = np.empty((len(queries), 0), dtype=np.int64)
    best_scores = np.empty((len(queries), 0), dtype=np.float32)
    for start in range(0, len(data), 131_072):
        scores = queries @ np.asarray(data[start : start + 131_072], dtype=np.float32).T
        top = np.argpartition(scores, -min(k, scores.shape[1]), axis=1)[:, -k:]
        best = np.concatenate([best, top + start], axis=1)
        best_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        keep = np.argsort(-best_scores, axis=1)[:, :k]
        best = np.take_along_axis(best, keep, axis=1)
        best_scores = np.take_along_axis(best_scores, keep, axis=1)
    return best


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    hits = sum(len(set(f.tolist()) & set(e.tolist())) for f, e in zip(found, exact))
    return hits / exact.size


def _ann_setup(ctx: Context, k: int, n_queries: int):
    rows = ann_rows(ctx.scale)
    data = ann_factors(ctx, rows)
    rng = ctx.rng(9)
    query_ids = rng.choice(rows, size=n_queries, replace=False)
    queries = np.asarray(data[np.sort(query_ids)])
    started = time.perf_counter()
    exact = brute_top_k(data, queries, k)
    batch_seconds = time.perf_counter() - started
    from threadpoolctl import threadpool_limits

    single = []
    # One query is a matrix-vector product: BLAS threads only add contention on 2 cores.
    with threadpool_limits(1, "blas"):
        for query in queries[:20]:
            started = time.perf_counter()
            brute_top_k(data, query[None, :], k)
            single.append(time.perf_counter() - started)
            if sum(single) > 30:
                break
    brute = {**percentiles(single), "batched_per_query_ms": round(batch_seconds / n_queries * 1000, 3)}
    return rows, data, queries, exact, brute


def _ann_latency(query_one: Callable, queries: np.ndarray) -> dict:
    latencies = []
    for query in queries:
        started = time.perf_counter()
        query_one(query[None, :])
        latencies.append(time.perf_counter() - started)
    return percentiles(latencies)


def step_ann(ctx: Context, k: int = 10, n_queries: int = 1000) -> dict:
    """The product's switch (recommender.ann) at 10 M x scale items beside brute force."""
    ann = _import("recommender.ann", "approximate nearest-neighbour index")
    rows, data, queries, exact, brute = _ann_setup(ctx, k, n_queries)
    started = time.perf_counter()
    index = ann.build_index(data)
    build_seconds = time.perf_counter() - started
    found, _ = ann.query(index, queries, k)
    return {
        "rows": rows,
        "dim": ANN_DIM,
        "library": getattr(ann, "LIBRARY", "?"),
        "kind": getattr(index, "kind", None),
        "nprobe": getattr(index, "nprobe", None),
        "calibrated_recall": getattr(index, "calibrated_recall", None),
        "build_seconds": round(build_seconds, 2),
        f"recall_at_{k}": round(recall_at_k(found, exact), 4),
        "ann": _ann_latency(lambda q: ann.query(index, q, k), queries),
        "brute_force": brute,
        "rss_mb": round(rss_mb(), 1),
    }


def step_ann_compare(ctx: Context, k: int = 10, n_queries: int = 1000) -> dict:
    """hnswlib's HNSW beside faiss's IVF-Flat and HNSW, to choose recommender.ann's library."""
    rows, data, queries, exact, brute = _ann_setup(ctx, k, n_queries)
    threads = os.cpu_count() or 1
    results: dict = {"rows": rows, "brute_force": brute}
    try:
        import hnswlib
    except ImportError:
        results["hnswlib"] = {"status": "not installed"}
    else:
        index = hnswlib.Index(space="ip", dim=ANN_DIM)
        started = time.perf_counter()
        index.init_index(max_elements=rows, ef_construction=100, M=16, random_seed=ctx.seed)
        for start in range(0, rows, 500_000):
            index.add_items(
                np.asarray(data[start : start + 500_000]),
                np.arange(start, min(start + 500_000, rows)),
                num_threads=threads,
            )
        build = time.perf_counter() - started
        sweep = {}
        for ef in (16, 32, 64, 128, 256):
            index.set_ef(max(ef, k))
            index.set_num_threads(1)
            found, _ = index.knn_query(queries, k=k)
            sweep[f"ef={ef}"] = {
                "recall": round(recall_at_k(found, exact), 4),
                **_ann_latency(lambda q: index.knn_query(q, k=k), queries[:300]),
            }
        results["hnswlib"] = {"build_seconds": round(build, 2), "M": 16, "ef_construction": 100, "sweep": sweep}
        del index
    try:
        import faiss
    except ImportError:
        results["faiss"] = {"status": "not installed"}
    else:
        faiss.omp_set_num_threads(threads)
        nlist = int(np.clip(2 * np.sqrt(rows), 16, 8192))
        quantizer = faiss.IndexFlatIP(ANN_DIM)
        index = faiss.IndexIVFFlat(quantizer, ANN_DIM, nlist, faiss.METRIC_INNER_PRODUCT)
        started = time.perf_counter()
        sample = np.asarray(data[ctx.rng(10).choice(rows, size=min(rows, 40 * nlist), replace=False)])
        index.train(sample)
        for start in range(0, rows, 500_000):
            index.add(np.asarray(data[start : start + 500_000]))
        build = time.perf_counter() - started
        sweep = {}
        faiss.omp_set_num_threads(1)
        for nprobe in (4, 8, 16, 32, 64):
            index.nprobe = nprobe
            _, found = index.search(queries, k)
            sweep[f"nprobe={nprobe}"] = {
                "recall": round(recall_at_k(found, exact), 4),
                **_ann_latency(lambda q: index.search(q, k), queries[:300]),
            }
        results["faiss_ivf_flat"] = {"build_seconds": round(build, 2), "nlist": nlist, "sweep": sweep}
        del index
        faiss.omp_set_num_threads(threads)
        index = faiss.IndexHNSWFlat(ANN_DIM, 16, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 100
        started = time.perf_counter()
        for start in range(0, rows, 500_000):
            index.add(np.asarray(data[start : start + 500_000]))
        build = time.perf_counter() - started
        faiss.omp_set_num_threads(1)
        sweep = {}
        for ef in (16, 32, 64, 128, 256):
            index.hnsw.efSearch = max(ef, k)
            _, found = index.search(queries, k)
            sweep[f"ef={ef}"] = {
                "recall": round(recall_at_k(found, exact), 4),
                **_ann_latency(lambda q: index.search(q, k), queries[:300]),
            }
        results["faiss_hnsw_flat"] = {"build_seconds": round(build, 2), "M": 16, "ef_construction": 100, "sweep": sweep}
    return results


# -- driver ------------------------------------------------------------------------------------

STEPS: dict[str, Callable[[Context], dict]] = {
    "import-anchor": step_import_anchor,
    "write-dataset": step_write_dataset,
    "load": step_load,
    "train-implicit": step_train_implicit,
    "train-library": step_train_library,
    "open-first": step_open_first,
    "open": step_open,
    "compute": step_compute,
    "throughput": step_throughput,
    "complete": step_complete,
    "retrain": step_retrain,
    "resolver": step_resolver,
    "ann": step_ann,
    "ann-compare": step_ann_compare,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.steps")
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--scale", type=float, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    ctx = Context(args.scale, args.work, args.seed, args.queries)
    try:
        figures = {"status": "ok", **STEPS[args.step](ctx)}
        code = 0
    except Unavailable as why:
        figures, code = {"status": "not available", "reason": str(why)}, 0
    except Exception as error:  # a broken step is reported, and the rest of the suite goes on
        traceback.print_exc()
        figures, code = {"status": "failed", "reason": f"{type(error).__name__}: {error}"}, 1
    args.out.write_text(json.dumps(figures, indent=2, default=str) + "\n", encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
