"""``data download-msd``: fetch the Million Song Dataset files, resumably.

Each file is written to ``<name>.part`` and renamed when complete, so an interrupted download
never looks finished. A broken transfer is resumed with an HTTP ``Range`` request (up to
``retries`` times, then again on the next run of the command); a server that ignores ``Range``
answers with the whole file, and the download restarts cleanly from byte 0. The size is checked
against ``Content-Length`` (or the total of ``Content-Range``); a file that keeps coming up short
is reported, not accepted. ``train_triplets.txt.zip`` is then unzipped (its CRC checked) into
``train_triplets.txt``. Only the standard library speaks HTTP here.
"""

from __future__ import annotations

import http.client
import logging
import re
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..errors import SoundalikeError

log = logging.getLogger(__name__)

TRIPLETS_ZIP_URL = "http://millionsongdataset.com/sites/default/files/challenge/train_triplets.txt.zip"
TRACKS_URL = "http://millionsongdataset.com/sites/default/files/AdditionalFiles/unique_tracks.txt"
TRIPLETS = "train_triplets.txt"
TRACKS = "unique_tracks.txt"
BLOCK_BYTES = 1 << 20
USER_AGENT = "soundalike-downloader/1"
# Statuses worth another try: the server or a proxy was busy, not wrong.
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}


class DownloadError(SoundalikeError):
    """A download failed in a way the person can act on; the message names the URL or file."""


@dataclass
class _Attempt:
    """What one request learned: the announced total size, and whether the body ended early."""

    total: int | None
    complete: bool


def _content_range_total(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total) of ``bytes 100-199/200`` or ``bytes */200``; None where absent."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value or "")
    if not match:
        return None, None
    start = int(match.group(1)) if match.group(1) is not None else None
    total = int(match.group(2)) if match.group(2) != "*" else None
    return start, total


def _restart(part: Path, why: str) -> None:
    log.warning("%s: %s; starting over from byte 0", part.name.removesuffix(".part"), why)
    part.write_bytes(b"")


def _fetch_once(url: str, part: Path, *, expected_total: int | None, timeout: float, progress: bool) -> _Attempt:
    """One request: append what the server sends to ``part``.

    A broken link raises OSError (or http.client.HTTPException); an HTTP error a retry cannot
    fix raises :class:`DownloadError`.
    """
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416:  # nothing left after `have`: done, or the .part is too long
            _, total = _content_range_total(error.headers.get("Content-Range"))
            error.close()
            if total is not None and total == have:
                return _Attempt(total, True)
            _restart(part, f"the partial file ({have} bytes) does not fit the server's file")
            return _Attempt(total, False)
        error.close()
        if error.code in RETRY_STATUSES:
            raise ConnectionError(f"HTTP {error.code} {error.reason}") from None
        raise DownloadError(f"{url}: the server answered HTTP {error.code} {error.reason}") from None
    with response:
        status = response.status
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if status == 206:
            start, total = _content_range_total(response.headers.get("Content-Range"))
            if start != have:
                _restart(part, f"the server resumed at byte {start}, not {have}")
                return _Attempt(total, False)
            if expected_total is not None and total is not None and total != expected_total:
                _restart(part, f"the file on the server changed size ({expected_total} -> {total} bytes)")
                return _Attempt(total, False)
        else:
            if have:
                _restart(part, "the server does not support resuming (it ignored the Range request)")
                have = 0
            total = length
        mode = "ab" if have else "wb"
        received = 0
        with (
            open(part, mode) as out,
            tqdm(
                total=total,
                initial=have,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".part"),
                disable=None if progress else True,
                leave=False,
            ) as bar,
        ):
            while True:
                block = response.read(BLOCK_BYTES)
                if not block:
                    break
                out.write(block)
                received += len(block)
                bar.update(len(block))
        ended_early = length is not None and received < length
        return _Attempt(total, not ended_early)


