"""Training: weighting, the users x items orientation, BLAS threads, tuning, the command."""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import threadpoolctl
from planted_data import planted_counts, write_config, write_planted_dataset

from recommender import evaluation, training
from recommender.config import TrainParams, load_config
from recommender.errors import ConfigError
from recommender.store import ModelStore
from recommender.training import candidate_params, fit, tune, weight_interactions


def run_command(config_path, *argv: str) -> int:
    """Run one of this area's sub-commands the way cli.main does."""
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    training.register(commands)
    evaluation.register(commands)
    args = parser.parse_args(list(argv))
    args.config_obj = load_config(config_path)
    return args.func(args)


# -- weighting and orientation ---------------------------------------------------------
def test_weightings():
    counts = sp.csr_matrix(np.array([[1.0, 0.0, 100.0], [0.5, 3.0, 0.0]], dtype=np.float32))
    raw = weight_interactions(counts, "raw")
    np.testing.assert_array_equal(raw.toarray(), counts.toarray())
    logged = weight_interactions(counts, "log")
    np.testing.assert_allclose(logged.toarray(), [[1.0, 0, 1 + np.log(100)], [1.0, 1 + np.log(3), 0]], rtol=1e-6)
    from implicit.nearest_neighbours import bm25_weight

    bm25 = weight_interactions(counts, "bm25", k1=1.2, b=0.75)
    expected = bm25_weight(counts, K1=1.2, B=0.75).toarray()  # on users x items, never transposed
    assert bm25.shape == counts.shape
    np.testing.assert_allclose(
        bm25.toarray()[counts.toarray() > 0], np.maximum(expected[counts.toarray() > 0], 1e-6), rtol=1e-5
    )
    assert (bm25.data > 0).all(), "implicit would read a negative confidence as a dislike"
    assert bm25.dtype == np.float32


def test_models_are_fitted_on_users_by_items():
    counts, _ = planted_counts()
    fitted = fit(TrainParams(factors=4, iterations=2, threads=1), counts)
    assert fitted.implicit_model.user_factors.shape == (counts.shape[0], 4)
    assert fitted.implicit_model.item_factors.shape == (counts.shape[1], 4)
    assert fitted.arrays()["item_factors"].shape == (counts.shape[1], 4)


@pytest.mark.parametrize("algorithm", ["als", "bpr", "lmf"])
def test_each_iteration_is_timed_and_the_median_kept_in_the_manifest(algorithm):
    counts, _ = planted_counts()
    fitted = fit(TrainParams(algorithm=algorithm, factors=4, iterations=3, threads=1), counts)
    assert len(fitted.iteration_seconds) == 3 and all(s >= 0 for s in fitted.iteration_seconds)
    assert sum(fitted.iteration_seconds) <= fitted.seconds
    training = fitted.manifest_fields()["training"]
    assert training["median_iteration_seconds"] == round(float(np.median(fitted.iteration_seconds)), 3)


def test_params_are_validated_and_read_from_config(tmp_path):
    with pytest.raises(ConfigError, match="algorithm 'svd' is not one of"):
        TrainParams(algorithm="svd")
    with pytest.raises(ConfigError, match="factors must be at least 1"):
        TrainParams(factors=0)
    config = load_config(write_config(tmp_path, "[evaluation]\nk = 5\n"))
    params = config.training
    assert params.factors == 8 and params.iterations == 10 and params.algorithm == "als"
    assert TrainParams.from_dict({**params.to_dict(), "from_the_future": 1}) == params


@pytest.mark.parametrize("algorithm", ["als", "bpr"])
def test_no_openblas_thread_warning_while_training(algorithm):
    blas = [api for api in threadpoolctl.threadpool_info() if api["user_api"] == "blas"]
    if not blas:
        pytest.skip("no BLAS library loaded that threadpoolctl can limit")
    import implicit.utils
    from implicit.cpu.als import AlternatingLeastSquares

    counts, _ = planted_counts()
    with threadpoolctl.threadpool_limits(2, "blas"):
        # Control: with 2 BLAS threads implicit does warn, so the check below can see it.
        implicit.utils._checked_blas_config = False
        with warnings.catch_warnings(record=True) as control:
            warnings.simplefilter("always")
            AlternatingLeastSquares(factors=2)
        implicit.utils._checked_blas_config = False
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit(TrainParams(algorithm=algorithm, factors=4, iterations=2, threads=1), counts)
    assert any("threadpool" in str(w.message) for w in control)
    assert not [w for w in caught if "threadpool" in str(w.message) or "BLAS" in str(w.message)]


