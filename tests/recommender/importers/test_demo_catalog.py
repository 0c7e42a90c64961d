"""The shipped demo catalog (data/demo/catalog.csv) checked against its schema.

These read the file with the csv module directly, not through the importer, so a mistake
in the importer's own checks cannot hide a bad file.
"""

from __future__ import annotations

import csv
from collections import Counter

import pytest
from paths import DEMO_CATALOG

CATALOG = DEMO_CATALOG
HEADER = ["title", "artist", "genre", "year"]


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with CATALOG.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_header_is_exact():
    with CATALOG.open(encoding="utf-8", newline="") as handle:
        assert next(csv.reader(handle)) == HEADER


def test_every_row_has_exactly_the_four_fields(rows):
    # DictReader puts surplus fields under None and fills missing ones with None.
    bad = [index + 2 for index, row in enumerate(rows) if None in row or None in row.values()]
    assert bad == [], f"rows with the wrong number of fields at lines {bad}"


def test_at_least_600_songs(rows):
    assert len(rows) >= 600


def test_no_empty_fields_and_no_stray_spaces(rows):
    for line, row in enumerate(rows, start=2):
        for column in HEADER:
            value = row[column]
            assert value, f"line {line}: empty {column}"
            assert value == value.strip(), f"line {line}: {column} {value!r} has stray spaces"
            assert "  " not in value, f"line {line}: {column} {value!r} has a double space"


def test_years_are_integers_in_range(rows):
    for line, row in enumerate(rows, start=2):
        assert row["year"].isdigit(), f"line {line}: year {row['year']!r} is not an integer"
        assert 1900 <= int(row["year"]) <= 2026, f"line {line}: year {row['year']} out of range"


def test_spans_several_decades(rows):
    decades = Counter(int(row["year"]) // 10 * 10 for row in rows)
    # 1950s to 2020s each with a real presence, so the era tastes have something to pick.
    for decade in range(1950, 2030, 10):
        assert decades[decade] >= 20, f"only {decades[decade]} songs from the {decade}s"


def test_at_least_12_genres_each_with_20_songs(rows):
    genres = Counter(row["genre"] for row in rows)
    big = {genre: count for genre, count in genres.items() if count >= 20}
    assert len(big) >= 12, f"genres with 20+ songs: {big}"
    small = {genre: count for genre, count in genres.items() if count < 20}
    assert small == {}, f"genres too small to form a taste: {small}"


def test_genre_names_are_lower_case(rows):
    assert all(row["genre"] == row["genre"].lower() for row in rows)


def test_no_duplicate_title_artist_pairs(rows):
    keys = Counter((row["title"].casefold(), row["artist"].casefold()) for row in rows)
    assert [key for key, count in keys.items() if count > 1] == []


def test_anchor_songs_are_present(rows):
    songs = {(row["title"], row["artist"]): row for row in rows}
    hey_ya = songs[("Hey Ya!", "OutKast")]
    assert (hey_ya["genre"], hey_ya["year"]) == ("hip hop", "2003")
    assert sum(row["artist"] == "OutKast" for row in rows) >= 3
    assert ("Crazy in Love", "Beyoncé") in songs
    assert ("Halo", "Beyoncé") in songs
    assert songs[("Smells Like Teen Spirit", "Nirvana")]["year"] == "1991"


def test_accents_are_kept_as_utf8():
    text = CATALOG.read_bytes().decode("utf-8")
    assert "Beyoncé" in text and "Motörhead" in text
    assert "\ufffd" not in text, "a replacement character means an encoding went wrong"
    assert "Beyonce," not in text


def test_titles_with_commas_and_quotes_round_trip(rows):
    titles = {row["title"] for row in rows}
    assert "Harder, Better, Faster, Stronger" in titles
    assert 'Take the "A" Train' in titles
    artists = {row["artist"] for row in rows}
    assert "Earth, Wind & Fire" in artists
