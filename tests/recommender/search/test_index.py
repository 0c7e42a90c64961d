"""The title index: every link between titles, artists and songs, checked against a plain scan."""

from __future__ import annotations

import numpy as np
import pytest
from title_catalog import CATALOG

from recommender.search.index import POPULAR_SONGS, TitleIndex
from recommender.text import MAX_CATALOG_CHARS, parse_artist, parse_title, primary_artist_display

TITLES = [row[0] for row in CATALOG]
ARTISTS = [row[1] for row in CATALOG]
LISTENERS = np.array([row[2] for row in CATALOG], dtype=np.int64)


@pytest.fixture(scope="module")
def index() -> TitleIndex:
    return TitleIndex.from_columns([f"S{i}" for i in range(len(CATALOG))], TITLES, ARTISTS, LISTENERS)


def most_listened_first(items) -> list[int]:
    return sorted(items, key=lambda item: (-int(LISTENERS[item]), item))


def title_names(title: str) -> set[str]:
    """The normalized titles a song is found by: its core, and its subtitled form when the
    bracket is a subtitle rather than a version."""
    parts = parse_title(title, MAX_CATALOG_CHARS)
    names = {parts.core}
    if parts.extras and not parts.is_version and parts.full != parts.core:
        names.add(parts.full)
    return names


def credited(item: int) -> set[str]:
    credit = parse_artist(ARTISTS[item], MAX_CATALOG_CHARS)
    return {credit.primary, *credit.featured, *parse_title(TITLES[item], MAX_CATALOG_CHARS).featured}


def test_each_song_links_to_its_core_title(index):
    for item, title in enumerate(TITLES):
        assert index.title_index.strings[index.item_core[item]] == parse_title(title, MAX_CATALOG_CHARS).core


def test_each_title_lists_its_songs_most_listened_first(index):
    assert set(index.title_index.strings) == set().union(*(title_names(t) for t in TITLES))
    for title_id, name in enumerate(index.title_index.strings):
        items = index.title_items[index.title_indptr[title_id] : index.title_indptr[title_id + 1]].tolist()
        assert items == most_listened_first(i for i, t in enumerate(TITLES) if name in title_names(t)), name
    satisfaction = index.title_index.find("i cant get no satisfaction")  # the subtitled form finds it too
    assert satisfaction >= 0


def test_each_song_links_to_its_primary_artist_and_every_credit(index):
    for item, artist in enumerate(ARTISTS):
        assert index.artist_index.strings[index.item_primary[item]] == parse_artist(artist, MAX_CATALOG_CHARS).primary
        credits = index.credit_artists[index.credit_indptr[item] : index.credit_indptr[item + 1]]
        assert {index.artist_index.strings[a] for a in credits.tolist()} == credited(item)
    assert "jay z" in {index.artist_index.strings[a] for a in range(len(index.artist_index))}


def test_each_artist_lists_the_songs_crediting_them_most_listened_first(index):
    for artist_id, name in enumerate(index.artist_index.strings):
        items = index.artist_items[index.artist_indptr[artist_id] : index.artist_indptr[artist_id + 1]].tolist()
        assert items == most_listened_first(i for i in range(len(CATALOG)) if name in credited(i)), name


def test_artists_are_shown_as_their_most_listened_song_credits_them(index):
    for artist_id, name in enumerate(index.artist_index.strings):
        primaries = [i for i, a in enumerate(ARTISTS) if parse_artist(a, MAX_CATALOG_CHARS).primary == name]
        shown = index.artist_display[artist_id]
        if not primaries:  # only ever featured: not offered as an artist of their own
            assert shown is None, name
        else:
            assert shown == primary_artist_display(ARTISTS[most_listened_first(primaries)[0]]), name
    assert "Beyoncé" in index.artist_display and "Rihanna" in index.artist_display


def test_an_empty_autocomplete_has_the_most_listened_songs(index):
    versions = index.versions
    expected = sorted(range(len(versions)), key=lambda g: (-int(LISTENERS[versions.representative(g)]), g))
    assert index.popular_groups.tolist() == expected[:POPULAR_SONGS]


def test_mismatched_columns_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        TitleIndex.from_columns(["a"], ["t", "u"], ["x", "y"], np.array([1, 2]))


def test_an_empty_catalog_is_an_empty_index():
    index = TitleIndex.from_columns([], [], [], np.zeros(0, dtype=np.int64))
    assert len(index) == 0 and len(index.title_index) == 0 and len(index.versions) == 0
    assert index.display([]) == [] and index.candidates([], []) == []
