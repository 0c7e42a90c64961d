"""Listens to catalog songs: sure matches only, by recording MBID when the catalog keeps one,
true counts of matched listens, most played first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from title_catalog import CATALOG, index_of, make_dataset

from recommender.dataset import Dataset, write_dataset
from recommender.listenbrainz.client import Listen
from recommender.listenbrainz.matching import CatalogMatcher
from recommender.search.resolver import TitleResolver
from recommender.text import song_key


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Dataset:
    return make_dataset(tmp_path_factory.mktemp("catalog"), CATALOG)


def matcher_for(dataset: Dataset) -> CatalogMatcher:
    return CatalogMatcher(dataset, TitleResolver.build(dataset, cache=False))


def item(title: str, artist: str) -> str:
    return f"SO{index_of(title, artist):04d}"


def test_sure_title_and_artist_matches_count_every_listen(catalog):
    listens = [
        Listen("Wonderwall", "Oasis"),
        Listen("Mr. Brightside", "The Killers"),
        Listen("wonderwall", "oasis"),  # the resolver's normalisation: case does not matter
        Listen("A Song Nobody Wrote", "No One"),
        Listen("Wonderwall", "Oasis"),
    ]
    matched = matcher_for(catalog).match("rob", listens)
    assert (matched.username, matched.listens, matched.matched, matched.by_mbid) == ("rob", 5, 4, 0)
    assert matched.songs == (item("Wonderwall", "Oasis"), item("Mr. Brightside", "The Killers"))


def test_a_title_by_another_artist_or_a_did_you_mean_is_not_a_match(catalog):
    listens = [
        Listen("Wonderwall", "Ryan Adams"),  # the title is in the catalog, by someone else
        Listen("Halo", "Someone Else"),
        Listen("Hey", "OutKast"),  # only the start of a title: a "did you mean", never taken
    ]
    matched = matcher_for(catalog).match("rob", listens)
    assert matched.matched == 0 and matched.songs == ()


def test_ties_in_plays_go_to_the_most_recent(catalog):
    listens = [Listen("Roses", "OutKast"), Listen("Yesterday", "The Beatles")]  # newest first
    assert matcher_for(catalog).match("rob", listens).songs == (
        item("Roses", "OutKast"),
        item("Yesterday", "The Beatles"),
    )


def test_the_recording_mbid_wins_when_the_catalog_keeps_one(tmp_path):
    items = pd.DataFrame(
        {
            "item_id": ["a", "b", "c"],
            "title": ["Intro", "Intro", "Outro"],
            "artist": ["The xx", "The xx", "The xx"],
            "recording_mbid": ["11111111-aaaa", "22222222-bbbb", None],
        }
    )
    matrix = sp.csr_matrix(np.ones((2, 3), dtype=np.float32))
    write_dataset(tmp_path / "lb", name="lb", interactions=matrix, items=items, user_ids=["u0", "u1"])
    dataset = Dataset.load(tmp_path / "lb")
    listens = [
        Listen("Intro", "The xx", recording_mbid="22222222-BBBB".lower()),  # the second "Intro", by MBID
        Listen("Intro (live)", "The xx", recording_mbid="22222222-bbbb"),  # the text differs, the MBID does not
        Listen("Outro", "The xx", recording_mbid="99999999-none"),  # unknown MBID: title and artist decide
    ]
    matched = matcher_for(dataset).match("rob", listens)
    assert matched.by_mbid == 2
    assert matched.matched == 3
    assert matched.songs == ("b", "c")


def test_the_exact_text_look_up_finds_each_song_and_agrees_with_the_resolver(catalog):
    """Every catalog song, listened to under its own title and artist, is found by the hash
    look-up as itself; where the resolver is sure too, it means the same song (its versions
    collapse: the resolver may name the most listened version, the look-up the exact one)."""
    matcher = matcher_for(catalog)
    for index, (title, artist, _) in enumerate(CATALOG):
        exact = matcher._by_exact_text(title.upper() + "  ", " " + artist.lower())
        assert exact == index, (title, artist)
        resolved = matcher._by_resolver(title, artist)
        if resolved is not None:
            assert song_key(*CATALOG[resolved][:2]) == song_key(title, artist), (title, artist)
    assert matcher._by_exact_text("Wonderwall", "Ryan Adams") is None
    assert matcher._by_exact_text("Wonderwal", "Oasis") is None  # not exact: left to the resolver


def test_of_equal_songs_the_most_listened_is_taken(tmp_path):
    rows = [("Intro", "The xx", 5), ("intro", "the XX", 50), ("Intro", "The xx ", 20)]
    dataset = make_dataset(tmp_path, rows, name="dupes")
    assert matcher_for(dataset).match("rob", [Listen("Intro", "The xx")]).songs == ("SO0001",)
