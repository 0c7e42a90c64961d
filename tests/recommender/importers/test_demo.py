"""The synthetic demo dataset is deterministic and has the structure it claims.

The structure checks use raw co-listening counts (X.T @ X on who played what), no model, so
they test the generator and nothing else. Thresholds were measured on seeds 1-5 at 1,500
listeners (see each test) and leave a margin below the weakest seed.
"""

from __future__ import annotations

import numpy as np
import pytest

from recommender.dataset import Dataset
from recommender.errors import DataError
from recommender.importers import demo
from recommender.text import song_key

USERS = 1500
SEED = 11


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Dataset:
    dest = tmp_path_factory.mktemp("demo-dataset") / "demo"
    demo.build_demo_dataset(dest, users=USERS, seed=SEED)
    return Dataset.load(dest)


@pytest.fixture(scope="module")
def catalog():
    return demo.read_catalog()


def _catalog_songs(dataset: Dataset) -> np.ndarray:
    """Indices of catalog songs: made-up versions (ids like DEMO0001-V1) left out."""
    return np.flatnonzero(~dataset.items["item_id"].str.contains("-V", regex=False).to_numpy())


def _co_listened(dataset: Dataset, songs: np.ndarray) -> np.ndarray:
    """songs x songs count of listeners in common, the diagonal pushed below any count."""
    played = (dataset.interactions[:, songs] > 0).astype(np.float32)
    together = (played.T @ played).toarray()
    np.fill_diagonal(together, -1)
    return together


# -- determinism ---------------------------------------------------------------------------
def test_same_seed_same_dataset_and_another_seed_differs(tmp_path):
    first = Dataset.load(demo.build_demo_dataset(tmp_path / "a", users=300, seed=5))
    again = Dataset.load(demo.build_demo_dataset(tmp_path / "b", users=300, seed=5))
    other = Dataset.load(demo.build_demo_dataset(tmp_path / "c", users=300, seed=6))
    assert first.fingerprint == again.fingerprint
    assert (first.interactions != again.interactions).nnz == 0
    assert first.fingerprint != other.fingerprint
    # The song vocabulary (ids, versions) does not depend on the seed, only the listening.
    assert first.items.equals(other.items)


def test_manifest_says_synthetic_and_records_the_seed(built, catalog):
    source = built.manifest["source"]
    assert source["kind"] == "synthetic"
    assert "synthetic" in source["description"]
    assert source["seed"] == SEED and source["users"] == USERS
    assert source["catalog_songs"] == len(catalog)
    assert built.manifest["users"] == USERS == built.n_users
    assert built.manifest["items_with_listeners"] == built.n_items


# -- items -------------------------------------------------------------------------------
def test_items_follow_the_catalog_with_ids_by_row(built, catalog):
    items = built.items
    assert list(items.columns) == ["item_id", "title", "artist", "genre", "year"]
    head = items.iloc[: len(catalog)].reset_index(drop=True)
    assert head[["title", "artist", "genre"]].equals(catalog[["title", "artist", "genre"]])
    assert (head["year"].to_numpy() == catalog["year"].to_numpy()).all()
    assert items["year"].dtype.kind == "i"
    assert head["item_id"].tolist()[:3] == ["DEMO0001", "DEMO0002", "DEMO0003"]
    assert items["item_id"].is_unique
    assert (items.loc[0, "title"], items.loc[0, "artist"]) == ("Hey Ya!", "OutKast")


def test_hey_ya_has_versions_that_group_with_it(built):
    items = built.items
    hey_ya = built.item_index("DEMO0001")
    versions = items.index[items["item_id"].str.startswith("DEMO0001-V")].to_numpy()
    assert len(versions) >= 1
    assert all(items.loc[v, "title"].startswith("Hey Ya! (") for v in versions)
    by_item = built.item_user
    original_listeners = set(by_item.of(hey_ya).tolist())
    for version in versions:
        # Same song to the resolver's version handling, same artist, genre and year.
        assert song_key(items.loc[version, "title"], items.loc[version, "artist"]) == song_key("Hey Ya!", "OutKast")
        assert (items.loc[version, "genre"], items.loc[version, "year"]) == ("hip hop", 2003)
        listeners = set(by_item.of(version).tolist())
        # A small share of the original's listeners, none from elsewhere.
        assert listeners and listeners <= original_listeners
        assert len(listeners) < 0.5 * len(original_listeners)


def test_about_one_song_in_twenty_has_versions(built, catalog):
    extra = built.n_items - len(catalog)
    assert 0.03 * len(catalog) <= extra <= 0.08 * len(catalog)
    crazy = built.items[built.items["title"] == "Crazy in Love (feat. Jay-Z)"]
    assert crazy["artist"].tolist() == ["Beyoncé"]


