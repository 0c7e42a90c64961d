"""`evaluate --knobs`: the novelty knob's trade-off measured on the bot's own ranking path.

The data is planted-genre listening (as in planted_data.py) with a strong popularity skew
inside each genre and two artists per genre, so the knob and the artist cap both have
something to change and the right direction of each is known.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from planted_data import write_config

from recommender import evaluation, ranking
from recommender.cli.main import main as cli_main
from recommender.config import load_config
from recommender.dataset import Dataset, write_dataset
from recommender.evaluation import (
    ItemSimilarity,
    ListFigures,
    evaluate,
    item2item_seeds,
    knob_cases,
    users_split,
)
from recommender.config import TrainParams

FAST = TrainParams(factors=8, iterations=10, threads=1)
GENRES, ITEMS_PER_GENRE, USERS_PER_GENRE, ITEMS_PER_USER = 3, 24, 80, 6
FIGURES = {
    "hit_rate@5",
    "recall@5",
    "coverage",
    "novelty",
    "diversity",
    "mean_listeners",
    "median_listeners",
    "mean_length",
}


def skewed_counts(seed: int = 0) -> sp.csr_matrix:
    """Listeners play only their genre; within it, song r is chosen with weight 1 / (r + 1)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, ITEMS_PER_GENRE + 1)
    weights /= weights.sum()
    rows, cols = [], []
    for genre in range(GENRES):
        for member in range(USERS_PER_GENRE):
            songs = rng.choice(ITEMS_PER_GENRE, size=ITEMS_PER_USER, replace=False, p=weights)
            rows.extend([genre * USERS_PER_GENRE + member] * ITEMS_PER_USER)
            cols.extend((songs + genre * ITEMS_PER_GENRE).tolist())
    values = rng.integers(1, 40, size=len(rows)).astype(np.float32)
    return sp.csr_matrix((values, (rows, cols)), shape=(GENRES * USERS_PER_GENRE, GENRES * ITEMS_PER_GENRE))


def write_skewed_dataset(datasets_dir, name: str = "skewed") -> Dataset:
    counts = skewed_counts()
    n_items = counts.shape[1]
    items = pd.DataFrame(
        {
            "item_id": [f"song{i}" for i in range(n_items)],
            "title": [f"Song {i}" for i in range(n_items)],
            # Two artists per genre: any in-genre list of 5 has 3 by one artist unless capped.
            "artist": [f"Artist {i // ITEMS_PER_GENRE}{'ab'[i % 2]}" for i in range(n_items)],
        }
    )
    write_dataset(
        datasets_dir / name,
        name=name,
        interactions=counts,
        items=items,
        user_ids=[f"user{u}" for u in range(counts.shape[0])],
    )
    return Dataset.open(datasets_dir, name)


@pytest.fixture(scope="module")
def skewed(tmp_path_factory) -> Dataset:
    return write_skewed_dataset(tmp_path_factory.mktemp("knobs"))


def run_command(config_path, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    evaluation.register(commands)
    args = parser.parse_args(list(argv))
    args.config_obj = load_config(config_path)
    return args.func(args)


# -- the figures by hand ---------------------------------------------------------------
def test_item_similarity_is_cosine_for_factors_and_the_closer_direction_for_knn():
    factors = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]], dtype=np.float32)
    by_factors = ItemSimilarity({"item_factors": factors})
    assert by_factors.mean_distance(np.array([0, 1])) == pytest.approx(0.0)
    assert by_factors.mean_distance(np.array([0, 2])) == pytest.approx(1.0)
    assert by_factors.mean_distance(np.array([0, 1, 2])) == pytest.approx(2 / 3)
    assert by_factors.mean_distance(np.array([2])) is None
    # Row 0 keeps item 1 at half its best neighbour; row 1 does not keep item 0 at all.
    knn = sp.csr_matrix(np.array([[0.0, 0.2, 0.4], [0.0, 0.0, 0.5], [0.1, 0.0, 0.0]]))
    by_neighbours = ItemSimilarity({"similarity": knn})
    assert by_neighbours.mean_distance(np.array([0, 1])) == pytest.approx(0.5)
    assert by_neighbours.mean_distance(np.array([0, 2])) == pytest.approx(0.0)


