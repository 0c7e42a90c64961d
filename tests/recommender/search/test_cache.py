"""The title index saved beside its dataset: loaded instead of rebuilt, never stale, never half-written."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
from title_catalog import CATALOG, make_dataset

from recommender.dataset import Dataset
from recommender.search import cache
from recommender.search.cache import CACHE_DIR, SavedIndex, cache_key, load_index, save_index
from recommender.search.resolver import TitleResolver

QUERIES = ["hey ya", "halo", "smels like ten spirit", "heya outkast", "Beyonce - Halo", "umbrella"]


def test_the_index_is_saved_beside_the_dataset_and_loaded_next_time(tmp_path, monkeypatch):
    dataset = make_dataset(tmp_path, CATALOG)
    built = TitleResolver.build(dataset)
    saved = dataset.path / "resolver-index"
    assert (saved / "manifest.json").exists()
    assert not list(tmp_path.glob("**/.resolver-index.tmp-*"))  # nothing half-written left

    def no_rebuild(*args, **kwargs):
        raise AssertionError("rebuilt instead of loading the saved index")

    monkeypatch.setattr(TitleResolver, "from_columns", no_rebuild)
    loaded = TitleResolver.build(Dataset.load(dataset.path))
    for typed in QUERIES:
        assert loaded.resolve(typed) == built.resolve(typed)
        assert loaded.complete(typed) == built.complete(typed)
    assert loaded.complete_artist("o") == built.complete_artist("o")
    assert [loaded.versions.group_of(i) for i in range(len(CATALOG))] == [
        built.versions.group_of(i) for i in range(len(CATALOG))
    ]


def test_a_stale_or_damaged_saved_index_is_rebuilt(tmp_path, caplog):
    dataset = make_dataset(tmp_path, CATALOG)
    expected = [TitleResolver.build(dataset, cache=False).resolve(q) for q in QUERIES]
    TitleResolver.build(dataset)
    saved = dataset.path / "resolver-index"
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["key"] = "made with other code"
    (saved / "manifest.json").write_text(json.dumps(manifest))
    assert [TitleResolver.build(dataset).resolve(q) for q in QUERIES] == expected
    assert json.loads((saved / "manifest.json").read_text())["key"] != "made with other code"  # saved again

    (saved / "title.postings.npy").write_bytes(b"not an array")
    assert [TitleResolver.build(dataset).resolve(q) for q in QUERIES] == expected
    assert "ignoring the saved title index" in caplog.text


def test_other_titles_with_the_same_ids_are_not_served_from_an_old_index(tmp_path):
    dataset = make_dataset(tmp_path, CATALOG)
    TitleResolver.build(dataset)
    renamed = [("Totally New Song" if row[0] == "Wonderwall" else row[0], row[1], row[2]) for row in CATALOG]
    items = dataset.items.copy()
    items["title"] = [row[0] for row in renamed]
    changed = type(dataset)(
        name=dataset.name, path=dataset.path, interactions=dataset.interactions, items=items, manifest=dataset.manifest
    )
    assert TitleResolver.build(changed).resolve("totally new song").best.title == "Totally New Song"


def test_an_unwritable_dataset_folder_still_gets_an_index(tmp_path, monkeypatch, caplog):
    dataset = make_dataset(tmp_path, CATALOG)

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr("recommender.atomic.Path.mkdir", refuse)
    resolver = TitleResolver.build(dataset)
    assert resolver.resolve("hey ya").best.title == "Hey Ya!"
    assert not (dataset.path / "resolver-index").exists()
    assert "could not save the title index" in caplog.text


def test_no_cache_when_asked(tmp_path):
    dataset = make_dataset(tmp_path, CATALOG)
    TitleResolver.build(dataset, cache=False)
    assert not (dataset.path / "resolver-index").exists()


# -- the cache module on its own -------------------------------------------------------------------

ARRAYS = {
    "small": np.array([3, 1, 2], dtype=np.int32),
    "flags": np.array([True, False]),
    "big": np.arange(5000, dtype=np.float32),  # over MMAP_FROM_BYTES: memory-mapped
    "empty": np.zeros(0, dtype=np.int64),
}
STRINGS = {"names": ["hey ya", "", "señorita", "👩‍🎤"], "display": ["OutKast", None]}


def test_saved_arrays_and_strings_come_back_as_they_were(tmp_path):
    folder = tmp_path / CACHE_DIR
    save_index(folder, "key-1", ARRAYS, STRINGS, items=3)
    assert json.loads((folder / "manifest.json").read_text())["items"] == 3
    saved = load_index(folder, "key-1", lambda parts: parts)
    assert isinstance(saved, SavedIndex)
    assert set(saved.arrays) == set(ARRAYS) and saved.strings == STRINGS
    for name, array in ARRAYS.items():
        assert saved.arrays[name].dtype == array.dtype
        assert np.array_equal(saved.arrays[name], array)
    big = saved.arrays["big"]
    assert type(big) is np.ndarray and not big.flags.writeable  # a plain read-only view of the map


def test_an_index_saved_under_another_key_or_format_is_not_loaded(tmp_path, monkeypatch):
    folder = tmp_path / CACHE_DIR

    def never(parts):
        raise AssertionError("assembled an index that should have been ignored")

    assert load_index(folder, "key-1", never) is None  # nothing saved yet
    save_index(folder, "key-1", ARRAYS, STRINGS, items=3)
    assert load_index(folder, "key-2", never) is None
    monkeypatch.setattr(cache, "CACHE_FORMAT", cache.CACHE_FORMAT + 1)
    assert load_index(folder, "key-1", never) is None


@pytest.mark.parametrize("problem", [KeyError("title.postings"), ValueError("index sizes do not match")])
def test_parts_that_do_not_make_an_index_are_ignored_with_a_warning(tmp_path, caplog, problem):
    folder = tmp_path / CACHE_DIR
    save_index(folder, "key-1", ARRAYS, STRINGS, items=3)

    def assemble(parts):
        raise problem

    with caplog.at_level(logging.WARNING, logger="recommender.search.cache"):
        assert load_index(folder, "key-1", assemble) is None
    assert "ignoring the saved title index" in caplog.text


def test_a_damaged_manifest_is_ignored(tmp_path, caplog):
    folder = tmp_path / CACHE_DIR
    save_index(folder, "key-1", ARRAYS, STRINGS, items=3)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "arrays": 5}))
    assert load_index(folder, "key-1", lambda parts: parts) is None
    (folder / "manifest.json").write_text("{not json")
    assert load_index(folder, "key-1", lambda parts: parts) is None
    assert caplog.text.count("ignoring the saved title index") == 2


def test_a_save_that_fails_halfway_leaves_nothing_behind(tmp_path, monkeypatch, caplog):
    folder = tmp_path / CACHE_DIR
    saves = []

    def fail_on_the_third(path, array, **kwargs):
        saves.append(path)
        if len(saves) == 3:
            raise OSError("disk full")
        with open(path, "wb") as file:
            np.lib.format.write_array(file, array, allow_pickle=False)

    monkeypatch.setattr(cache.np, "save", fail_on_the_third)
    save_index(folder, "key-1", ARRAYS, STRINGS, items=3)
    assert len(saves) == 3
    assert not folder.exists() and list(tmp_path.iterdir()) == []  # no index, no temporary folder
    assert "could not save the title index" in caplog.text


def test_a_failed_save_keeps_the_index_that_was_there(tmp_path, monkeypatch):
    folder = tmp_path / CACHE_DIR
    save_index(folder, "key-1", ARRAYS, STRINGS, items=3)

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(cache.pa, "table", disk_full)  # the string tables fail, after the arrays
    save_index(folder, "key-2", ARRAYS, STRINGS, items=3)
    assert load_index(folder, "key-1", lambda parts: parts) is not None


def catalog_stand_in(titles, artists, fingerprint="f1") -> tuple[SimpleNamespace, pa.Array, pa.Array]:
    return SimpleNamespace(manifest={"fingerprint": fingerprint}), pa.array(titles), pa.array(artists)


def test_the_key_follows_the_titles_the_artists_and_the_dataset():
    key = cache_key(*catalog_stand_in(["Hey Ya!", "Roses"], ["OutKast", "OutKast"]))
    assert key == cache_key(*catalog_stand_in(["Hey Ya!", "Roses"], ["OutKast", "OutKast"]))
    assert key != cache_key(*catalog_stand_in(["Hey Ya!", "Rose"], ["OutKast", "OutKast"]))
    assert key != cache_key(*catalog_stand_in(["Hey Ya!", "Roses"], ["OutKast", "Outkast"]))
    assert key != cache_key(*catalog_stand_in(["Hey Ya!", "Roses"], ["OutKast", "OutKast"], fingerprint="f2"))
    sliced = pa.array(["x", "Hey Ya!", "Roses"]).slice(1)  # same values, other buffers: still a key of its own
    assert isinstance(cache_key(SimpleNamespace(), sliced, pa.array(["OutKast", "OutKast"])), str)


def test_the_key_covers_every_module_the_index_is_built_by():
    package = Path(cache.__file__).resolve().parent.parent
    search_modules = {f"search/{path.name}" for path in (package / "search").glob("*.py") if path.name != "__init__.py"}
    assert search_modules | {"versions.py", "text.py"} <= set(cache._SOURCES)
    assert all((package / source).is_file() for source in cache._SOURCES)
