"""LoadedModel: similar items, fold-in and contributions on planted genres."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from planted_data import ITEMS_PER_GENRE, planted_counts

from recommender.config import TrainParams
from recommender.errors import ModelError
from recommender.model import LoadedModel, top_n
from recommender.training import fit

# One factor per planted genre: the structure is exact, so the answers are too.
ALGORITHM_PARAMS = {
    "als": TrainParams(algorithm="als", factors=4, iterations=10, threads=1),
    "bpr": TrainParams(algorithm="bpr", factors=4, iterations=100, learning_rate=0.05, regularization=0.01, threads=1),
    "lmf": TrainParams(algorithm="lmf", factors=4, iterations=30, learning_rate=1.0, regularization=0.6, threads=1),
    "cosine": TrainParams(algorithm="cosine", neighbours=20, threads=1),
    "bm25": TrainParams(algorithm="bm25", neighbours=20, threads=1),
}


@pytest.fixture(scope="module")
def planted():
    return planted_counts(seed=0)


@pytest.fixture(scope="module")
def fitted_models(planted):
    counts, _ = planted
    return {name: fit(params, counts) for name, params in ALGORITHM_PARAMS.items()}


@pytest.mark.parametrize("algorithm", sorted(ALGORITHM_PARAMS))
def test_similar_items_finds_the_planted_genre(fitted_models, planted, algorithm):
    _, genre = planted
    model = fitted_models[algorithm].loaded()
    for seed in (3, 15, 27, 39):
        indices, scores = model.similar_items(np.array([seed]), 5)
        assert len(indices) == 5
        assert seed not in indices
        assert (genre[indices] == genre[seed]).all(), (algorithm, seed, indices)
        assert np.all(np.diff(scores) <= 1e-6), "best first"
        assert scores.min() > 0 and scores.max() <= 1.0 + 1e-5


@pytest.mark.parametrize("algorithm", ["als", "bm25"])
def test_several_seeds_blend_their_genres_and_are_excluded(fitted_models, planted, algorithm):
    _, genre = planted
    model = fitted_models[algorithm].loaded()
    seeds = np.array([1, 2, 21, 22])  # two songs of genre 0, two of genre 2
    indices, _ = model.similar_items(seeds, 10)
    assert not set(seeds) & set(indices.tolist())
    assert set(genre[indices].tolist()) == {0, 2}


@pytest.mark.parametrize("algorithm", ["als", "cosine"])
def test_similar_to_each_pools_every_seeds_neighbours_with_each_seeds_own_scores(fitted_models, planted, algorithm):
    _, genre = planted
    model = fitted_models[algorithm].loaded()
    seeds = np.array([22, 1, 22])  # genre 2, then genre 0; the repeat is dropped
    candidates, scores = model.similar_to_each(seeds, 5)
    assert scores.shape == (2, candidates.size) and not {1, 22} & set(candidates.tolist())
    for row, seed in enumerate([22, 1]):
        own, own_scores = model.similar_items(np.array([seed]), 5)
        assert set(own.tolist()) <= set(candidates.tolist()), "each seed's own neighbours are in the pool"
        at = np.searchsorted(candidates, own)
        np.testing.assert_allclose(scores[row, at], own_scores, rtol=1e-4, atol=1e-5)
    assert {0, 2} <= set(genre[candidates].tolist())
    one, one_scores = model.similar_to_each(np.array([22]), 5)
    same, same_scores = model.similar_items(np.array([22]), 5)
    assert one.tolist() == same.tolist() and one_scores.shape == (1, 5)
    np.testing.assert_array_equal(one_scores[0], same_scores)


@pytest.mark.parametrize("algorithm", sorted(ALGORITHM_PARAMS))
def test_fold_in_ranks_the_liked_songs_genre_first(fitted_models, planted, algorithm):
    _, genre = planted
    model = fitted_models[algorithm].loaded()
    liked = np.array([20, 21, 22])  # genre 2
    indices, scores = model.score_for_history(liked, np.ones(3), ITEMS_PER_GENRE - 3)
    assert not set(liked) & set(indices.tolist())
    assert (genre[indices] == 2).all(), (algorithm, indices)
    assert np.all(np.diff(scores) <= 1e-6)


def test_als_fold_in_matches_implicit_recalculate_user(fitted_models, planted):
    counts, _ = planted
    fitted = fitted_models["als"]
    model = fitted.loaded()
    user = 5
    row = fitted.weighted[user]
    with_implicit = fitted.implicit_model.recalculate_user(user, row)
    expected_scores = fitted.implicit_model.item_factors @ with_implicit
    # Relative weights: 1.0 is the typical training value, so pass the row divided by it.
    indices, scores = model.score_for_history(row.indices, row.data / model.typical_weight, counts.shape[1])
    np.testing.assert_allclose(scores, expected_scores[indices], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("algorithm", ["als", "bm25", "cosine"])
def test_contributions_sum_to_the_score_and_name_the_right_song(fitted_models, planted, algorithm):
    _, genre = planted
    model = fitted_models[algorithm].loaded()
    history = np.array([0, 1, 30, 31])  # two of genre 0, two of genre 3
    indices, scores = model.score_for_history(history, None, 20)
    for item, score in zip(indices[:5], scores[:5]):
        parts = model.contributions(history, int(item))
        assert parts.shape == history.shape
        assert parts.sum() == pytest.approx(float(score), rel=1e-3, abs=1e-4)
        strongest = history[int(np.argmax(parts))]
        assert genre[strongest] == genre[item], (algorithm, item, parts)


def test_bad_indices_are_refused_with_the_range(fitted_models):
    model = fitted_models["als"].loaded()
    with pytest.raises(ValueError, match="out of range"):
        model.similar_items(np.array([model.n_items]), 3)
    with pytest.raises(ValueError, match="weights has 1 entries for 2 items"):
        model.score_for_history(np.array([1, 2]), np.array([1.0]), 3)


def test_unknown_seed_gives_nothing_rather_than_noise():
    factors = np.zeros((4, 2), dtype=np.float32)
    factors[1:] = [[1, 0], [0.9, 0.1], [0.2, 1]]
    model = LoadedModel(manifest={"algorithm": "als"}, item_factors=factors)
    indices, scores = model.similar_items(np.array([0]), 3)  # item 0 has a zero vector
    assert indices.size == 0 and scores.size == 0
    indices, scores = model.similar_items(np.array([1]), 2)
    assert indices.tolist() == [2, 3]
    assert scores[0] == pytest.approx(0.9 / np.hypot(0.9, 0.1), rel=1e-5)


def test_knn_returns_only_real_neighbours():
    similarity = sp.csr_matrix(np.array([[1.0, 0.5, 0, 0], [0.5, 1.0, 0, 0], [0, 0, 1, 0.2], [0, 0, 0.2, 1]]))
    model = LoadedModel(manifest={"algorithm": "cosine"}, similarity=similarity)
    indices, scores = model.similar_items(np.array([0]), 3)
    assert indices.tolist() == [1] and scores.tolist() == [0.5]


def test_model_needs_exactly_one_kind_of_array():
    with pytest.raises(ModelError, match="exactly one"):
        LoadedModel(manifest={"algorithm": "als"})


def test_top_n_skips_excluded_and_orders():
    scores = np.array([0.1, -np.inf, 0.7, 0.3, 0.7], dtype=np.float32)
    indices, values = top_n(scores, 10)
    assert indices.tolist()[:2] in ([2, 4], [4, 2]) and 1 not in indices
    assert values.tolist() == sorted(values.tolist(), reverse=True)
    assert top_n(scores, 0)[0].size == 0


def test_items_with_zero_vectors_are_skipped_and_indices_stay_the_catalogs():
    # Songs nobody played keep zero factors; the scan skips them but answers in catalog indices.
    rng = np.random.default_rng(3)
    factors = rng.normal(size=(60, 8)).astype(np.float32)
    unplayed = np.arange(0, 60, 3)
    factors[unplayed] = 0.0
    model = LoadedModel(manifest={"algorithm": "als", "version": "v1"}, item_factors=factors)
    unit = factors / np.maximum(np.linalg.norm(factors, axis=1, keepdims=True), 1e-12)
    for seeds in ([1], [4, 7], [1, 3]):  # 3 has a zero vector: it adds nothing, is still excluded
        indices, scores = model.similar_items(np.array(seeds), 10)
        query = unit[seeds].sum(axis=0)
        query /= np.linalg.norm(query)
        expected = np.argsort(-(unit @ query), kind="stable")
        expected = [i for i in expected if i not in seeds and i not in unplayed][:10]
        assert indices.tolist() == expected
        np.testing.assert_allclose(scores, (unit @ query)[expected], rtol=1e-5)
    liked, _ = model.score_for_history(np.array([2, 5]), n=40)
    assert not set(liked.tolist()) & set(unplayed.tolist()) and not {2, 5} & set(liked.tolist())
    assert model.similar_items(np.array([0]), 5)[0].size == 0, "an unplayed seed gives nothing"
