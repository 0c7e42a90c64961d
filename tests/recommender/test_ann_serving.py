"""[serving] index = "ann": LoadedModel.similar_items answers through recommender.ann once an index is built."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

pytest.importorskip("faiss", reason="faiss-cpu is in requirements.txt; this environment lacks it")

from recommender import ann
from recommender.model import LoadedModel


def factor_model(n_items: int, dim: int, seed: int) -> LoadedModel:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((32, dim)).astype(np.float32)
    factors = centres[rng.integers(0, 32, size=n_items)] + 0.7 * rng.standard_normal((n_items, dim)).astype(np.float32)
    return LoadedModel(manifest={"algorithm": "als"}, version="t1", item_factors=factors)


def test_small_catalog_answers_exactly_as_brute_force():
    model = factor_model(500, 8, seed=2)
    before = [model.similar_items(np.array(seeds), 10) for seeds in ([3], [10, 42], [499])]
    model.build_ann()
    assert model.ann_index is not None and model.ann_index.kind == "exact"
    for seeds, (ids, scores) in zip(([3], [10, 42], [499]), before):
        got_ids, got_scores = model.similar_items(np.array(seeds), 10)
        np.testing.assert_array_equal(got_ids, ids)
        np.testing.assert_allclose(got_scores, scores, rtol=1e-5)
        assert not set(seeds) & set(got_ids.tolist()), "seeds are never returned"


def test_large_catalog_keeps_recall_and_never_returns_the_seed():
    model = factor_model(ann.EXACT_BELOW + 5_000, 16, seed=4)
    seeds = np.random.default_rng(1).choice(model.n_items, size=100, replace=False)
    exact = [set(model.similar_items(np.array([s]), 10)[0].tolist()) for s in seeds]
    model.build_ann()
    assert model.ann_index.kind == "ivf"
    found = [model.similar_items(np.array([s]), 10)[0] for s in seeds]
    assert all(len(f) == 10 and s not in f for f, s in zip(found, seeds))
    assert np.mean([len(set(f.tolist()) & e) / 10 for f, e in zip(found, exact)]) >= 0.95


def test_neighbour_models_have_no_index_to_build():
    import scipy.sparse as sp

    model = LoadedModel(manifest={"algorithm": "cosine"}, similarity=sp.identity(5, format="csr"))
    model.build_ann()
    assert model.ann_index is None


@pytest.mark.slow
def test_service_with_ann_setting_answers_like_the_exact_service(demo_env, demo_service):
    from recommender.service import SoundalikeService

    config = dataclasses.replace(demo_env.config, serving=dataclasses.replace(demo_env.config.serving, index="ann"))
    service = SoundalikeService.open(config)
    deadline = time.monotonic() + 30
    while service.model.ann_index is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.model.ann_index is not None, "the background index build did not finish in 30 s"
    assert demo_service.model.ann_index is None  # the default setting stays exact
    items = demo_service.dataset.item_ids[np.flatnonzero(demo_service.dataset.listeners > 0)[:5]]
    for item_id in items:
        exact = [s.item_id for s in demo_service.similar(str(item_id)).suggestions]
        approximate = [s.item_id for s in service.similar(str(item_id)).suggestions]
        assert approximate == exact  # the demo catalog is small enough for an exact index


@pytest.mark.parametrize("from_items, built", [(1, True), (10**9, False)])
def test_auto_setting_builds_an_index_only_for_large_catalogs(demo_env, monkeypatch, from_items, built):
    from recommender import ann
    from recommender.service import SoundalikeService

    assert demo_env.config.serving.index == "auto", "the shipped default"
    monkeypatch.setattr(ann, "AUTO_FROM_ITEMS", from_items)
    service = SoundalikeService.open(demo_env.config)
    deadline = time.monotonic() + 30
    while built and service.model.ann_index is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0 if built else 0.5)  # a wrongly started build would have finished on the demo
    assert (service.model.ann_index is not None) == built