def test_list_figures_by_hand():
    listeners = np.array([8, 4, 2, 1, 0])
    figures = ListFigures(
        k=2,
        listeners=listeners,
        n_users=16,
        similarity=ItemSimilarity({"item_factors": np.eye(5)}),
        group_of=np.array([0, 1, 2, 3, 3]),
    )
    figures.add(np.array([0, 1]), targets=np.array([1]))  # one hit
    figures.add(np.array([2, 3]), targets=np.array([4]))  # 3 is another version of 4: a hit
    figures.add(np.array([0]), targets=np.array([2, 3]))  # no hit, one song
    result = figures.result()
    assert result["hit_rate@2"] == pytest.approx(2 / 3)
    assert result["recall@2"] == pytest.approx((1 / 1 + 1 / 1 + 0 / 2) / 3)
    assert result["coverage"] == pytest.approx(4 / 4)  # items 0-3 shown, 4 songs have listeners
    assert result["novelty"] == pytest.approx(((1 + 2) / 2 + (3 + 4) / 2 + 1) / 3)  # -log2(8/16) = 1, ...
    assert result["mean_listeners"] == pytest.approx(((8 + 4) / 2 + (2 + 1) / 2 + 8) / 3)
    assert result["diversity"] == pytest.approx(1.0)  # orthogonal factors; the one-song list has no pair
    assert result["mean_length"] == pytest.approx(5 / 3)


# -- the knob on the bot's ranking path --------------------------------------------------
@pytest.mark.parametrize("protocol", ["item2item", "users"])
def test_deep_cuts_are_more_novel_and_less_listened_than_popular(skewed, protocol):
    report = evaluate(skewed, FAST, protocol, k=5, seed=1, knobs=True)
    popular, balanced, deep = (report["knobs"][level] for level in ("popular", "balanced", "deep"))
    assert deep["novelty"] > balanced["novelty"] > popular["novelty"]
    assert deep["mean_listeners"] < balanced["mean_listeners"] < popular["mean_listeners"]
    baseline = report["knobs_baseline"]
    assert baseline["novelty"] < popular["novelty"] and baseline["coverage"] < balanced["coverage"]
    for figures in [*report["knobs"].values(), *report["knobs_no_artist_cap"].values(), baseline]:
        assert set(figures) == FIGURES
        assert 0.0 < figures["coverage"] <= 1.0
        assert 0.0 <= figures["hit_rate@5"] <= 1.0 and 0.0 <= figures["recall@5"] <= 1.0
        # Lists end at the match floor (ranking.MIN_MATCH_SCORE): a few folded-in ones are shorter.
        assert figures["mean_length"] == 5.0 or (protocol == "users" and 4.5 <= figures["mean_length"] < 5.0)
    # --knobs only adds: the protocol's own report is the same as without it.
    plain = evaluate(skewed, FAST, protocol, k=5, seed=1)
    assert {key: value for key, value in report.items() if not key.startswith("knobs")} == plain


