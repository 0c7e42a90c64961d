"""Calibrating "deep cuts": the rule, on validation users only, and what `train` says of it."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from planted_data import write_config
from skewed_data import write_skewed_dataset

from recommender.config import TrainParams, load_config
from recommender.dataset import Dataset
from recommender.evaluation.calibration import (
    DEEP_BETA_GRID,
    DEEP_HIT_FLOOR,
    DEEP_LISTENER_TARGET,
    calibrate_deep,
    calibrate_novelty,
    choose_deep_beta,
)
from recommender.evaluation.splits import users_split
from recommender.ranking import DefaultRanking

FAST = TrainParams(factors=8, iterations=10, threads=1)


@pytest.fixture(scope="module")
def skewed(tmp_path_factory) -> Dataset:
    return write_skewed_dataset(tmp_path_factory.mktemp("calibration"))


def figures(hit: float, median: float) -> dict:
    return {"hit_rate@10": hit, "median_listeners": median}


def test_deep_beta_is_the_smallest_that_halves_the_listeners_within_the_hit_floor():
    balanced = figures(0.6, 100.0)
    by_beta = {0.05: figures(0.55, 70.0), 0.1: figures(0.5, 50.0), 0.2: figures(0.4, 30.0), 0.3: figures(0.25, 20.0)}
    assert choose_deep_beta(balanced, by_beta, 10) == (0.1, True)
    # Halving only past the floor: the largest beta that keeps the floor, and the target says so.
    by_beta = {0.05: figures(0.55, 70.0), 0.1: figures(0.31, 60.0), 0.2: figures(0.2, 40.0)}
    assert choose_deep_beta(balanced, by_beta, 10) == (0.1, False)
    # Nothing keeps the floor: deep answers like balanced rather than lose most hits.
    assert choose_deep_beta(balanced, {0.05: figures(0.1, 10.0)}, 10) == (0.0, False)


def test_calibration_halves_the_median_listeners_on_validation_and_keeps_the_floor(skewed):
    novelty = calibrate_deep(skewed, FAST, k=5, seed=1)
    assert (novelty["deep_beta"], novelty["for_you_deep_beta"]) == (
        novelty["similar"]["deep_beta"],
        novelty["for_you"]["deep_beta"],
    )
    assert novelty["similar"]["listener_target_met"], "this data has deep cuts to find for one song"
    assert len(novelty["similar"]["grid"]) == len(novelty["for_you"]["grid"]) == len(DEEP_BETA_GRID)
    for part, protocol in ((novelty["similar"], "item2item"), (novelty["for_you"], "users")):

        def keeps_floor(row):
            return row["hit_share"] >= DEEP_HIT_FLOOR

        def meets_both(row):
            return keeps_floor(row) and row["listener_share"] <= DEEP_LISTENER_TARGET

        chosen = next(row for row in part["grid"] if row["beta"] == part["deep_beta"])
        if part["listener_target_met"]:
            assert meets_both(chosen)
            assert not any(meets_both(row) for row in part["grid"] if row["beta"] < chosen["beta"])
        else:  # (on this small data, /foryou's lists cannot halve their listeners within the floor)
            assert not any(meets_both(row) for row in part["grid"])
            assert chosen["beta"] == max(row["beta"] for row in part["grid"] if keeps_floor(row))
        validation = part["validation"]
        assert validation["protocol"] == protocol and validation["validation_seed"] == 2 and validation["users"] > 0


def test_calibration_never_looks_at_the_test_users(skewed):
    """The users `evaluate --protocol item2item` holds out with the same seed can play anything:
    the calibration does not change."""
    counts = sp.csr_matrix(skewed.interactions)
    test_users = users_split(counts, 0.8, 1).users
    scrambled = counts.tolil()
    rng = np.random.default_rng(0)
    for user in test_users.tolist():
        played = counts[user].indices
        scrambled[user, played] = 0
        scrambled[user, rng.choice(counts.shape[1], played.size, replace=False)] = 7.0
    scrambled = sp.csr_matrix(scrambled)
    scrambled.eliminate_zeros()
    assert users_split(scrambled, 0.8, 1).users.tolist() == test_users.tolist()
    assert (scrambled != counts).nnz > 0
    before = calibrate_deep(skewed, FAST, k=5, seed=1)
    after = calibrate_deep(skewed, FAST, k=5, seed=1, interactions=scrambled)
    assert before == after
    assert before["default_choice"]["similar"]["grid"], "each command's default is chosen in the same pass"


def test_calibrating_for_a_model_says_what_was_chosen_for_each_kind_of_answer(skewed, tmp_path):
    config = load_config(write_config(tmp_path, "[evaluation]\nk = 5\n"))
    lines: list[str] = []
    novelty = calibrate_novelty(skewed, FAST, config, lines.append)
    assert novelty == calibrate_deep(
        skewed,
        FAST,
        k=5,
        seed=config.evaluation.random_state,
        train_share=config.evaluation.train_share,
        per_artist_cap=config.serving.per_artist_cap,
        min_listeners=config.serving.min_listeners,
    )
    assert lines[0].startswith("Calibrating the deep cuts setting on a validation split") and "(seed 2)" in lines[0]
    for line, name, command in zip(lines[1:4], ("/soundalike", "/mix", "/foryou"), ("similar", "mix", "for_you")):
        assert line.startswith(f"Default for {name}: {DefaultRanking(**novelty['default'][command]).describe()}")
    assert lines[4].startswith(f"Deep cuts for /soundalike and /mix: beta {novelty['deep_beta']:g}: ")
    assert lines[5].startswith(f"Deep cuts for /foryou: beta {novelty['for_you_deep_beta']:g}")
