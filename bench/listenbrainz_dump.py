"""``python -m bench.listenbrainz_dump --listens 5000000 --dest DIR``: a ListenBrainz-shaped
listens dump for the import benchmark.

It writes what ListenBrainz publishes (docs/users/listenbrainz-dumps.rst): a
``listenbrainz-listens-dump-…-full.tar.zst`` holding ``listens/<year>/<month>.listens`` files
of one JSON listen per line (docs/users/json.rst; ``mbid_mapping`` as the server adds it), so
the import reads a stream, decompresses and parses exactly as it would a real dump.

Planted, roughly as in real listening: listens spread over 2015-01..2025-12 and growing each
year; listener activity and recording popularity are power laws; 70 % of recordings are
matched to MusicBrainz (their listens carry ``mbid_mapping``); 5 % of listens are spelled
differently (lower case) and not matched, as when ListenBrainz's mapper misses a spelling.
Scale 1.0 of the bench is 50 M listens (about 20 GB of JSON before compression). Months are
written one at a time through a temporary file (a tar member needs its size first), so memory
stays at one month's arrays.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import zstandard

FULL_SCALE_LISTENS = 50_000_000
FIRST_YEAR, LAST_YEAR = 2015, 2025
DUMP_NAME = "listenbrainz-listens-dump-2000-20251201-000003-full"
ARCHIVE = f"{DUMP_NAME}.tar.zst"
META = "listenbrainz-meta.json"
LISTENS_PER_USER = 400
LISTENS_PER_RECORDING = 40
MATCHED_SHARE = 0.7
RESPELLED_SHARE = 0.05
BLOCK = 1 << 16


def listens_at(scale: float) -> int:
    return max(1000, round(FULL_SCALE_LISTENS * scale))


def _power_law(count: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return rng.permutation(weights / weights.sum())


def _metadata(index: int, matched: bool, rng: np.random.Generator, *, lower: bool = False) -> str:
    artist = f"Artist {index % 9973}"
    title = f"Recording {index} ({'Live' if index % 17 == 0 else 'Album'} Version)"
    if lower:
        artist, title = artist.lower(), title.lower()
    metadata: dict = {
        "artist_name": artist,
        "track_name": title,
        "release_name": f"Release {index // 11}",
        "additional_info": {"submission_client": "bench", "duration_ms": int(rng.integers(120_000, 400_000))},
    }
    if matched:
        mbid = f"{index:08x}-0000-4000-8000-{index:012x}"
        artist_mbid = f"{index % 9973:08x}-1111-4000-8000-{index % 9973:012x}"
        metadata["mbid_mapping"] = {
            "recording_mbid": mbid,
            "recording_name": title,
            "artist_mbids": [artist_mbid],
            "artists": [{"artist_mbid": artist_mbid, "artist_credit_name": artist, "join_phrase": ""}],
        }
    return json.dumps(metadata, separators=(", ", ": "))


def _months() -> list[tuple[int, int]]:
    return [(year, month) for year in range(FIRST_YEAR, LAST_YEAR + 1) for month in range(1, 13)]


def write_dump(dest: Path, listens: int, seed: int = 2025) -> dict:
    """Write the archive under ``dest``; returns what was written."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    users = max(10, listens // LISTENS_PER_USER)
    recordings = max(10, listens // LISTENS_PER_RECORDING)
    user_p = _power_law(users, 1.0, rng)
    recording_p = _power_law(recordings, 0.9, rng)
    matched = rng.random(recordings) < MATCHED_SHARE
    months = _months()
    growth = np.linspace(1.0, 4.0, len(months))
    per_month = np.floor(listens * growth / growth.sum()).astype(np.int64)
    per_month[-1] += listens - per_month.sum()
    meta_cache: dict[tuple[int, bool], str] = {}
    dest.mkdir(parents=True, exist_ok=True)
    archive_path = dest / ARCHIVE
    partial = archive_path.with_name(archive_path.name + ".part")
    written = 0
    with (
        partial.open("wb") as raw,
        zstandard.ZstdCompressor(level=3, threads=-1).stream_writer(raw) as packed,
        tarfile.open(fileobj=packed, mode="w|") as archive,
    ):
        for (year, month), count in zip(months, per_month):
            start = int(np.datetime64(f"{year}-{month:02d}-01", "s").astype(np.int64))
            end = int(np.datetime64(f"{year + month // 12}-{month % 12 + 1:02d}-01", "s").astype(np.int64))
            with tempfile.TemporaryFile(dir=dest) as month_file:
                for offset in range(0, int(count), BLOCK):
                    n = min(BLOCK, int(count) - offset)
                    who = rng.choice(users, size=n, p=user_p)
                    what = rng.choice(recordings, size=n, p=recording_p)
                    when = np.sort(rng.integers(start, end, size=n))
                    respelled = rng.random(n) < RESPELLED_SHARE
                    lines = []
                    for u, r, t, lower in zip(who.tolist(), what.tolist(), when.tolist(), respelled.tolist()):
                        key = (r, lower)
                        metadata = meta_cache.get(key)
                        if metadata is None:
                            # A respelled listen is never matched: the spelling ListenBrainz missed.
                            metadata = _metadata(r, bool(matched[r]) and not lower, rng, lower=lower)
                            if len(meta_cache) < 1 << 21:
                                meta_cache[key] = metadata
                        lines.append(
                            f'{{"user_name": "listener{u}", "listened_at": {t}, "track_metadata": {metadata}, '
                            f'"recording_msid": "{r:08x}-2222-4000-8000-{r:012x}"}}\n'
                        )
                    month_file.write("".join(lines).encode("utf-8"))
                    written += n
                size = month_file.tell()
                month_file.seek(0)
                info = tarfile.TarInfo(f"{DUMP_NAME}/listens/{year}/{month}.listens")
                info.size, info.mtime = size, end
                archive.addfile(info, month_file)
    partial.replace(archive_path)
    facts = {
        "parameters": {"listens": listens, "seed": seed},
        "written": {
            "listens": written,
            "users": users,
            "recordings": recordings,
            "months": len(months),
            "archive_bytes": archive_path.stat().st_size,
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    (dest / META).write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    return facts


def is_current(dest: Path, listens: int, seed: int = 2025) -> bool:
    try:
        facts = json.loads((dest / META).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return facts.get("parameters") == {"listens": listens, "seed": seed} and (dest / ARCHIVE).exists()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.listenbrainz_dump", description=__doc__.splitlines()[0])
    parser.add_argument("--listens", type=int, required=True, help="how many listens (the bench: 50 M x scale)")
    parser.add_argument("--dest", type=Path, required=True, help="folder for the .tar.zst")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args(argv)
    facts = write_dump(args.dest, args.listens, args.seed)
    print(json.dumps(facts), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
