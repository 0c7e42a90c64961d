"""Dump-shaped ListenBrainz files for tests: listens in the documented JSON format, written as
a ``listenbrainz-listens-dump-…`` folder, or its ``.tar.zst`` / ``.tar.xz`` archive."""

from __future__ import annotations

import calendar
import io
import json
import lzma
import tarfile
from pathlib import Path

import zstandard

DUMP_FOLDER = "listenbrainz-listens-dump-2001-20251201-000003-full"
# Two recordings and an artist as MusicBrainz matched them, with the mapping a matched listen carries.
HEY_YA = "1b9f2a6e-0000-4000-8000-000000000001"
ROSES = "1b9f2a6e-0000-4000-8000-000000000002"
OUTKAST = "73fdb566-a9b1-494c-9f32-51768ec9fd31"
HEY_YA_MAPPING = {
    "recording_name": "Hey Ya!",
    "artist_mbids": [OUTKAST],
    "artists": [{"artist_mbid": OUTKAST, "artist_credit_name": "OutKast", "join_phrase": ""}],
}


def at(year: int, month: int, day: int = 15) -> int:
    return calendar.timegm((year, month, day, 12, 0, 0))


def listen(user: str, when: int, title: str, artist: str, mbid: str | None = None, **mapping) -> dict:
    """One listen as a dump holds it; ``mbid`` adds the mbid_mapping of a matched listen."""
    metadata: dict = {
        "track_name": title,
        "artist_name": artist,
        "release_name": "Some Release",
        "additional_info": {"submission_client": "tests", "recording_msid": f"msid-{title}-{artist}"},
    }
    if mbid is not None:
        metadata["mbid_mapping"] = {"recording_mbid": mbid, **mapping}
    return {"user_name": user, "listened_at": when, "track_metadata": metadata, "recording_msid": "m"}


def lines(*listens: dict | str) -> bytes:
    """The lines of a .listens file: dicts as JSON, strings as they are (for bad lines)."""
    return b"".join((item if isinstance(item, str) else json.dumps(item)).encode("utf-8") + b"\n" for item in listens)


def write_folder(root: Path, months: dict[tuple[int, int], bytes]) -> Path:
    folder = root / DUMP_FOLDER
    for (year, month), data in months.items():
        path = folder / "listens" / str(year) / f"{month}.listens"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def tar_bytes(months: dict[tuple[int, int], bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in (("COPYING", b"CC0\n"), *((f"listens/{y}/{m}.listens", d) for (y, m), d in months.items())):
            info = tarfile.TarInfo(f"{DUMP_FOLDER}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_archive(root: Path, months: dict[tuple[int, int], bytes], kind: str, *, cut: float | None = None) -> Path:
    """The dump as ``.tar.zst`` or ``.tar.xz``; ``cut`` keeps only that share of its bytes."""
    data = tar_bytes(months)
    packed = zstandard.ZstdCompressor().compress(data) if kind == "zst" else lzma.compress(data)
    if cut is not None:
        packed = packed[: int(len(packed) * cut)]
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{DUMP_FOLDER}.tar.{kind}"
    path.write_bytes(packed)
    return path
