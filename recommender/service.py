"""SoundalikeService: the dataset, the title resolver and the current model, answering.

The application (:class:`recommender.app.core.Soundalike`, which the bot and the console
open) runs these methods on its compute pool; the CLI calls them directly.

Built once at start (dataset, title resolver, current model); every compute method is
synchronous, read-only on shared state and safe to run from several executor threads at
once. ``reload`` swaps the model with one attribute assignment, so a request in flight
keeps the model it started with and the next one sees the new model: no restart, no lock
on the hot path.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterable, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from recommender.ranking import (
    PLAIN_DEFAULT,
    DefaultRanking,
    RankingOptions,
    explain_for_you,
    explain_similar,
    rank_for_seeds,
)
from recommender.search.resolver import TitleResolver

from . import ann
from .config import Config
from .dataset import Dataset
from .errors import SoundalikeError, UnknownSong
from .results import Answer, Candidate, Resolution
from .store import ModelStore

log = logging.getLogger(__name__)

# /foryou needs a few liked songs before fold-in says anything useful.
MIN_LIKES_FOR_YOU = 3
MIN_MIX_SEEDS = 2
MAX_MIX_SEEDS = 5
# Titles named beside "no song matches".
CLOSEST_TITLES = 5
# Typed (title, artist) pairs whose resolution is kept, per served catalog.
RESOLUTIONS_CACHED = 4096
# Said under the last page of a list (no song left above the match floor).
END_OF_LIST = "These are the last songs that match well enough; there are no more."


DEMO_GENERATOR = "recommender.importers.demo"


def no_match_note(dataset) -> str | None:
    """On the demo data, what to say beside "no song matches": it knows only its shipped
    catalog, and how to get a million songs. None on any other dataset."""
    manifest = getattr(dataset, "manifest", None) or {}
    source = manifest.get("source") if isinstance(manifest, dict) else None
    if not isinstance(source, dict) or source.get("generator") != DEMO_GENERATOR:
        return None
    songs = source.get("catalog_songs")
    if not isinstance(songs, int) or isinstance(songs, bool) or songs < 1:
        songs = getattr(dataset, "n_items", None)
    count = f"{songs:,} " if isinstance(songs, int) else ""
    return (
        f"These are demo data: they know only the {count}songs of the shipped demo catalog. "
        "For about a million songs, import the Million Song Dataset: "
        "python -m recommender data download-msd, then python -m recommender data import-msd "
        "(README, The data)."
    )


def not_enough_history_text(liked: int, played: int, *, linked: bool = False) -> str:
    """Why /foryou cannot answer yet, and how to start."""
    text = f"You have liked {liked} suggestion{'s' if liked != 1 else ''} so far"
    if linked:
        songs = f"{played} other song{'s' if played != 1 else ''}"
        text += f", and {songs} you played on ListenBrainz {'is' if played == 1 else 'are'} in the catalog"
    return (
        text + f"; /foryou needs at least {MIN_LIKES_FOR_YOU}{' songs' if linked else ''}. Ask /soundalike for a "
        "song you love and rate the suggestions with the 👍 buttons."
    )


class NoListeningData(SoundalikeError):
    """The song is in the catalog but nobody in the data has played it."""


class NotEnoughHistory(SoundalikeError):
    """/foryou was asked before the member rated enough songs."""


class MixNeedsTwoSongs(SoundalikeError):
    """A mix was asked with fewer than two different songs."""


def calibrated_deep_beta(manifest, key: str = "deep_beta") -> float | None:
    """The "deep" novelty exponent a model was calibrated with at train time, or None (a model
    from before calibration, or a value that is not a finite number >= 0): then the constant.
    ``key``: "deep_beta" (/soundalike, /mix) or "for_you_deep_beta" (/foryou)."""
    novelty = manifest.get("novelty") if hasattr(manifest, "get") else None
    value = novelty.get(key) if isinstance(novelty, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if value >= 0 and value == value and value != float("inf") else None


def calibrated_default(manifest, command: str = "similar") -> DefaultRanking:
    """What "balanced" means for ``command`` ("similar", "mix" or "for_you") with this model: the
    default ranking chosen at train time (its manifest's novelty.default), or the model's own
    order for a model from before that choice (or a setting that is not a valid one)."""
    novelty = manifest.get("novelty") if hasattr(manifest, "get") else None
    defaults = novelty.get("default") if isinstance(novelty, dict) else None
    chosen = DefaultRanking.from_dict(defaults.get(command)) if isinstance(defaults, dict) else None
    return PLAIN_DEFAULT if chosen is None else chosen


def wants_ann_index(config: Config, model) -> bool:
    """Whether [serving] index asks for an approximate index for this model."""
    return config.serving.index == "ann" or (
        config.serving.index == "auto" and model.scanned_items >= ann.AUTO_FROM_ITEMS
    )


def _index_in_background(config: Config, model) -> None:
    """[serving] index = "ann" (or "auto" on a large catalog): build the index off the start
    path; exact answers until it is ready."""
    if not wants_ann_index(config, model):
        return

    def build() -> None:
        started = time.perf_counter()
        try:
            model.build_ann()
        except SoundalikeError as error:
            log.warning("approximate index not built, answering exactly: %s", error)
            return
        log.info("approximate index for model %s ready in %.1f s", model.version, time.perf_counter() - started)

    threading.Thread(target=build, name="ann-index", daemon=True).start()


class SoundalikeService:
    def __init__(self, config: Config, dataset: Dataset, resolver: TitleResolver, store: ModelStore, model):
        self.config = config
        self.dataset = dataset
        self.resolver = resolver
        self.store = store
        self.model = model  # replaced whole by reload(); read once per request
        self.loaded_at = time.time()
        # A typed title resolves the same way for as long as this catalog is served, resolving
        # is the costliest step of an answer, and a burst asks about the same few songs again
        # and again (bench step burst). Resolutions are frozen; lru_cache is thread-safe.
        self._resolve_cached = functools.lru_cache(maxsize=RESOLUTIONS_CACHED)(self.resolve_afresh)

    # -- construction --------------------------------------------------------------------
    @classmethod
    def open(cls, config: Config, dataset: str | None = None) -> SoundalikeService:
        name = dataset or config.data.default_dataset
        started = time.perf_counter()
        # One answer is one small matrix-vector product: BLAS threads only add hand-off
        # cost there (measured 12.5 ms -> 4.6 ms p50 on the compute path, bench step e),
        # and the bot runs answers side by side in its own pool. Training runs in its
        # own process and sets its own limits.
        threadpool_limits(limits=1, user_api="blas")
        data = Dataset.open(config.datasets_dir, name)
        store = ModelStore(config.models_dir / name)
        model = store.load_serving(data)
        resolver = TitleResolver.build(data)
        log.info(
            "serving dataset %s (%s songs) with model %s, ready in %.2f s",
            name,
            f"{data.n_items:,}",
            model.version,
            time.perf_counter() - started,
        )
        _index_in_background(config, model)
        return cls(config, data, resolver, store, model)

    def reload(self, version: str | None = None) -> str:
        """Load ``version`` (default: the store's current) and swap it in."""
        model = self.store.load(self.dataset, version) if version else self.store.load_serving(self.dataset)
        _index_in_background(self.config, model)
        self.model = model
        log.info("now serving model %s", model.version)
        return model.version

    def rollback(self) -> tuple[str, str]:
        """Serve the version served before the current one (the store's history) and make it
        current; returns (the version answering before, the one answering now). The bot's
        /model rollback, the console's and the CLI's `rollback` all go this way."""
        before = self.model.version
        model = self.store.rollback_and_load(self.dataset)
        _index_in_background(self.config, model)
        self.model = model
        log.info("rolled back: now serving model %s (was %s)", model.version, before)
        return before, model.version

    def model_info(self) -> dict:
        model = self.model
        manifest = dict(model.manifest)
        manifest.setdefault("version", model.version)
        manifest["dataset"] = self.dataset.name
        manifest["versions"] = self.store.versions()
        return manifest

    # -- titles ----------------------------------------------------------------------------
    def resolve(self, title: str, artist: str | None = None) -> Resolution:
        """What a typed title means; when nothing matched, the closest titles come with it."""
        return self._resolve_cached(title, artist)

    def resolve_afresh(self, title: str, artist: str | None = None) -> Resolution:
        """:meth:`resolve` without its cache: what a first-time question costs (the bench times this)."""
        return self.resolver.resolve(title, artist=artist, closest=CLOSEST_TITLES)

    def complete(self, partial: str, artist: str | None = None, limit: int = 25) -> list[tuple[str, str]]:
        return self.resolver.complete(partial, artist=artist, limit=limit)

    def complete_artist(self, partial: str, limit: int = 25) -> list[str]:
        return self.resolver.complete_artist(partial, limit=limit)

    def candidate(self, item_id: str) -> Candidate | None:
        """The catalog song with this id (an autocomplete value), or None."""
        index = self.dataset.item_index(item_id)
        return None if index is None else self._candidate(index)

    def _candidate(self, index: int, score: float = 100.0) -> Candidate:
        return Candidate(
            item_index=int(index),
            item_id=str(self.dataset.item_ids[index]),
            title=self.dataset.title(index),
            artist=self.dataset.artist(index),
            score=score,
            listeners=int(self.dataset.listeners[index]),
        )

    def no_match_note(self) -> str | None:
        """What to add when a typed title matches nothing well (see :func:`no_match_note`)."""
        return no_match_note(self.dataset)

    def seed(self, title_or_id: str, artist: str | None = None) -> Candidate:
        """An exact item id, or the best match of a typed title when it is confident or a
        close call between good matches (several songs called "Hello": callers that can
        ask should use ``resolve``; here the most listened wins).

        Raises UnknownSong with the closest titles when nothing matches well: a far match
        ("everyone" is not "Everlong") or an artist's name is never taken as the song.
        """
        exact = self.candidate(title_or_id)
        if exact is not None:
            return exact
        resolution = self.resolve(title_or_id, artist)
        best = resolution.best
        if best is not None and resolution.kind == "song" and (resolution.confident or resolution.close_call):
            return best
        closest = [c.label for c in resolution.candidates[:CLOSEST_TITLES]] if resolution.found else resolution.closest
        raise UnknownSong(title_or_id, closest, note=self.no_match_note())

    # -- answers ---------------------------------------------------------------------------
    def _options(
        self,
        count: int,
        offset: int,
        novelty: str | None,
        per_artist_cap: int | None,
        exclude_seed_artist: bool = False,
        model=None,
        for_you: bool = False,
        mix: bool = False,
    ) -> RankingOptions:
        serving = self.config.serving
        model = self.model if model is None else model
        command = "for_you" if for_you else "mix" if mix else "similar"
        try:
            return RankingOptions(
                count=count,
                offset=offset,
                novelty=novelty or serving.novelty,
                per_artist_cap=serving.per_artist_cap if per_artist_cap is None else per_artist_cap,
                exclude_seed_artist=exclude_seed_artist,
                min_listeners=serving.min_listeners,
                deep_beta=calibrated_deep_beta(model.manifest, "for_you_deep_beta" if for_you else "deep_beta"),
                default=calibrated_default(model.manifest, command),
            )
        except ValueError as error:
            raise SoundalikeError(str(error)) from None

    def _indices(self, item_ids: Iterable[str]) -> list[int]:
        found = (self.dataset.item_index(i) for i in item_ids)
        return [i for i in found if i is not None]

    def _require_listeners(self, seeds: Sequence[int]) -> None:
        for seed in seeds:
            if self.dataset.listeners[seed] == 0:
                raise NoListeningData(
                    f"Nobody in the {self.dataset.name} data has played "
                    f"{self.dataset.title(seed)} by {self.dataset.artist(seed)}, so there is nothing to go on yet."
                )

    def similar(
        self,
        item_id: str,
        count: int = 5,
        offset: int = 0,
        novelty: str | None = None,
        exclude_seed_artist: bool = False,
        per_artist_cap: int | None = None,
        exclude_ids: Iterable[str] = (),
    ) -> Answer:
        """Songs whose listeners overlap with ``item_id``'s, best first."""
        seeds = self._indices([item_id])
        if not seeds:
            raise UnknownSong(item_id)
        return self._from_seeds(seeds, count, offset, novelty, per_artist_cap, exclude_ids, exclude_seed_artist)

    def mix(
        self,
        item_ids: Sequence[str],
        count: int = 5,
        offset: int = 0,
        novelty: str | None = None,
        per_artist_cap: int | None = None,
        exclude_ids: Iterable[str] = (),
        exclude_seed_artist: bool = False,
    ) -> Answer:
        """Recommendations from 2 to 5 songs together, every seed's neighbourhood taking its turn
        (``recommend.MIX_STRATEGY``); no seed appears in the answer."""
        seeds = list(dict.fromkeys(self._indices(item_ids)))
        if not seeds:
            raise UnknownSong(", ".join(item_ids))
        if len(seeds) < MIN_MIX_SEEDS:
            raise MixNeedsTwoSongs(
                f"A mix needs at least two different songs; got only {self.dataset.title(seeds[0])} by "
                f"{self.dataset.artist(seeds[0])} (for one song, ask for similar songs)."
            )
        if len(seeds) > MAX_MIX_SEEDS:
            raise SoundalikeError(f"A mix takes at most {MAX_MIX_SEEDS} songs, got {len(seeds)}.")
        return self._from_seeds(seeds, count, offset, novelty, per_artist_cap, exclude_ids, exclude_seed_artist)

    def _from_seeds(
        self,
        seeds: list[int],
        count: int,
        offset: int,
        novelty: str | None,
        per_artist_cap: int | None,
        exclude_ids: Iterable[str],
        exclude_seed_artist: bool,
    ) -> Answer:
        self._require_listeners(seeds)
        model = self.model
        options = self._options(count, offset, novelty, per_artist_cap, exclude_seed_artist, model, mix=len(seeds) > 1)
        indices, scores = model.similar_to_each(np.asarray(seeds, dtype=np.int64), options.pool_size)
        page = rank_for_seeds(
            self.dataset,
            self.resolver.versions,
            indices,
            scores,
            options,
            seeds=seeds,
            exclude=self._indices(exclude_ids),
        )
        return Answer(
            seeds=[self._candidate(s) for s in seeds],
            suggestions=explain_similar(self.dataset, seeds, page.picked),
            model_version=model.version,
            dataset=self.dataset.name,
            offset=offset,
            notes=[END_OF_LIST] if page.picked and not page.has_more else [],
            has_more=page.has_more,
        )

    def for_you(
        self,
        liked_ids: Sequence[str],
        count: int = 5,
        offset: int = 0,
        novelty: str | None = None,
        per_artist_cap: int | None = None,
        exclude_ids: Iterable[str] = (),
        played_ids: Sequence[str] = (),
    ) -> Answer:
        """A playlist from a member's liked songs, folded into the current model on the fly.

        ``played_ids``: catalog songs of the member's own listening (a linked ListenBrainz
        account); each weighs like a 👍, and reasons say "played" for them.
        """
        liked = list(dict.fromkeys(self._indices(liked_ids)))
        played = [index for index in dict.fromkeys(self._indices(played_ids)) if index not in set(liked)]
        history = liked + played
        if len(history) < MIN_LIKES_FOR_YOU:
            raise NotEnoughHistory(not_enough_history_text(len(liked), len(played), linked=bool(played_ids)))
        model = self.model
        options = self._options(count, offset, novelty, per_artist_cap, model=model, for_you=True)
        indices, scores = model.score_for_history(
            np.asarray(history, dtype=np.int64), np.ones(len(history), dtype=np.float32), options.pool_size
        )
        page = rank_for_seeds(
            self.dataset,
            self.resolver.versions,
            indices,
            scores,
            options,
            seeds=history,
            exclude=self._indices(exclude_ids),
            seed_artists=False,  # a member's history: its artists are welcome
        )
        return Answer(
            seeds=[],
            suggestions=explain_for_you(self.dataset, page.picked, history, model.contributions, played=set(played)),
            model_version=model.version,
            dataset=self.dataset.name,
            offset=offset,
            notes=[END_OF_LIST] if page.picked and not page.has_more else [],
            has_more=page.has_more,
        )