# -- tuning ----------------------------------------------------------------------------
def test_candidates_start_with_the_base_and_are_distinct():
    base = TrainParams(factors=8)
    candidates = candidate_params(base, 12, seed=3)
    assert candidates[0] == base and len(candidates) == 12
    assert len(set(candidates)) == 12
    grid = training.SEARCH_SPACES["als"]
    assert all(c.factors in grid["factors"] and c.weighting in grid["weighting"] for c in candidates[1:])
    assert candidate_params(base, 12, seed=3) == candidates, "a seed gives the same search"


def test_tune_chooses_on_validation_and_touches_test_once(monkeypatch):
    counts, _ = planted_counts(seed=2)
    splits: list[tuple] = []
    real_split = evaluation.holdout_split

    def spying_split(matrix, share, seed):
        train, test = real_split(matrix, share, seed)
        splits.append((matrix, train, test))
        return train, test

    scored: list[tuple] = []
    real_metrics = evaluation.holdout_metrics

    def spying_metrics(model, train, test, k):
        result = real_metrics(model, train, test, k)
        scored.append((test, train, result))
        return result

    monkeypatch.setattr(evaluation, "holdout_split", spying_split)
    monkeypatch.setattr(evaluation, "holdout_metrics", spying_metrics)
    base = TrainParams(factors=4, iterations=3, threads=1)
    result = tune(counts, base, k=5, seed=4, max_trials=6, time_budget=60)

    (_, train, test), (inner_source, fit_part, validation) = splits
    assert inner_source is train, "the validation split is carved from the training part"
    # Validation and fitting data never contain a test interaction.
    test_cells = set(zip(*test.nonzero()))
    assert not test_cells & set(zip(*validation.nonzero()))
    assert not test_cells & set(zip(*fit_part.nonzero()))
    # Every trial was scored on validation; the test split was used last, exactly twice
    # (the chosen configuration and the popularity baseline on the same split).
    uses = ["test" if t is test else "validation" if t is validation else "other" for t, _, _ in scored]
    assert uses == ["validation"] * len(result.trials) + ["test", "test"]
    assert scored[-2][1] is train and scored[-1][1] is train
    # The chosen configuration is the validation winner.
    best = max(result.trials, key=lambda t: t.validation)
    assert result.best == best.params
    assert [t.validation for t in result.trials] == [r["precision@5"] for _, _, r in scored[:-2]]
    assert result.test == scored[-2][2] and result.baseline == scored[-1][2]


def test_tune_respects_its_time_budget():
    counts, _ = planted_counts()
    result = tune(counts, TrainParams(factors=4, iterations=2, threads=1), k=5, max_trials=30, time_budget=0)
    assert len(result.trials) == 1, "the base configuration is always tried, nothing after the budget"


# -- the command -----------------------------------------------------------------------
def test_train_command_publishes_with_metrics(tmp_path, capsys):
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    dataset = write_planted_dataset(config.datasets_dir)
    assert run_command(config_path, "train", "--dataset", "planted", "--quiet") == 0
    out = capsys.readouterr().out
    assert "Published planted/v1 (now current)" in out
    assert "popularity precision@10" in out
    assert (
        run_command(
            config_path,
            "train",
            "--dataset",
            "planted",
            "--algorithm",
            "bm25",
            "--neighbours",
            "15",
            "--no-eval",
            "--quiet",
        )
        == 0
    )
    store = ModelStore.for_dataset(config.models_dir, "planted")
    assert store.versions() == ["v1", "v2"] and store.current_version() == "v2"
    first = store.read_manifest("v1")
    assert first["parameters"]["factors"] == 8 and first["weighting"] == "bm25"
    assert first["metrics"]["protocol"] == "holdout"
    assert set(first["metrics"]["model"]) == set(first["metrics"]["baseline"]) == {"precision@10", "map@10", "ndcg@10"}
    assert first["metrics"]["model"]["precision@10"] > first["metrics"]["baseline"]["precision@10"]
    assert first["dataset"]["fingerprint"] == dataset.fingerprint
    second = store.read_manifest("v2")
    assert second["algorithm"] == "bm25" and second["parameters"]["neighbours"] == 15
    assert second["metrics"] == {} and second["parent"] == "v1"
    assert store.load(dataset).similar_items(np.array([0]), 3)[0].size == 3
    capsys.readouterr()
    assert run_command(config_path, "models", "--dataset", "planted", "--verify") == 0
    listing = capsys.readouterr().out
    assert "* v2" in listing and "  v1" in listing


