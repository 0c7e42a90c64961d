"""`train`, `models` and `rollback`: publish with held-out figures and calibration, list, verify, go back."""

from __future__ import annotations

import json

import numpy as np
from planted_data import write_config, write_planted_dataset
from skewed_data import write_skewed_dataset

from recommender.cli.main import main as cli_main
from recommender.config import load_config
from recommender.evaluation.calibration import DEEP_BETA_GRID
from recommender.store import ModelStore


def run_command(config_path, *argv: str) -> int:
    return cli_main(["--config", str(config_path), *argv])


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


def test_train_publishes_the_calibration_and_evaluate_uses_it(tmp_path, capsys):
    config_path = write_config(tmp_path)
    write_skewed_dataset(load_config(config_path).datasets_dir)
    assert cli_main(["--config", str(config_path), "train", "--dataset", "skewed", "--no-eval", "--quiet"]) == 0
    out = capsys.readouterr().out
    store = ModelStore.for_dataset(load_config(config_path).models_dir, "skewed")
    novelty = store.read_manifest("v1")["novelty"]
    assert f"Deep cuts for /soundalike and /mix: beta {novelty['deep_beta']:g}" in out
    assert f"Deep cuts for /foryou: beta {novelty['for_you_deep_beta']:g}" in out
    assert len(novelty["similar"]["grid"]) == len(novelty["for_you"]["grid"]) == len(DEEP_BETA_GRID)
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