def test_every_setting_ranks_the_same_users_pools_and_seeds(skewed, monkeypatch):
    calls: list[tuple] = []
    real_rank = ranking.rank

    def spy(dataset, indices, scores, options, **kwargs):
        picked = real_rank(dataset, indices, scores, options, **kwargs)
        calls.append((options, frozenset(kwargs["exclude"]), tuple(np.asarray(indices).tolist()), picked))
        return picked

    monkeypatch.setattr(ranking, "rank", spy)
    report = evaluate(skewed, FAST, "item2item", k=5, seed=4, knobs=True, knob_users=20)
    assert report["knobs_setup"]["users_evaluated"] == 20

    # Per user: the six settings on one model pool, then the popularity baseline.
    per_user = [calls[start : start + 7] for start in range(0, len(calls), 7)]
    assert len(per_user) == 20 and len(calls) == 20 * 7
    for user_calls in per_user:
        settings = [(options.novelty, options.per_artist_cap) for options, *_ in user_calls]
        assert settings == [
            ("popular", 2),
            ("balanced", 2),
            ("deep", 2),
            ("popular", 0),
            ("balanced", 0),
            ("deep", 0),
            ("balanced", 2),
        ]
        assert len({excluded for _, excluded, _, _ in user_calls}) == 1
        assert len({pool for _, _, pool, _ in user_calls[:6]}) == 1
        assert user_calls[6][2] != user_calls[0][2], "the baseline ranks popularity's pool, not the model's"

    # The seeds are the ones the model and baseline rows were scored with, on the same split.
    split = users_split(skewed.interactions, 0.8, 4)
    cases = knob_cases(split, "item2item", 4, 20)
    seeds = dict(zip(split.users.tolist(), item2item_seeds(split, 4).tolist()))
    assert [c.seeds.tolist() for c in cases] == [[seeds[c.user]] for c in cases]
    assert [user_calls[0][1] for user_calls in per_user] == [frozenset({c.seeds[0]}) for c in cases]

    # The artist cap reaches the ranking: capped lists never hold 3 songs by one artist.
    def most_by_one_artist(picked):
        artists = [skewed.artist(index) for index, _ in picked]
        return max(artists.count(a) for a in artists)

    capped = [most_by_one_artist(p) for o, _, _, p in calls if o.per_artist_cap == 2]
    uncapped = [most_by_one_artist(p) for o, _, _, p in calls if o.per_artist_cap == 0]
    assert max(capped) <= 2 < max(uncapped)


def test_knob_sample_is_seeded_and_bounded(skewed):
    split = users_split(skewed.interactions, 0.8, 2)
    first = [c.user for c in knob_cases(split, "users", 2, 10)]
    assert first == [c.user for c in knob_cases(split, "users", 2, 10)]
    assert len(first) == 10 and set(first) <= set(split.users.tolist())
    assert len(knob_cases(split, "users", 2, 10_000)) == len(split.users)