def download_file(
    url: str, dest: Path, *, retries: int = 5, timeout: float = 60.0, backoff: float = 1.0, progress: bool = True
) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming up to ``retries`` times."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    total: int | None = None
    attempts = max(1, retries + 1)
    problem = "no attempt was made"
    for attempt in range(1, attempts + 1):
        try:
            outcome = _fetch_once(url, part, expected_total=total, timeout=timeout, progress=progress)
        except (OSError, http.client.HTTPException) as error:  # URLError, resets, timeouts
            reason = error.reason if isinstance(error, urllib.error.URLError) else error
            problem = f"the connection failed ({reason or type(error).__name__})"
        else:
            total = outcome.total if outcome.total is not None else total
            size = part.stat().st_size if part.exists() else 0
            if outcome.complete and (total is None or size == total):
                part.replace(dest)
                return dest
            if total is not None and size > total:
                part.unlink()
                raise DownloadError(
                    f"{url}: received {size} bytes but the server announced {total}; "
                    "the partial file was deleted, run the command again"
                )
            problem = f"the transfer stopped at {size:,} of {total:,} bytes" if total else "the transfer stopped early"
        if attempt < attempts:
            log.warning("%s: %s; resuming (attempt %d of %d)", dest.name, problem, attempt + 1, attempts)
            time.sleep(min(backoff * attempt, 30.0))
    have = part.stat().st_size if part.exists() else 0
    raise DownloadError(
        f"{url}: download incomplete after {attempts} attempts: {problem}. "
        f"{have:,} bytes are kept in {part}; run the command again to resume"
    )


def unzip_member(archive: Path, member_name: str, dest: Path) -> Path:
    """Extract the member called ``member_name`` (in any folder of the zip) to ``dest``, atomically."""
    temp = dest.with_name(dest.name + ".unzipping")
    try:
        with zipfile.ZipFile(archive) as zipped:
            names = [info for info in zipped.infolist() if Path(info.filename).name == member_name]
            if not names:
                listed = ", ".join(info.filename for info in zipped.infolist()[:10])
                raise DownloadError(f"{archive}: holds no {member_name} (it has: {listed or 'nothing'})")
            info = names[0]
            with (
                zipped.open(info) as source,
                open(temp, "wb") as out,
                tqdm(
                    total=info.file_size,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=f"unzip {member_name}",
                    disable=None,
                    leave=False,
                ) as bar,
            ):
                while block := source.read(BLOCK_BYTES):
                    out.write(block)
                    bar.update(len(block))
        temp.replace(dest)
        return dest
    except zipfile.BadZipFile as error:
        raise DownloadError(f"{archive}: not a valid zip file ({error}); delete it and download again") from None
    finally:
        temp.unlink(missing_ok=True)


def download_msd(
    dest: Path,
    *,
    base_url: str | None = None,
    retries: int = 5,
    timeout: float = 60.0,
    backoff: float = 1.0,
    force: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Fetch unique_tracks.txt and train_triplets.txt (via its zip) into ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if base_url:
        base = base_url.rstrip("/") + "/"
        tracks_url, zip_url = base + TRACKS, base + TRIPLETS + ".zip"
    else:
        tracks_url, zip_url = TRACKS_URL, TRIPLETS_ZIP_URL
    ready = []
    tracks = dest / TRACKS
    if force or not tracks.exists():
        download_file(tracks_url, tracks, retries=retries, timeout=timeout, backoff=backoff, progress=progress)
    else:
        log.info("%s is already there (use --force to fetch it again)", tracks)
    ready.append(tracks)
    triplets = dest / TRIPLETS
    if force or not triplets.exists():
        archive = dest / (TRIPLETS + ".zip")
        if force or not archive.exists():
            download_file(zip_url, archive, retries=retries, timeout=timeout, backoff=backoff, progress=progress)
        unzip_member(archive, TRIPLETS, triplets)
    else:
        log.info("%s is already there (use --force to fetch it again)", triplets)
    ready.append(triplets)
    return ready
