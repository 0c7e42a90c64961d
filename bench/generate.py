"""A deterministic generator of Million-Song-Dataset-shaped data, in the real file formats.

``generate(scale, dest)`` writes into ``dest``:

- ``train_triplets.txt``: ``user_id<TAB>song_id<TAB>play_count``, users of 40 hex characters,
  song ids like ``SOAKIMP12A8C130995``, lines grouped by user (as the Taste Profile file is).
- ``unique_tracks.txt``: ``track_id<SEP>song_id<SEP>artist<SEP>title``; more tracks than songs.
- ``truth.npz``: what was planted, for quality checks: each catalog song's id, genre, artist
  and the song it is a version of (-1 for originals). Read with ``allow_pickle=False``.
- ``meta.json``: the parameters and the counts actually written.

At scale 1.0 the counts are the real data's: 48.4 M triplets, 1.02 M users, 384.5 k songs with
listeners, 1 M tracks over 999 k songs, 44.7 k artists. The real data's skew is reproduced:
song popularity follows a power law (the top song is heard by about a tenth of all users,
the median song by about a dozen), user activity is log-normal (median 27 songs, mean 47,
from one song to a few thousand), play counts are Zipf (70 % are 1). Taste is planted: every
artist belongs to a genre, every user has a main and a second genre, and most of a user's
songs come from those, so "similar to" can be checked against the genres.

Speed: everything is numpy-vectorised; triplet lines are laid out as a byte matrix per chunk
of users and written with one ``write`` per chunk, so 48 M lines take about a minute on one
core. Each chunk has its own random stream, so the output depends only on (scale, seed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# Bump when the output for a given (scale, seed) changes, so cached data is rebuilt.
GENERATOR_VERSION = 1

# The real Taste Profile subset + MSD catalog (notes/msd-files.md).
FULL_TRIPLETS = 48_373_586
FULL_USERS = 1_019_318
FULL_SONGS_WITH_LISTENERS = 384_546
FULL_TRACKS = 1_000_000
FULL_CATALOG_SONGS = 999_056
FULL_ARTISTS = 44_745

TRIPLETS = "train_triplets.txt"
TRACKS = "unique_tracks.txt"
TRUTH = "truth.npz"
META = "meta.json"

USERS_PER_CHUNK = 32_768
MAX_PLAY_COUNT = 9_999  # four digits: the line layout below relies on it

VERSION_SUFFIXES = [
    " (Live)",
    " (Remix)",
    " (Album Version)",
    " - Radio Edit",
    " (Acoustic)",
    " (Demo)",
    " (Remastered)",
    " [Live]",
]
# A few real words and accented ones, so titles look like titles and exercise normalisation.
COMMON_WORDS = [
    "Love",
    "Night",
    "Heart",
    "Baby",
    "Home",
    "Time",
    "Fire",
    "Dream",
    "Rain",
    "Blue",
    "Girl",
    "Song",
    "Light",
    "Road",
    "World",
    "Dance",
    "Summer",
    "Gold",
    "Rock",
    "Sweet",
    "Soul",
    "Moon",
    "Hey",
    "Ya!",
    "You",
    "Me",
    "Don't",
    "Stop",
    "Go",
    "Back",
    "Café",
    "Señorita",
    "Über",
    "Noël",
    "Déjà",
    "Vu",
    "Mañana",
    "Fräulein",
]
ARTIST_PREFIXES = ["The ", "DJ ", "", "", "", "", "", "", "Los ", "MC "]


@dataclass(frozen=True)
class Counts:
    """Sizes at one scale; each real count times ``scale``, with floors that keep tiny scales sane."""

    scale: float
    triplets: int
    users: int
    songs_with_listeners: int
    tracks: int
    catalog_songs: int
    artists: int
    genres: int

    @classmethod
    def at(cls, scale: float) -> Counts:
        if not (0 < scale <= 4):
            raise ValueError(f"scale must be in (0, 4], got {scale!r}")

        def scaled(full: int, floor: int) -> int:
            return max(floor, round(full * scale))

        songs = scaled(FULL_SONGS_WITH_LISTENERS, 50)
        tracks = scaled(FULL_TRACKS, songs * 2)
        # Some songs have more than one track (at least one such song at any scale).
        catalog = max(songs, tracks - scaled(FULL_TRACKS - FULL_CATALOG_SONGS, 1))
        artists = scaled(FULL_ARTISTS, 10)
        # About twenty songs per genre at the tiniest scales, 24 genres from scale 0.002 up.
        genres = int(np.clip(songs // 20, 2, 24))
        return cls(
            scale=scale,
            triplets=scaled(FULL_TRIPLETS, 2_000),
            users=scaled(FULL_USERS, 40),
            songs_with_listeners=songs,
            tracks=tracks,
            catalog_songs=catalog,
            artists=artists,
            genres=genres,
        )


def scale_dir_name(scale: float) -> str:
    return f"scale-{scale:g}"


# -- ids ---------------------------------------------------------------------------------------

_UPPER = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
_HEX = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)


def msd_ids(prefix: bytes, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` unique ids like SOAKIMP12A8C130995 (prefix, 5 letters, 3 hex, 8 hex of the index).

    The index in the last 8 characters makes them unique without a collision check.
    """
    if count >= 16**8:
        raise ValueError("too many ids for the 8-hex-digit index")
    out = np.empty((count, 18), dtype=np.uint8)
    out[:, 0:2] = np.frombuffer(prefix, dtype=np.uint8)
    out[:, 2:7] = _UPPER[rng.integers(0, 26, size=(count, 5))]
    out[:, 7:10] = _HEX[rng.integers(0, 16, size=(count, 3))]
    # An odd multiplier is a bijection modulo 2**32: unique, yet the digits look random.
    index = (np.arange(count, dtype=np.uint64) * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)
    index = index.astype(np.int64)
    for position in range(8):
        out[:, 17 - position] = _HEX[(index >> (4 * position)) & 0xF]
    return out


