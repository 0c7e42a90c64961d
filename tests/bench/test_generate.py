"""bench.generate writes the real MSD files' formats, with skew and taste planted, deterministically."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np

from bench import generate


def test_triplets_are_in_the_real_format_and_grouped_by_user(tiny_data):
    lines = (tiny_data / generate.TRIPLETS).read_text(encoding="ascii").splitlines()
    meta = json.loads((tiny_data / generate.META).read_text())
    assert len(lines) == meta["written"]["triplets"]
    pattern = re.compile(r"^[0-9a-f]{40}\tSO[A-Z]{5}[0-9A-F]{11}\t[1-9][0-9]{0,3}$")
    bad = [line for line in lines if not pattern.match(line)]
    assert not bad, bad[:3]
    users = [line.split("\t", 1)[0] for line in lines]
    runs = [u for i, u in enumerate(users) if i == 0 or users[i - 1] != u]
    assert len(runs) == len(set(runs)) == meta["parameters"]["users"], "each user's lines must be contiguous"
    pairs = Counter((u, line.split("\t")[1]) for u, line in zip(users, lines))
    assert max(pairs.values()) == 1, "a user hears a song once"


def test_tracks_cover_every_song_with_more_tracks_than_songs(tiny_data, tiny_scale):
    rows = [line.split("<SEP>") for line in (tiny_data / generate.TRACKS).read_text(encoding="utf-8").splitlines()]
    assert all(len(row) == 4 and row[0].startswith("TR") and row[1].startswith("SO") for row in rows)
    counts = generate.Counts.at(tiny_scale)
    assert len(rows) == counts.tracks
    assert len({row[0] for row in rows}) == counts.tracks
    assert len({row[1] for row in rows}) == counts.catalog_songs < counts.tracks
    listened = {line.split("\t")[1] for line in (tiny_data / generate.TRIPLETS).read_text().splitlines()}
    assert len(listened) == counts.songs_with_listeners
    assert listened <= {row[1] for row in rows}


def test_skew_and_planted_genres(tiny_data, tiny_scale):
    lines = [line.split("\t") for line in (tiny_data / generate.TRIPLETS).read_text().splitlines()]
    listeners = np.array(sorted(Counter(song for _, song, _ in lines).values(), reverse=True))
    assert listeners[0] > 5 * np.median(listeners), "a few songs must dominate"
    with np.load(tiny_data / generate.TRUTH, allow_pickle=False) as truth:
        genre = dict(zip(truth["song_ids"].astype(str).tolist(), truth["genre"].tolist()))
    by_user: dict[str, list[int]] = {}
    for user, song, _ in lines:
        by_user.setdefault(user, []).append(genre[song])
    # A user's commonest genre covers far more of their songs than genres at random would.
    share = np.mean([Counter(g).most_common(1)[0][1] / len(g) for g in by_user.values() if len(g) >= 10])
    assert share > 2.0 / generate.Counts.at(tiny_scale).genres


def test_generation_is_deterministic_and_cached(tiny_data, tiny_scale, tmp_path):
    again = tmp_path / "again"
    generate.generate(tiny_scale, again)
    for name in (generate.TRIPLETS, generate.TRACKS):
        assert (again / name).read_bytes() == (tiny_data / name).read_bytes()
    stamp = (again / generate.TRIPLETS).stat().st_mtime_ns
    generate.generate(tiny_scale, again)  # same parameters: reused, not rewritten
    assert (again / generate.TRIPLETS).stat().st_mtime_ns == stamp
    other = tmp_path / "other-seed"
    generate.generate(tiny_scale, other, seed=7)
    assert (other / generate.TRIPLETS).read_bytes() != (tiny_data / generate.TRIPLETS).read_bytes()
