"""Version groups: which songs are versions of one song, and which version stands for it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.dataset import Dataset, write_dataset
from recommender.search.resolver import TitleResolver
from recommender.text import MAX_CATALOG_CHARS, parse_title, song_key
from recommender.versions import VersionGroups

# (title, artist, listeners)
CATALOG = [
    ("Hey Ya!", "OutKast", 900),
    ("Hey Ya! (Radio Mix)", "OutKast", 120),
    ("Hey Ya! - Live at Wembley", "OutKast", 30),
    ("Hey Ya", "Obadiah Parker", 25),  # a cover: another song
    ("Ms. Jackson", "OutKast", 500),
    ("Bohemian Rhapsody (Remastered 2011)", "Queen", 650),  # more listened than the plain title
    ("Bohemian Rhapsody", "Queen", 100),
    ("Umbrella", "Rihanna feat. Jay-Z", 650),
    ("Umbrella (Live)", "Rihanna", 650),  # a version: same primary artist
    ("Umbrella", "Rihanna", 650),  # equal listeners: the plain title stands for the song
    ("The Scientist", "Coldplay", 600),
    ("Scientist", "Coldplay", 3),  # a leading "the" makes no other song
]


def index_of(title: str, artist: str) -> int:
    return next(i for i, row in enumerate(CATALOG) if row[0] == title and row[1] == artist)


def columns(rows):
    return [r[0] for r in rows], [r[1] for r in rows], np.array([r[2] for r in rows], dtype=np.int64)


@pytest.fixture(scope="module")
def groups() -> VersionGroups:
    return VersionGroups.from_columns(*columns(CATALOG))


def brute_force(titles, artists, listeners) -> tuple[list[list[int]], list[int]]:
    """Every item's fellow versions (most listened first, a plain title before a version on
    equal listeners, then row order) and representative, by comparing song keys pairwise."""
    keys = [song_key(title, artist) for title, artist in zip(titles, artists)]
    is_version = [parse_title(title, MAX_CATALOG_CHARS).is_version for title in titles]
    members = []
    for item in range(len(keys)):
        same = [other for other in range(len(keys)) if keys[other] == keys[item]]
        members.append(sorted(same, key=lambda i: (-int(listeners[i]), is_version[i], i)))
    return members, [fellows[0] for fellows in members]


def assert_matches_brute_force(groups: VersionGroups, titles, artists, listeners) -> None:
    members, representatives = brute_force(titles, artists, listeners)
    assert groups.n_items == len(titles)
    assert len(groups) == len({song_key(t, a) for t, a in zip(titles, artists)})
    for item in range(len(titles)):
        group = groups.group_of(item)
        assert groups.members(group).tolist() == members[item]
        assert groups.representative(group) == representatives[item]
    assert sorted(groups.items.tolist()) == list(range(len(titles)))  # every item in one group


def test_versions_of_one_song_share_a_group_and_covers_do_not(groups):
    studio, radio, live = (
        index_of(t, "OutKast") for t in ("Hey Ya!", "Hey Ya! (Radio Mix)", "Hey Ya! - Live at Wembley")
    )
    group = groups.group_of(radio)
    assert groups.group_of(studio) == groups.group_of(live) == group
    assert groups.group_of(index_of("Hey Ya", "Obadiah Parker")) != group
    assert groups.group_of(index_of("Ms. Jackson", "OutKast")) != group
    assert groups.members(group).tolist() == [studio, radio, live]  # most listened first
    assert groups.representative(group) == studio


def test_the_most_listened_version_stands_for_the_song(groups):
    remaster = index_of("Bohemian Rhapsody (Remastered 2011)", "Queen")
    plain = index_of("Bohemian Rhapsody", "Queen")
    assert groups.group_of(remaster) == groups.group_of(plain)
    assert groups.representative(groups.group_of(plain)) == remaster


def test_on_equal_listeners_the_plain_title_stands_for_the_song(groups):
    plain = index_of("Umbrella", "Rihanna")
    group = groups.group_of(plain)
    featured, live = index_of("Umbrella", "Rihanna feat. Jay-Z"), index_of("Umbrella (Live)", "Rihanna")
    assert groups.members(group).tolist() == [featured, plain, live]  # plain titles in row order, then the version
    assert groups.representative(group) == featured


def test_groups_match_a_brute_force_grouping(groups):
    assert_matches_brute_force(groups, *columns(CATALOG))


TITLES = st.sampled_from(
    ["Hey Ya!", "hey ya", "Hey Ya! (Radio Mix)", "Hey Ya - Live", "The Hey Ya", "Roses", "Roses (Demo)", "Rosés", ""]
)
ARTISTS = st.sampled_from(["OutKast", "outkast", "OutKast feat. Sleepy Brown", "The OutKast", "Obadiah Parker", ""])


@settings(max_examples=60)
@given(st.lists(st.tuples(TITLES, ARTISTS, st.integers(min_value=0, max_value=3)), max_size=25))
def test_any_small_catalog_groups_like_the_brute_force(rows):
    groups = VersionGroups.from_columns(*columns(rows))
    assert_matches_brute_force(groups, *columns(rows))


def test_with_versions_adds_every_other_version(groups):
    studio, cover = index_of("Hey Ya!", "OutKast"), index_of("Hey Ya", "Obadiah Parker")
    assert groups.with_versions([index_of("Hey Ya! (Radio Mix)", "OutKast"), cover]) == {studio, 1, 2, cover}
    assert groups.with_versions([]) == set()


def test_built_from_a_dataset_without_a_title_index(tmp_path, monkeypatch):
    titles, artists, listeners = columns(CATALOG)
    matrix = sp.csr_matrix(
        (
            np.ones(int(listeners.sum())),
            (np.arange(int(listeners.sum())), np.repeat(np.arange(len(CATALOG)), listeners)),
        ),
        shape=(int(listeners.sum()), len(CATALOG)),
    )
    items = pd.DataFrame({"item_id": [f"S{i}" for i in range(len(CATALOG))], "title": titles, "artist": artists})
    write_dataset(
        tmp_path / "tiny",
        name="tiny",
        interactions=matrix,
        items=items,
        user_ids=[f"u{i}" for i in range(matrix.shape[0])],
    )
    dataset = Dataset.load(tmp_path / "tiny")

    def no_index(*args, **kwargs):
        raise AssertionError("built a title index for version groups")

    monkeypatch.setattr(TitleResolver, "from_columns", no_index)
    monkeypatch.setattr(TitleResolver, "build", no_index)
    assert_matches_brute_force(VersionGroups.build(dataset), titles, artists, dataset.listeners)


def test_the_resolver_groups_versions_the_same_way(groups):
    titles, artists, listeners = columns(CATALOG)
    resolver = TitleResolver.from_columns([f"S{i}" for i in range(len(CATALOG))], titles, artists, listeners)
    assert isinstance(resolver.versions, VersionGroups)
    assert len(resolver.versions) == len(groups)
    for item in range(len(CATALOG)):
        mine, theirs = resolver.versions.group_of(item), groups.group_of(item)
        assert resolver.versions.members(mine).tolist() == groups.members(theirs).tolist()


def test_missing_titles_and_artists_are_read_as_empty():
    groups = VersionGroups.from_columns(["Hey Ya!", None, None], [None, "OutKast", "OutKast"], [3, 2, 1])
    assert groups.group_of(1) == groups.group_of(2) != groups.group_of(0)
    assert groups.representative(groups.group_of(2)) == 1


def test_an_empty_catalog_has_no_groups():
    groups = VersionGroups.from_columns([], [], np.zeros(0, dtype=np.int64))
    assert len(groups) == 0 and groups.n_items == 0
    assert groups.with_versions([]) == set()


def test_columns_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        VersionGroups.from_columns(["a", "b"], ["x"], [1, 2])


def test_saved_arrays_give_the_same_groups_and_misfits_are_refused(groups):
    again = VersionGroups.from_arrays(groups.arrays())
    assert [again.group_of(i) for i in range(len(CATALOG))] == [groups.group_of(i) for i in range(len(CATALOG))]
    assert again.representatives.tolist() == groups.representatives.tolist()
    damaged = {**groups.arrays(), "representatives": groups.representatives[:-1]}
    with pytest.raises(ValueError, match="do not fit"):
        VersionGroups.from_arrays(damaged)
    with pytest.raises(KeyError):
        VersionGroups.from_arrays({"item_group": groups.item_group})
