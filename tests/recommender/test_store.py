"""ModelStore: versions, checksums, fingerprints, atomic publish, fallback and rollback."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from planted_data import planted_counts

from recommender import store as store_module
from recommender.config import TrainParams
from recommender.errors import ModelDamaged, ModelError
from recommender.store import CHECKSUMS, CURRENT, HISTORY, MANIFEST, ModelStore
from recommender.training import fit

FINGERPRINT = "f" * 32

PARAMS = {
    "als": TrainParams(algorithm="als", factors=4, iterations=5, threads=1),
    "bpr": TrainParams(algorithm="bpr", factors=4, iterations=20, regularization=0.01, threads=1),
    "lmf": TrainParams(algorithm="lmf", factors=4, iterations=5, threads=1),
    "cosine": TrainParams(algorithm="cosine", neighbours=10, threads=1),
    "bm25": TrainParams(algorithm="bm25", neighbours=10, threads=1),
}


@pytest.fixture(scope="module")
def counts():
    return planted_counts(seed=1)[0]


def manifest_for(fitted, fingerprint: str = FINGERPRINT) -> dict:
    return {
        **fitted.manifest_fields(),
        "dataset": {"name": "planted", "fingerprint": fingerprint},
        "metrics": {"model": {"precision@10": 0.5}, "baseline": {"precision@10": 0.1}},
    }


def publish(store: ModelStore, counts, algorithm: str = "als", **kwargs) -> str:
    fitted = fit(PARAMS[algorithm], counts)
    return store.publish(fitted.arrays(), manifest_for(fitted), **kwargs)


@pytest.fixture
def store(tmp_path):
    return ModelStore.for_dataset(tmp_path / "models", "planted")


@pytest.mark.parametrize("algorithm", sorted(PARAMS))
def test_round_trip_gives_the_same_answers(store, counts, algorithm):
    fitted = fit(PARAMS[algorithm], counts)
    before = fitted.loaded()
    version = store.publish(fitted.arrays(), manifest_for(fitted))
    after = store.load(version=version, fingerprint=FINGERPRINT)
    assert version == "v1" and after.version == "v1" and after.algorithm == algorithm
    assert after.n_items == counts.shape[1]
    for seeds in ([0], [3, 25]):
        expected = before.similar_items(np.array(seeds), 5)
        got = after.similar_items(np.array(seeds), 5)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)
    expected = before.score_for_history(np.array([1, 2]), None, 5)
    np.testing.assert_array_equal(after.score_for_history(np.array([1, 2]), None, 5)[0], expected[0])


def test_manifest_and_checksums_describe_the_model(store, counts):
    first = publish(store, counts)
    second = publish(store, counts, "bm25")
    folder = store.folder / second
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["version"] == "v2" and manifest["parent"] == first
    assert manifest["algorithm"] == "bm25" and manifest["weighting"] == "bm25"
    assert manifest["parameters"]["neighbours"] == 10
    assert manifest["dataset"]["fingerprint"] == FINGERPRINT
    assert set(manifest["libraries"]) == {"implicit", "numpy", "scipy"}
    assert manifest["created"].endswith("Z")
    assert manifest["metrics"]["baseline"] == {"precision@10": 0.1}
    assert manifest["arrays"] == {"similarity": "similarity.npz"}
    checksums = json.loads((folder / CHECKSUMS).read_text())
    assert set(checksums) == {p.name for p in folder.iterdir()} - {CHECKSUMS}
    assert store.current_version() == "v2"
    assert json.loads((store.folder / first / MANIFEST).read_text())["parent"] is None


def test_object_arrays_are_refused_and_pickles_never_load(store, counts):
    with pytest.raises(ValueError, match="pickle"):
        store.publish({"item_factors": np.array([{"a": 1}], dtype=object)}, {"algorithm": "als"})
    assert store.versions() == []
    version = publish(store, counts)
    # Swap in a pickled object array and make the checksums agree: it must still not load.
    folder = store.folder / version
    np.save(folder / "item_factors.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    checksums = json.loads((folder / CHECKSUMS).read_text())
    checksums["item_factors.npy"] = store_module._sha256(folder / "item_factors.npy")
    (folder / CHECKSUMS).write_text(json.dumps(checksums))
    with pytest.raises(ModelError, match=r"item_factors\.npy is unreadable"):
        store.load(version=version)


def damage_altered(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def damage_truncated(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def damage_missing(path):
    path.unlink()


@pytest.mark.parametrize(
    "damage, problem",
    [(damage_altered, "fails its checksum"), (damage_truncated, "fails its checksum"), (damage_missing, "is missing")],
)
def test_damaged_current_falls_back_with_one_warning(store, counts, caplog, damage, problem):
    publish(store, counts)
    publish(store, counts)
    damage(store.folder / "v2" / "item_factors.npy")
    with pytest.raises(ModelError, match=f"v2: item_factors.npy {problem}"):
        store.load(version="v2")
    with caplog.at_level(logging.WARNING, logger="recommender.store"):
        model = store.load_serving(fingerprint=FINGERPRINT)
    assert model.version == "v1"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    line = warnings[0].getMessage()
    assert "planted/v2" in line and problem in line and "serving model planted/v1" in line
    assert "\n" not in line
    assert store.current_version() == "v2", "serving a fallback does not move the pointer"


def test_missing_checksums_file_is_damage(store, counts):
    publish(store, counts)
    (store.folder / "v1" / CHECKSUMS).unlink()
    with pytest.raises(ModelError, match=r"no usable model.*checksums\.json is missing"):
        store.load_serving()


def test_missing_current_pointer_serves_newest_good_version(store, counts, caplog):
    publish(store, counts)
    publish(store, counts)
    (store.folder / CURRENT).unlink()
    with caplog.at_level(logging.WARNING, logger="recommender.store"):
        assert store.load_serving().version == "v2"
    assert "no current-model pointer" in caplog.text


def test_fingerprint_of_other_data_is_refused(store, counts):
    publish(store, counts)

    class OtherDataset:
        name = "planted"
        fingerprint = "0" * 32

    with pytest.raises(ModelError, match=r"trained on dataset fingerprint f+, but the dataset now has fingerprint 0+"):
        store.load(OtherDataset(), "v1")
    with pytest.raises(ModelError, match=r"no usable model.*retrain"):
        store.load_serving(OtherDataset())
    assert store.load(version="v1", fingerprint=FINGERPRINT).version == "v1"


def test_disk_full_while_publishing_leaves_everything_as_it_was(store, counts, monkeypatch):
    publish(store, counts)
    fitted = fit(PARAMS["als"], counts)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module.np, "save", disk_full)
    with pytest.raises(ModelError, match=r"could not publish.*No space left on device.*current stays v1"):
        store.publish(fitted.arrays(), manifest_for(fitted))
    assert store.versions() == ["v1"]
    assert store.current_version() == "v1"
    assert sorted(p.name for p in store.folder.iterdir()) == [CURRENT, HISTORY, "v1"]


def test_failed_pointer_move_removes_the_new_version(store, counts, monkeypatch):
    publish(store, counts)
    fitted = fit(PARAMS["als"], counts)
    real_replace = os.replace

    def refuse_pointer(source, target, *args, **kwargs):
        if str(target).endswith(CURRENT):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(store_module.os, "replace", refuse_pointer)
    with pytest.raises(ModelError, match="Permission denied"):
        store.publish(fitted.arrays(), manifest_for(fitted))
    assert store.versions() == ["v1"] and store.current_version() == "v1"
    assert sorted(p.name for p in store.folder.iterdir()) == [CURRENT, HISTORY, "v1"]


def test_rollback_moves_current_back_past_damaged_versions(store, counts):
    for _ in range(3):
        publish(store, counts)
    damage_altered(store.folder / "v2" / MANIFEST)
    assert store.rollback() == "v1"
    assert store.current_version() == "v1"
    with pytest.raises(ModelError, match="no good version of 'planted' was served before v1"):
        store.rollback()
    assert publish(store, counts) == "v4", "numbers are never reused"
    assert store.read_manifest("v4")["parent"] == "v1"


def test_publish_removes_temporaries_of_dead_writers_only(store, counts):
    publish(store, counts)
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead_pid = int(finished.stdout)
    stale = store.folder / f".tmp-{dead_pid}-1"
    stale.mkdir()
    (stale / "item_factors.npy").write_bytes(b"half")
    live = store.folder / f".tmp-{os.getppid()}-2"
    live.mkdir()
    publish(store, counts)
    assert not stale.exists()
    assert live.exists(), "a running writer's folder is left alone"


def test_a_store_without_models_says_how_to_make_one(store):
    with pytest.raises(ModelError, match="train one with `python -m recommender train --dataset planted`"):
        store.load_serving()
    with pytest.raises(ModelError, match="has no current model"):
        store.rollback()


# -- rollback is a history ---------------------------------------------------------------------


def served(store: ModelStore) -> list[str]:
    return json.loads((store.folder / HISTORY).read_text())["served"]


def test_rollback_goes_back_to_the_version_served_before(store, counts):
    for _ in range(3):
        publish(store, counts)
    assert served(store) == ["v1", "v2", "v3"]
    assert store.rollback() == "v2" and store.current_version() == "v2"
    assert publish(store, counts) == "v4"
    assert served(store) == ["v1", "v2", "v4"]
    # v3 was rolled back from: going back from v4 serves v2, which was served before v4, not v3.
    assert store.rollback() == "v2"
    assert store.rollback() == "v1"
    with pytest.raises(ModelError, match="nothing to roll back to"):
        store.rollback()
    assert store.current_version() == "v1" and served(store) == ["v1"]


def test_rollback_of_a_store_from_before_the_history_goes_by_version_numbers(store, counts):
    for _ in range(3):
        publish(store, counts)
    (store.folder / HISTORY).unlink()
    assert store.rollback() == "v2" and store.rollback() == "v1"


def test_a_crash_between_the_pointer_and_the_history_is_mended(store, counts, monkeypatch):
    for _ in range(3):
        publish(store, counts)
    # A rollback to v2 whose history write never happened: the history still ends in v3.
    (store.folder / CURRENT).write_text("v2\n")
    assert store.served_history() == ["v1", "v2"]
    assert store.rollback() == "v1"
    # A publish whose history write failed: the new current is added when the history is read.
    real_replace = os.replace

    def refuse_history(source, target, *args, **kwargs):
        if str(target).endswith(HISTORY):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(store_module.os, "replace", refuse_history)
    assert publish(store, counts) == "v4"
    monkeypatch.undo()
    assert served(store) == ["v1"] and store.served_history() == ["v1", "v4"]
    assert store.rollback() == "v1"
    assert not [p for p in store.folder.iterdir() if p.name.startswith(".tmp-")], "no temporary files left"


def test_an_unreadable_history_goes_by_version_numbers_and_says_so(store, counts, caplog):
    for _ in range(2):
        publish(store, counts)
    (store.folder / HISTORY).write_text('{"served": ["v1", "../../etc"]}')
    with caplog.at_level(logging.WARNING, logger="recommender.store"):
        assert store.served_history() == ["v1", "v2"]
    assert "does not hold a list of versions" in caplog.text


def test_a_damaged_current_falls_back_to_a_good_newer_version(store, counts, caplog):
    publish(store, counts)
    publish(store, counts)
    assert store.rollback() == "v1"
    damage_altered(store.folder / "v1" / "item_factors.npy")
    with caplog.at_level(logging.WARNING, logger="recommender.store"):
        assert store.load_serving(fingerprint=FINGERPRINT).version == "v2"
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "planted/v1: item_factors.npy fails its checksum" in line and "serving model planted/v2 instead" in line
    assert store.current_version() == "v1", "the pointer stays: an admin decides"


def test_a_damaged_current_falls_back_to_what_was_served_before_it(store, counts):
    for _ in range(3):
        publish(store, counts)
    store.rollback()  # v3 -> v2
    publish(store, counts)  # v4, served after v2
    damage_altered(store.folder / "v4" / "item_factors.npy")
    assert store.serving_order()[0] == ["v4", "v2", "v1", "v3"]
    assert store.load_serving().version == "v2"


# -- contents that pass their checksums but are not a model of this catalog ----------------------


def rewrite(store: ModelStore, version: str, file_name: str, content) -> None:
    """Replace a file of a version (JSON for the manifest, an array otherwise) and make its
    checksum agree, as a hostile or buggy writer could."""
    folder = store.folder / version
    if file_name == MANIFEST:
        (folder / MANIFEST).write_text(json.dumps(content))
    elif file_name.endswith(".npz"):
        import scipy.sparse as sp

        sp.save_npz(folder / file_name, content, compressed=False)
    else:
        np.save(folder / file_name, content, allow_pickle=False)
    checksums = json.loads((folder / CHECKSUMS).read_text())
    checksums[file_name] = store_module._sha256(folder / file_name)
    (folder / CHECKSUMS).write_text(json.dumps(checksums))


def changed(manifest: dict, path: str, value) -> dict:
    manifest = json.loads(json.dumps(manifest))
    *parents, last = path.split(".")
    target = manifest
    for part in parents:
        target = target[part]
    target[last] = value
    return manifest


MANIFEST_DAMAGE = [
    ("algorithm", 5, "field 'algorithm' is 5"),
    ("algorithm", "pickle", "field 'algorithm' is 'pickle'"),
    ("parameters", ["x"], "field 'parameters' is ['x'] (list), not a mapping"),
    ("parameters.alpha", "high", "field 'parameters.alpha' is 'high' (str), not a finite number"),
    ("parameters.regularization", float("nan"), "field 'parameters.regularization' is nan"),
    ("typical_weight", "1", "field 'typical_weight' is '1' (str)"),
    ("n_items", "40", "field 'n_items' is '40' (str), not a count of songs"),
    ("arrays", {"item_factors": "../item_factors.npy"}, "field 'arrays'"),
    ("arrays", [], "field 'arrays' is []"),
    ("dataset", "planted", "field 'dataset' is 'planted' (str), not a mapping"),
    ("dataset.fingerprint", 7, "field 'dataset.fingerprint' is 7 (int)"),
]


@pytest.mark.parametrize("field, value, problem", MANIFEST_DAMAGE, ids=[f"{f}={v!r}" for f, v, _ in MANIFEST_DAMAGE])
def test_a_manifest_field_of_the_wrong_type_is_refused_with_one_line(store, counts, caplog, field, value, problem):
    publish(store, counts)
    publish(store, counts)
    rewrite(store, "v2", MANIFEST, changed(store.read_manifest("v2"), field, value))
    with pytest.raises(ModelDamaged, match=re.escape(problem)):
        store.load(version="v2")
    with caplog.at_level(logging.WARNING, logger="recommender.store"):
        assert store.load_serving().version == "v1"
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "planted/v2: manifest.json" in line and "serving model planted/v1 instead" in line and "\n" not in line


def factors_of(store: ModelStore, version: str = "v2") -> np.ndarray:
    return np.load(store.folder / version / "item_factors.npy")


ARRAY_DAMAGE = {
    "a row short": (lambda f: f[:-1], "rows but manifest.json has"),
    "a row too many": (lambda f: np.vstack([f, f[:1]]), "rows but manifest.json has"),
    "NaN": (lambda f: np.where(np.arange(f.size).reshape(f.shape) == 7, np.nan, f).astype(f.dtype), "NaN"),
    "infinity": (lambda f: np.where(np.arange(f.size).reshape(f.shape) == 3, np.inf, f).astype(f.dtype), "NaN"),
    "no factors": (lambda f: f[:, :0], "not songs x factors"),
    "one dimension": (lambda f: f.ravel(), "not songs x factors"),
    "text": (lambda f: np.full(f.shape, "x"), "holds <U1 values, not numbers"),
    "booleans": (lambda f: f > 0, "holds bool values, not numbers"),
}


@pytest.mark.parametrize("damage", sorted(ARRAY_DAMAGE))
def test_factors_that_are_not_a_model_of_the_catalog_are_refused(store, counts, caplog, damage):
    publish(store, counts)
    publish(store, counts)
    make, problem = ARRAY_DAMAGE[damage]
    rewrite(store, "v2", "item_factors.npy", make(factors_of(store)))
    with pytest.raises(ModelDamaged, match=re.escape(problem)):
        store.load(version="v2")
    with caplog.at_level(logging.WARNING, logger="recommender.store"):
        assert store.load_serving().version == "v1"
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


def test_factors_must_have_one_row_per_catalog_song(store, counts):
    publish(store, counts)

    class Catalog:
        name = "planted"
        fingerprint = FINGERPRINT
        n_items = counts.shape[1] + 1

    with pytest.raises(ModelDamaged, match=f"{counts.shape[1]:,} rows but the catalog has {counts.shape[1] + 1:,}"):
        store.load(Catalog(), "v1")
    Catalog.n_items = counts.shape[1]
    assert store.load(Catalog(), "v1").n_items == counts.shape[1]


@pytest.mark.parametrize("damage", ["nan", "index out of range"])
def test_a_similarity_matrix_that_is_not_a_model_is_refused(store, counts, damage):
    import scipy.sparse as sp

    publish(store, counts, "bm25")
    publish(store, counts, "bm25")
    matrix = sp.load_npz(store.folder / "v2" / "similarity.npz").tocsr()
    if damage == "nan":
        matrix.data[0] = np.nan
    else:
        matrix.indices[0] = matrix.shape[1] + 5  # would read past the arrays
    rewrite(store, "v2", "similarity.npz", matrix)
    with pytest.raises(ModelDamaged):
        store.load(version="v2")
    assert store.load_serving().version == "v1"
