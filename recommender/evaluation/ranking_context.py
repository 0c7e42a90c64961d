"""A split's training part as the bot ranks answers from it.

The model's pool is made as ``SoundalikeService`` makes it (``similar_to_each`` for songs,
``score_for_history`` with weights 1 for a member's history), and ranked by
:func:`recommender.ranking.rank_for_seeds`, the ranking every front end answers with.
Listeners, artists and version groups come from the training part only, so nothing about
the held-out users leaks in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender import ranking
from recommender.dataset import Dataset
from recommender.errors import ConfigError
from recommender.model import LoadedModel
from recommender.ranking import RankingOptions
from recommender.training import FittedModel
from recommender.versions import VersionGroups

from .baseline import PopularityRecommender


def _catalog(dataset: Dataset | sp.spmatrix, n_items: int) -> pd.DataFrame:
    """The dataset's items, or one made-up song per artist when a bare matrix was given."""
    if isinstance(dataset, Dataset):
        return dataset.items
    names = [str(i) for i in range(n_items)]
    return pd.DataFrame({"item_id": names, "title": names, "artist": names})


@dataclass
class RankingContext:
    """What the bot ranks with, made from a split's training part only: the catalog as a
    Dataset over the training matrix (listeners, artists), its version groups and the fitted
    model's serving view."""

    training: Dataset
    versions: VersionGroups
    served: LoadedModel
    items: pd.DataFrame

    @classmethod
    def build(cls, dataset: Dataset | sp.spmatrix, train: sp.csr_matrix, fitted: FittedModel) -> RankingContext:
        items = _catalog(dataset, train.shape[1])
        training = Dataset(
            name=dataset.name if isinstance(dataset, Dataset) else "evaluation",
            path=dataset.path if isinstance(dataset, Dataset) else ".",
            interactions=train,
            items=items,
        )
        return cls(training, VersionGroups.build(training), fitted.loaded("evaluation"), items)

    @property
    def listeners(self) -> np.ndarray:
        return self.training.listeners

    @property
    def item_group(self) -> np.ndarray:
        """Each item's version group (versions of one song count as one in hit rates)."""
        return self.versions.item_group

    def pool(self, seeds: np.ndarray, size: int, *, fold_in: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The model's candidates for ``seeds``: their neighbours (songs asked about), or with
        ``fold_in`` the seeds folded in as a member's history (/foryou)."""
        if fold_in:
            return self.served.score_for_history(seeds, np.ones(seeds.size, dtype=np.float32), size)
        return self.served.similar_to_each(seeds, size)

    def rank(
        self,
        pool: np.ndarray,
        scores: np.ndarray,
        options: RankingOptions,
        seeds: np.ndarray,
        *,
        seed_artists: bool = True,
    ) -> np.ndarray:
        """The item indices the bot would show for this pool."""
        page = ranking.rank_for_seeds(
            self.training,
            self.versions,
            pool,
            scores,
            options,
            seeds=np.asarray(seeds).tolist(),
            seed_artists=seed_artists,
        )
        return np.array([index for index, _ in page.picked], dtype=np.int64)

    def popular(
        self,
        popularity: PopularityRecommender,
        options: RankingOptions,
        seeds: np.ndarray,
        *,
        seed_artists: bool = True,
    ) -> np.ndarray:
        """The popularity baseline's list, through the same ranking (so it obeys the same filters)."""
        top = popularity.top(seeds, options.pool_size)
        scores = self.listeners[top] / float(max(self.listeners.max(initial=0), 1))
        # Its "scores" are relative listeners, not similarities: the match floor does not apply.
        return self.rank(top, scores, dataclasses.replace(options, min_score=0.0), seeds, seed_artists=seed_artists)


def ranking_options(**values: Any) -> RankingOptions:
    """RankingOptions for an evaluation, a value out of range named as a configuration error."""
    try:
        return RankingOptions(**values)
    except ValueError as error:
        raise ConfigError(f"ranking options: {error}") from None
