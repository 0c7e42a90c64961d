"""The string index: exact, prefix and typo-tolerant look-ups, checked against a plain scan."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.search.strings import StringIndex, sorted_distinct

TITLES = ["hey ya", "hey you", "hey jude", "heyday", "halo", "hallo", "smells like teen spirit", "roses", "yesterday"]
POPULARITY = np.array([900, 500, 800, 10, 700, 3, 1000, 300, 750], dtype=np.float64)


def build(strings, popularity=None) -> StringIndex:
    popularity = np.ones(len(strings)) if popularity is None else popularity
    return StringIndex.build(strings, popularity)[0]


def trigrams(text: str) -> set[str]:
    padded = f" {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def test_ids_follow_length_then_text_and_every_input_keeps_its_string():
    index, id_of_input = StringIndex.build(TITLES, POPULARITY)
    assert index.strings == sorted(TITLES, key=lambda s: (len(s), s))
    assert [index.strings[i] for i in id_of_input.tolist()] == TITLES
    assert index.popularity[id_of_input].tolist() == POPULARITY.tolist()
    assert len(index) == len(TITLES)


def test_find_is_exact():
    index, id_of_input = StringIndex.build(TITLES, POPULARITY)
    for position, title in enumerate(TITLES):
        assert index.find(title) == id_of_input[position]
    assert index.find("hey") == index.find("hey ya ") == index.find("") == -1


def test_prefixed_gives_the_most_popular_strings_starting_with_the_text():
    index = build(TITLES, POPULARITY)
    assert [index.strings[i] for i in index.prefixed("hey", 10)] == ["hey ya", "hey jude", "hey you", "heyday"]
    assert [index.strings[i] for i in index.prefixed("hey", 2)] == ["hey ya", "hey jude"]
    assert [index.strings[i] for i in index.prefixed("", 3)] == ["smells like teen spirit", "hey ya", "hey jude"]
    assert len(index.prefixed("zz", 5)) == 0


def test_similar_finds_titles_with_typos():
    index = build(TITLES)
    for typed, meant in [
        ("smels like ten spirit", "smells like teen spirit"),
        ("hye ya", "hey ya"),
        ("yesterdy", "yesterday"),
    ]:
        assert index.find(meant) in index.similar(typed).tolist(), typed
    assert len(index.similar("qqqq")) == 0  # no trigram in common


WORDS = st.text(alphabet="abcd ", min_size=1, max_size=9).map(lambda s: " ".join(s.split())).filter(bool)


@settings(max_examples=150)
@given(st.sets(WORDS, min_size=1, max_size=40), st.text(alphabet="abcdx", min_size=1, max_size=7))
def test_similar_returns_every_string_of_about_that_length_sharing_a_trigram_and_nothing_sharing_none(strings, query):
    """A query of up to 7 characters has at most 7 trigrams: all are always read, so on a small
    index every string of about its length sharing one of them is found, as a scan finds it."""
    index = build(sorted(strings))
    found = {index.strings[i] for i in index.similar(query).tolist()}
    sharing = {s for s in strings if trigrams(s) & trigrams(query)}
    assert found <= sharing
    slack = 2 + len(query) // 8
    about_as_long = {s for s in sharing if max(1, len(query) - slack) <= len(s) <= len(query) + slack}
    assert about_as_long <= found


def test_an_index_from_its_arrays_answers_the_same():
    index = build(TITLES, POPULARITY)
    again = StringIndex(list(index.strings), index.arrays())
    for text in ("hey", "halo", "smels like", "yesterdy", ""):
        assert again.prefixed(text, 5).tolist() == index.prefixed(text, 5).tolist()
        assert again.similar(text).tolist() == index.similar(text).tolist()
        assert again.find(text) == index.find(text)


def test_an_empty_index_finds_nothing():
    index = build([])
    assert len(index) == 0
    assert index.find("hey") == -1
    assert len(index.prefixed("", 5)) == 0 and len(index.similar("hey ya")) == 0


def test_sorted_distinct():
    assert sorted_distinct(np.array([3, 1, 3, 2, 1])).tolist() == [1, 2, 3]
    assert sorted_distinct(np.array([5])).tolist() == [5]
    assert sorted_distinct(np.zeros(0, dtype=np.int64)).tolist() == []
