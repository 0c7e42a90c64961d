"""A private copy of the demo data, and ways to publish or damage model versions in it.

Tests that change models on disk (retrains killed mid-way, damaged files, rollbacks) work on a
copy of the session's demo data root (``demo_env``), so the shared one stays untouched.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from recommender.config import Config, load_config
from recommender.store import ModelStore


def copy_demo(tmp_path: Path, demo_env, extra: str = "") -> tuple[Path, Config]:
    """A private copy of the demo data root and a config.toml pointing at it (the shared demo
    data stays untouched whatever a test does to its copy)."""
    shutil.copytree(demo_env.config.data_root, tmp_path / "data")
    # Other tests may have published more demo versions; start every copy from v1 alone.
    models = tmp_path / "data" / "models" / "demo"
    for folder in models.iterdir():
        if folder.name != "v1":
            shutil.rmtree(folder) if folder.is_dir() else folder.unlink()
    (models / "current").write_text("v1\n", encoding="utf-8")
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        f'[data]\nroot = "{tmp_path / "data"}"\ndefault_dataset = "demo"\n'
        f'[bot]\ndatabase = "{tmp_path / "feedback.sqlite3"}"\n' + extra,
        encoding="utf-8",
    )
    return config_path, load_config(config_path)


def republish(store: ModelStore, version: str = "v1") -> str:
    """Publish the arrays of ``version`` again as a new current version (a cheap 'retrain')."""
    manifest = store.verify(version)
    arrays = {
        key: np.load(store.folder / version / name, allow_pickle=False) for key, name in manifest["arrays"].items()
    }
    added_by_the_store = {"format_version", "arrays", "created", "libraries", "parent", "version"}
    return store.publish(arrays, {k: v for k, v in manifest.items() if k not in added_by_the_store})


def assert_store_consistent(store: ModelStore) -> None:
    """Every version verifies and ``current`` names one of them."""
    versions = store.versions()
    for version in versions:
        store.verify(version)
    assert store.current_version() in versions


def fault_env(**variables: str) -> dict[str, str]:
    """This process's environment without earlier test faults, with ``variables`` added."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOUNDALIKE_TEST_")}
    env.update(variables)
    return env


# -- damage a model file ---------------------------------------------------------------------


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def alter_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def remove(path: Path) -> None:
    path.unlink()