# -- the command --------------------------------------------------------------------------
def test_evaluate_knobs_json_and_table(tmp_path, capsys):
    config_path = write_config(tmp_path, "[serving]\nper_artist_cap = 1\n")
    write_skewed_dataset(load_config(config_path).datasets_dir)
    assert (
        run_command(
            config_path,
            "evaluate",
            "--dataset",
            "skewed",
            "--protocol",
            "item2item",
            "--k",
            "5",
            "--knobs",
            "--knob-users",
            "30",
            "--json",
        )
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert {"model", "baseline", "users_evaluated", "dataset", "evaluated"} <= set(report)
    assert set(report["knobs"]) == set(report["knobs_no_artist_cap"]) == {"popular", "balanced", "deep"}
    assert report["knobs_setup"]["per_artist_cap"] == 1 and report["knobs_setup"]["users_evaluated"] == 30
    assert all(set(figures) == FIGURES for figures in report["knobs"].values())

    assert (
        run_command(
            config_path,
            "evaluate",
            "--dataset",
            "skewed",
            "--protocol",
            "item2item",
            "--k",
            "5",
            "--knobs",
            "--knob-users",
            "30",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Novelty knob" in out and "at most 1 per artist" in out and "30 sampled" in out
    rows = {
        line.split()[0]: line.split()[-7:]
        for line in out.splitlines()
        if line.startswith(("popular ", "balanced ", "deep "))
    }
    assert set(rows) == {"popular", "balanced", "deep"}
    assert float(rows["deep"][3]) == pytest.approx(report["knobs"]["deep"]["novelty"], abs=1e-4)
    assert "popularity baseline" in out
    assert "deep cuts: beta 0.04 (the default; model not calibrated)" in out


def test_knobs_refuse_the_holdout_protocol_with_a_clear_message(tmp_path, capsys):
    config_path = write_config(tmp_path)
    write_skewed_dataset(load_config(config_path).datasets_dir)
    status = cli_main(
        ["--config", str(config_path), "evaluate", "--dataset", "skewed", "--protocol", "holdout", "--knobs"]
    )
    assert status == 2
    assert "--protocol item2item" in capsys.readouterr().err


# -- calibrating "deep cuts" ----------------------------------------------------------------
def figures(hit: float, median: float) -> dict:
    return {"hit_rate@10": hit, "median_listeners": median}


def test_deep_beta_is_the_smallest_that_halves_the_listeners_within_the_hit_floor():
    balanced = figures(0.6, 100.0)
    by_beta = {0.05: figures(0.55, 70.0), 0.1: figures(0.5, 50.0), 0.2: figures(0.4, 30.0), 0.3: figures(0.25, 20.0)}
    assert evaluation.choose_deep_beta(balanced, by_beta, 10) == (0.1, True)
    # Halving only past the floor: the largest beta that keeps the floor, and the target says so.
    by_beta = {0.05: figures(0.55, 70.0), 0.1: figures(0.31, 60.0), 0.2: figures(0.2, 40.0)}
    assert evaluation.choose_deep_beta(balanced, by_beta, 10) == (0.1, False)
    # Nothing keeps the floor: deep answers like balanced rather than lose most hits.
    assert evaluation.choose_deep_beta(balanced, {0.05: figures(0.1, 10.0)}, 10) == (0.0, False)


def test_calibration_halves_the_median_listeners_on_validation_and_keeps_the_floor(skewed):
    novelty = evaluation.calibrate_deep(skewed, FAST, k=5, seed=1)
    assert (novelty["deep_beta"], novelty["for_you_deep_beta"]) == (
        novelty["similar"]["deep_beta"],
        novelty["for_you"]["deep_beta"],
    )
    assert novelty["similar"]["listener_target_met"], "this data has deep cuts to find for one song"
    for part, protocol in ((novelty["similar"], "item2item"), (novelty["for_you"], "users")):

        def keeps_floor(row):
            return row["hit_share"] >= evaluation.DEEP_HIT_FLOOR

        def meets_both(row):
            return keeps_floor(row) and row["listener_share"] <= evaluation.DEEP_LISTENER_TARGET

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
    before = evaluation.calibrate_deep(skewed, FAST, k=5, seed=1)
    after = evaluation.calibrate_deep(skewed, FAST, k=5, seed=1, interactions=scrambled)
    assert before == after


def test_train_publishes_the_calibration_and_evaluate_uses_it(tmp_path, capsys):
    config_path = write_config(tmp_path)
    write_skewed_dataset(load_config(config_path).datasets_dir)
    assert cli_main(["--config", str(config_path), "train", "--dataset", "skewed", "--no-eval", "--quiet"]) == 0
    out = capsys.readouterr().out
    from recommender.store import ModelStore

    store = ModelStore.for_dataset(load_config(config_path).models_dir, "skewed")
    novelty = store.read_manifest("v1")["novelty"]
    assert f"Deep cuts for /soundalike and /mix: beta {novelty['deep_beta']:g}" in out
    assert f"Deep cuts for /foryou: beta {novelty['for_you_deep_beta']:g}" in out
    assert len(novelty["similar"]["grid"]) == len(novelty["for_you"]["grid"]) == len(evaluation.DEEP_BETA_GRID)
    for protocol, key in (("item2item", "deep_beta"), ("users", "for_you_deep_beta")):
        assert (
            cli_main(
                [
                    "--config",
                    str(config_path),
                    "evaluate",
                    "--dataset",
                    "skewed",
                    "--protocol",
                    protocol,
                    "--knobs",
                    "--knob-users",
                    "20",
                    "--json",
                ]
            )
            == 0
        )
        setup = json.loads(capsys.readouterr().out)["knobs_setup"]
        assert setup["deep_beta"] == novelty[key] and setup["deep_beta_calibrated"]
    # --no-calibrate publishes without one: that model answers deep cuts with the constant.
    assert (
        cli_main(
            ["--config", str(config_path), "train", "--dataset", "skewed", "--no-eval", "--quiet", "--no-calibrate"]
        )
        == 0
    )
    assert "novelty" not in store.read_manifest("v2")