def user_ids(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` 40-hex-character user ids (lower case, as in the real file), one row each."""
    raw = rng.bytes(20 * count).hex().encode("ascii")
    return np.frombuffer(raw, dtype=np.uint8).reshape(count, 40)


# -- names -------------------------------------------------------------------------------------


def _vocabulary(size: int, rng: np.random.Generator) -> list[str]:
    """Pronounceable made-up words plus a few real and accented ones."""
    onsets = [
        "b",
        "br",
        "c",
        "ch",
        "d",
        "dr",
        "f",
        "g",
        "gr",
        "h",
        "j",
        "k",
        "l",
        "m",
        "n",
        "p",
        "pr",
        "r",
        "s",
        "sh",
        "st",
        "t",
        "tr",
        "v",
        "w",
        "z",
    ]
    vowels = ["a", "e", "i", "o", "u", "ai", "ee", "oo", "ou", "y"]
    codas = ["", "", "n", "r", "s", "l", "t", "ng", "ck", "x"]
    words = set(COMMON_WORDS)
    while len(words) < size:
        syllables = rng.integers(1, 4)
        word = "".join(
            onsets[rng.integers(len(onsets))] + vowels[rng.integers(len(vowels))] + codas[rng.integers(len(codas))]
            for _ in range(syllables)
        )
        words.add(word.capitalize())
    return sorted(words)


def _phrases(count: int, vocabulary: list[str], max_words: int, rng: np.random.Generator) -> list[str]:
    """``count`` phrases of 1..max_words words; word choice is skewed so some titles repeat."""
    vocab = np.array(vocabulary, dtype=object)
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 0.8
    word_index = rng.choice(len(vocab), size=(count, max_words), p=weights / weights.sum())
    length_share = np.array([0.3, 0.35, 0.22, 0.13][:max_words])
    lengths = rng.choice(np.arange(1, max_words + 1), size=count, p=length_share / length_share.sum())
    words = vocab[word_index]
    return [" ".join(row[:n]) for row, n in zip(words.tolist(), lengths.tolist())]


# -- the catalog -------------------------------------------------------------------------------


@dataclass
class Catalog:
    song_ids: np.ndarray  # (catalog_songs, 18) uint8
    song_artist: np.ndarray  # artist index per song
    song_genre: np.ndarray  # planted genre per song
    version_of: np.ndarray  # index of the original for versions and covers, else -1
    titles: list[str]
    artists: list[str]
    listened: np.ndarray  # catalog indices of the songs that have listeners
    popularity: np.ndarray  # sampling weight per listened song (sums to 1)


def build_catalog(counts: Counts, seed: int) -> Catalog:
    rng = np.random.default_rng([seed, 1])
    vocabulary = _vocabulary(max(200, min(20_000, counts.catalog_songs // 50)), rng)

    artist_genre = rng.integers(0, counts.genres, size=counts.artists)
    artist_names = [
        ARTIST_PREFIXES[rng.integers(len(ARTIST_PREFIXES))] + phrase
        for phrase in _phrases(counts.artists, vocabulary, 3, rng)
    ]
    # Prolific artists have hundreds of songs, most have a few: Zipf over a shuffled order.
    artist_weight = 1.0 / np.arange(1, counts.artists + 1) ** 0.9
    rng.shuffle(artist_weight)
    song_artist = rng.choice(counts.artists, size=counts.catalog_songs, p=artist_weight / artist_weight.sum())

    titles = _phrases(counts.catalog_songs, vocabulary, 4, rng)
    version_of = np.full(counts.catalog_songs, -1, dtype=np.int64)
    # Versions (same artist, "(Live)", "(Remix)", ...) and covers (same title, another artist):
    # the cases a person means when they say "the wrong version matched".
    kind = rng.random(counts.catalog_songs)
    candidates = np.flatnonzero(kind < 0.08)
    candidates = candidates[candidates > 0]
    originals = (rng.random(len(candidates)) * candidates).astype(np.int64)  # an earlier song
    for song, original in zip(candidates.tolist(), originals.tolist()):
        while version_of[original] >= 0:  # point at the root original
            original = int(version_of[original])
        version_of[song] = original
        if kind[song] < 0.06:
            song_artist[song] = song_artist[original]
            titles[song] = titles[original] + VERSION_SUFFIXES[song % len(VERSION_SUFFIXES)]
        else:
            titles[song] = titles[original]
    song_genre = artist_genre[song_artist]

    listened = np.sort(rng.choice(counts.catalog_songs, size=counts.songs_with_listeners, replace=False))
    # Popularity: a power law over relative rank, so its shape does not depend on the scale.
    rank = rng.permutation(counts.songs_with_listeners).astype(np.float64)
    relative = (rank + 0.5) / counts.songs_with_listeners
    popularity = (relative + 2e-4) ** -1.2
    popularity /= popularity.sum()
    return Catalog(
        song_ids=msd_ids(b"SO", counts.catalog_songs, rng),
        song_artist=song_artist,
        song_genre=song_genre,
        version_of=version_of,
        titles=titles,
        artists=artist_names,
        listened=listened,
        popularity=popularity,
    )


def write_tracks(path: Path, catalog: Catalog, counts: Counts, seed: int) -> None:
    """unique_tracks.txt: every catalog song has a track; the extra tracks repeat some songs."""
    rng = np.random.default_rng([seed, 2])
    extra = counts.tracks - counts.catalog_songs
    track_song = np.concatenate([np.arange(counts.catalog_songs), rng.integers(0, counts.catalog_songs, size=extra)])
    rng.shuffle(track_song)
    track_ids = msd_ids(b"TR", counts.tracks, rng).view("S18").ravel()
    song_ids = catalog.song_ids.view("S18").ravel()
    with path.open("w", encoding="utf-8", newline="\n", buffering=16 << 20) as handle:
        for start in range(0, counts.tracks, 200_000):
            block = track_song[start : start + 200_000]
            lines = [
                f"{t.decode()}<SEP>{s.decode()}<SEP>{catalog.artists[a]}<SEP>{catalog.titles[i]}"
                for t, s, a, i in zip(
                    track_ids[start : start + 200_000].tolist(),
                    song_ids[block].tolist(),
                    catalog.song_artist[block].tolist(),
                    block.tolist(),
                )
            ]
            handle.write("\n".join(lines))
            handle.write("\n")


# -- the triplets ------------------------------------------------------------------------------


def _count_lines_table() -> np.ndarray:
    """Row c: the bytes of str(c) + newline, left-aligned in 5 bytes, zero-padded."""
    table = np.zeros((MAX_PLAY_COUNT + 1, 5), dtype=np.uint8)
    for count in range(1, MAX_PLAY_COUNT + 1):
        text = f"{count}\n".encode("ascii")
        table[count, : len(text)] = np.frombuffer(text, dtype=np.uint8)
    return table


class TasteSampler:
    """Draws songs for users: from their main genre, their second genre, or anything popular.

    One ``searchsorted`` does all draws: genre g's songs occupy a block of a cumulative table
    normalised to [g, g+1), so ``g + uniform`` lands in that genre with popularity weights.
    """

    MAIN, SECOND = 0.60, 0.15  # the rest comes from overall popularity

    def __init__(self, catalog: Catalog, genres: int):
        genre = catalog.song_genre[catalog.listened]
        self.order = np.argsort(genre, kind="stable")  # listened-song positions, grouped by genre
        weights = catalog.popularity[self.order]
        grouped = genre[self.order]
        mass = np.bincount(grouped, weights=weights, minlength=genres)
        cumulative = np.cumsum(weights / mass[grouped])
        starts = np.searchsorted(grouped, np.arange(genres))
        # Restart the cumulative sum at each genre, then add the genre number.
        offset = np.where(starts > 0, cumulative[np.maximum(starts - 1, 0)], 0.0)
        self.genre_table = cumulative - offset[grouped] + grouped
        self.genre_table[-1] = np.inf
        self.present = mass > 0
        self.global_table = np.cumsum(catalog.popularity)
        self.global_table[-1] = np.inf

    def draw(self, main: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One listened-song position per entry of ``main``/``second`` (the user's genres)."""
        choice = rng.random(len(main))
        uniform = rng.random(len(main))
        genre = np.where(choice < self.MAIN, main, second)
        by_genre = (choice < self.MAIN + self.SECOND) & self.present[genre]
        out = np.empty(len(main), dtype=np.int64)
        out[by_genre] = self.order[np.searchsorted(self.genre_table, genre[by_genre] + uniform[by_genre], side="right")]
        rest = ~by_genre
        out[~by_genre] = np.searchsorted(self.global_table, uniform[rest], side="right")
        return out


def user_activity(counts: Counts, seed: int) -> np.ndarray:
    """Songs per user: log-normal (median ~27, mean ~47), at least 1, scaled to the triplet total."""
    rng = np.random.default_rng([seed, 3])
    raw = rng.lognormal(mean=np.log(27.0), sigma=1.06, size=counts.users)
    activity = np.maximum(1, np.round(raw * counts.triplets / raw.sum())).astype(np.int64)
    # At tiny scales a heavy user could want more songs than exist; half the catalog at most.
    return np.minimum(activity, max(1, counts.songs_with_listeners // 2))


def write_triplets(path: Path, catalog: Catalog, counts: Counts, seed: int) -> int:
    """Write the triplets file chunk by chunk of users; returns the number of lines written."""
    rng = np.random.default_rng([seed, 4])
    users = user_ids(counts.users, rng)
    main_genre = rng.integers(0, counts.genres, size=counts.users)
    second_genre = (main_genre + rng.integers(1, max(2, counts.genres), size=counts.users)) % counts.genres
    activity = user_activity(counts, seed)
    # Every song with listeners gets one listener up front, preferably a fan of its genre.
    song_genre = catalog.song_genre[catalog.listened]
    fans = np.argsort(main_genre, kind="stable")
    fan_starts = np.searchsorted(main_genre[fans], np.arange(counts.genres + 1))
    fan_counts = np.diff(fan_starts)
    pick = (rng.random(counts.songs_with_listeners) * np.maximum(fan_counts[song_genre], 1)).astype(np.int64)
    guaranteed_user = np.where(
        fan_counts[song_genre] > 0,
        fans[fan_starts[song_genre] + pick],
        rng.integers(0, counts.users, size=counts.songs_with_listeners),
    )
    by_user = np.argsort(guaranteed_user, kind="stable")
    guaranteed_sorted = guaranteed_user[by_user]

    sampler = TasteSampler(catalog, counts.genres)
    song_bytes = catalog.song_ids[catalog.listened]  # (songs, 18) uint8
    count_table = _count_lines_table()
    written = 0
    with path.open("wb", buffering=0) as handle:
        for chunk, start in enumerate(range(0, counts.users, USERS_PER_CHUNK)):
            stop = min(start + USERS_PER_CHUNK, counts.users)
            chunk_rng = np.random.default_rng([seed, 5, chunk])
            lo, hi = np.searchsorted(guaranteed_sorted, [start, stop])
            key = _distinct_draws(
                start,
                stop,
                activity,
                main_genre,
                second_genre,
                sampler,
                guaranteed_sorted[lo:hi],
                by_user[lo:hi],
                counts.songs_with_listeners,
                chunk_rng,
            )
            line_user, line_song = np.divmod(key, counts.songs_with_listeners)
            plays = np.minimum(chunk_rng.zipf(2.3, size=len(key)), MAX_PLAY_COUNT)
            handle.write(_triplet_lines(users, song_bytes, count_table, line_user, line_song, plays))
            written += len(key)
    return written


def _distinct_draws(
    start, stop, activity, main_genre, second_genre, sampler, fixed_users, fixed_songs, n_songs, rng, rounds=12
) -> np.ndarray:
    """Sorted keys user * n_songs + song: each user in [start, stop) gets ``activity`` distinct songs.

    A user hears a song once, so repeated draws of a popular song are merged and the missing
    songs are drawn again (a few rounds; a user left short after that keeps fewer songs).
    """
    key = _sorted_unique(fixed_users * n_songs + fixed_songs)
    want = activity[start:stop]
    need = want.copy()
    for _ in range(rounds):
        users = np.repeat(np.arange(start, stop), need)
        if len(users) == 0:
            break
        songs = sampler.draw(main_genre[users], second_genre[users], rng)
        # Both parts sorted: the stable sort (timsort) only merges two runs.
        fresh = np.sort(users * n_songs + songs)
        key = _sorted_unique(np.sort(np.concatenate([key, fresh]), kind="stable"), presorted=True)
        have = np.bincount(key // n_songs - start, minlength=stop - start)
        need = np.maximum(want - have, 0)
    return key


def _sorted_unique(values: np.ndarray, presorted: bool = False) -> np.ndarray:
    """np.unique for int64 keys; sort + compare is several times faster than its hash path."""
    values = values if presorted else np.sort(values)
    if len(values) == 0:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _triplet_lines(users, song_bytes, count_table, line_user, line_song, plays) -> bytes:
    """Lay the lines out as a byte matrix (ids are fixed width), then drop the count padding."""
    rows = np.empty((len(line_user), 65), dtype=np.uint8)
    rows[:, 0:40] = users[line_user]
    rows[:, 40] = ord("\t")
    rows[:, 41:59] = song_bytes[line_song]
    rows[:, 59] = ord("\t")
    rows[:, 60:65] = count_table[plays]
    flat = rows.ravel()
    return flat[flat != 0].tobytes()


# -- driver ------------------------------------------------------------------------------------


def _parameters(counts: Counts, seed: int) -> dict:
    return {"generator_version": GENERATOR_VERSION, "seed": seed, **asdict(counts)}


def is_current(dest: Path, scale: float, seed: int) -> bool:
    meta = dest / META
    if not meta.exists():
        return False
    try:
        recorded = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return recorded.get("parameters") == _parameters(Counts.at(scale), seed)


def generate(scale: float, dest: str | Path, seed: int = 2012, force: bool = False) -> dict:
    """Write the files for ``scale`` into ``dest`` (reused when already there); returns meta."""
    dest = Path(dest)
    if not force and is_current(dest, scale, seed):
        return json.loads((dest / META).read_text(encoding="utf-8"))
    counts = Counts.at(scale)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the destination and renamed in: no half-written data is ever reused.
    temp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        started = time.perf_counter()
        catalog = build_catalog(counts, seed)
        write_tracks(temp / TRACKS, catalog, counts, seed)
        catalog_seconds = time.perf_counter() - started
        triplets = write_triplets(temp / TRIPLETS, catalog, counts, seed)
        np.savez(
            temp / TRUTH,
            song_ids=catalog.song_ids.view("S18").ravel(),
            genre=catalog.song_genre.astype(np.int16),
            artist=catalog.song_artist.astype(np.int32),
            version_of=catalog.version_of,
            listened=catalog.listened,
        )
        meta = {
            "parameters": _parameters(counts, seed),
            "written": {
                "triplets": triplets,
                "users": counts.users,
                "songs_with_listeners": counts.songs_with_listeners,
                "tracks": counts.tracks,
                "catalog_songs": counts.catalog_songs,
            },
            "bytes": {name: (temp / name).stat().st_size for name in (TRIPLETS, TRACKS)},
            "seconds": {
                "catalog_and_tracks": round(catalog_seconds, 3),
                "total": round(time.perf_counter() - started, 3),
            },
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (temp / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(temp, dest)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--dest", type=Path, help="folder (default bench/work/scale-<s>/msd)")
    parser.add_argument("--force", action="store_true", help="regenerate even when cached")
    args = parser.parse_args(argv)
    dest = args.dest or Path(__file__).resolve().parent / "work" / scale_dir_name(args.scale) / "msd"
    meta = generate(args.scale, dest, seed=args.seed, force=args.force)
    json.dump(meta, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