# -- listening -----------------------------------------------------------------------------
def test_histories_and_play_counts_are_heavy_tailed_integers(built):
    songs = _catalog_songs(built)
    history = np.diff(built.interactions[:, songs].tocsr().indptr)
    assert history.min() >= 3 and history.max() <= 150
    assert history.max() >= 5 * np.median(history)  # measured: 154 vs a median of 17-18
    plays = built.interactions.data
    assert plays.min() >= 1 and np.array_equal(plays, np.rint(plays))
    assert np.percentile(plays, 99) >= 5 * np.median(plays)  # measured: 28-30 vs 2


def test_popular_songs_take_a_large_share_of_plays(built):
    plays = np.sort(np.asarray(built.interactions.sum(axis=0)).ravel())[::-1]
    top = int(np.ceil(0.05 * len(plays)))
    # Uniform listening would give the top 5% of songs 5% of plays; measured 0.25-0.27.
    assert plays[:top].sum() / plays.sum() >= 0.18


def test_most_co_listened_songs_share_the_genre(built):
    songs = _catalog_songs(built)
    together = _co_listened(built, songs)
    genre = built.items["genre"].to_numpy()[songs]
    top5 = np.argsort(-together, axis=1, kind="stable")[:, :5]
    share = (genre[top5] == genre[:, None]).mean()
    # 17 genres: chance would be about 0.06. Measured 0.905-0.947 on seeds 1-5.
    assert share >= 0.8


def test_co_listened_songs_of_a_genre_come_from_nearby_years(built):
    songs = _catalog_songs(built)
    together = _co_listened(built, songs)
    genre = built.items["genre"].to_numpy()[songs]
    year = built.items["year"].to_numpy()[songs]
    same_genre = genre[:, None] == genre[None, :]
    np.fill_diagonal(same_genre, False)
    top5 = np.argsort(-np.where(same_genre, together, -1), axis=1, kind="stable")[:, :5]
    gap_to_co_listened = np.abs(year[top5] - year[:, None]).mean()
    gap_to_any_same_genre = np.abs(year[:, None] - year[None, :])[same_genre].mean()
    # Era taste: measured 9.6-10.1 years against 13.5 (ratio 0.71-0.75) on seeds 1-3.
    assert gap_to_co_listened <= 0.85 * gap_to_any_same_genre


# -- a broken catalog ----------------------------------------------------------------------
GOOD_ROWS = "title,artist,genre,year\nHey Ya!,OutKast,hip hop,2003\nHalo,Beyoncé,r&b,2008\n"


@pytest.mark.parametrize(
    "text, message",
    [
        (GOOD_ROWS + "Crazy in Love,Beyoncé,r&b,two thousand\n", "line 4: year 'two thousand'"),
        (GOOD_ROWS + "hey ya!,outkast,hip hop,2003\n", "line 4: 'hey ya!' by 'outkast' repeats line 2"),
        (GOOD_ROWS + "Roses,OutKast,hip hop\n", "line 4: expected 4 fields"),
        (GOOD_ROWS + "Roses ,OutKast,hip hop,2003\n", "line 4: title 'Roses ' has leading or trailing"),
        (GOOD_ROWS + ",OutKast,hip hop,2003\n", "line 4: empty title"),
        ("song,artist,genre,year\nHey Ya!,OutKast,hip hop,2003\n", "line 1: header must be"),
        ("title,artist,genre,year\n", "no songs"),
    ],
)
def test_a_bad_catalog_is_refused_with_its_line_and_nothing_is_written(tmp_path, text, message):
    path = tmp_path / "catalog.csv"
    path.write_text(text, encoding="utf-8")
    dest = tmp_path / "datasets" / "demo"
    with pytest.raises(DataError) as error:
        demo.build_demo_dataset(dest, users=10, catalog_path=path)
    assert message in str(error.value) and str(path) in str(error.value)
    assert not dest.exists()


def test_a_small_custom_catalog_builds(tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_text(GOOD_ROWS, encoding="utf-8")
    dataset = Dataset.load(demo.build_demo_dataset(tmp_path / "tiny", users=20, catalog_path=path))
    # Two songs, Hey Ya!'s two featured versions; everyone plays what little there is.
    assert dataset.n_items == 4 and dataset.n_users == 20
    assert dataset.items["item_id"].tolist() == ["DEMO0001", "DEMO0002", "DEMO0001-V1", "DEMO0001-V2"]