def test_train_tune_no_publish(tmp_path, capsys):
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    write_planted_dataset(config.datasets_dir)
    assert (
        run_command(
            config_path, "train", "--dataset", "planted", "--tune", "--tune-trials", "3", "--no-publish", "--quiet"
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Chosen on validation:" in out and "Not published" in out
    assert ModelStore.for_dataset(config.models_dir, "planted").versions() == []


def test_rollback_command(tmp_path, capsys):
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    write_planted_dataset(config.datasets_dir)
    for _ in range(2):
        run_command(config_path, "train", "--dataset", "planted", "--no-eval", "--quiet")
    assert run_command(config_path, "rollback", "--dataset", "planted") == 0
    assert "current moved from v2 to v1" in capsys.readouterr().out
    assert json.loads((config.models_dir / "planted" / "v1" / "manifest.json").read_text())["version"] == "v1"
    assert ModelStore.for_dataset(config.models_dir, "planted").current_version() == "v1"


def test_models_verify_says_what_it_checked_and_fails_on_a_damaged_version(tmp_path, capsys):
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    write_planted_dataset(config.datasets_dir)
    for _ in range(3):
        assert run_command(config_path, "train", "--dataset", "planted", "--no-eval", "--quiet") == 0
    capsys.readouterr()
    assert run_command(config_path, "models", "--dataset", "planted", "--verify") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "verified 3 versions: all OK"

    folder = config.models_dir / "planted" / "v2"
    data = bytearray((folder / "item_factors.npy").read_bytes())
    data[-1] ^= 0xFF
    (folder / "item_factors.npy").write_bytes(bytes(data))
    assert run_command(config_path, "models", "--dataset", "planted", "--verify") == 1
    out = capsys.readouterr().out.splitlines()
    assert "  v2  DAMAGED: model planted/v2: item_factors.npy fails its checksum (altered or truncated)" in out
    assert out[-1] == (
        "verified 3 versions: v2 DAMAGED (item_factors.npy fails its checksum (altered or truncated)), others OK"
    )
    # Without --verify only the manifests are read: v2's is intact.
    assert run_command(config_path, "models", "--dataset", "planted") == 0


def test_models_verify_checks_contents_and_the_dataset_and_names_what_is_served(tmp_path, capsys):
    from recommender import store as store_module

    config_path = write_config(tmp_path)
    config = load_config(config_path)
    dataset = write_planted_dataset(config.datasets_dir)
    for _ in range(2):
        assert run_command(config_path, "train", "--dataset", "planted", "--no-eval", "--quiet") == 0
    folder = config.models_dir / "planted" / "v2"
    # NaN factors with a checksum that agrees: damaged all the same.
    factors = np.load(folder / "item_factors.npy")
    factors[3, 0] = np.nan
    np.save(folder / "item_factors.npy", factors)
    checksums = json.loads((folder / "checksums.json").read_text())
    checksums["item_factors.npy"] = store_module._sha256(folder / "item_factors.npy")
    (folder / "checksums.json").write_text(json.dumps(checksums))
    capsys.readouterr()
    assert run_command(config_path, "models", "--dataset", "planted", "--verify") == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-2] == "verified 2 versions: v2 DAMAGED (the model holds NaN or infinite values), others OK"
    assert out[-1] == "serving: v1 (current v2 cannot be served)"
    # v1 trained on another dataset (a whole model, checksums agreeing): not damaged, not servable.
    first = config.models_dir / "planted" / "v1"
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["dataset"]["fingerprint"] == dataset.fingerprint
    manifest["dataset"]["fingerprint"] = "0" * 32
    (first / "manifest.json").write_text(json.dumps(manifest))
    checksums = json.loads((first / "checksums.json").read_text())
    checksums["manifest.json"] = store_module._sha256(first / "manifest.json")
    (first / "checksums.json").write_text(json.dumps(checksums))
    assert run_command(config_path, "models", "--dataset", "planted", "--verify") == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-2] == (
        "verified 2 versions: v2 DAMAGED (the model holds NaN or infinite values), v1 trained on other data, none OK"
    )
    assert out[-1] == "serving: nothing (current v2 cannot be served)"
