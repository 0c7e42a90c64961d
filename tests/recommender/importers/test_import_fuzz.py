"""Damaged input files: an import ends in a clean dataset or a DataError, nothing else.

Valid triplet and catalog files are damaged by hypothesis (truncated mid-line, garbage or
invalid UTF-8 bytes inserted, a column dropped, a count made non-numeric), then imported in
"stop" and "skip" mode, with the reader's chunks sometimes shrunk to a few bytes so damage also
lands on chunk edges. Whatever happens: no exception other than DataError, no half-written or
temporary folder, and a dataset that is written loads and matches its manifest. A file an
independent line check finds entirely valid must import with every play counted.
"""

from __future__ import annotations

import re
import tempfile
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.dataset import Dataset
from recommender.errors import DataError
from recommender.importers import reading
from recommender.importers.csv import CsvOptions, import_csv
from recommender.importers.msd import import_msd

USERS = ["a" * 40, "b" * 40, "c" * 40, "d" * 40]
SONGS = ["SOAAAAAAAAAAAAAAAA", "SOBBBBBBBBBBBBBBBB", "SOCCCCCCCCCCCCCCCC", "SODDDDDDDDDDDDDDDD"]
GARBAGE = [b"\xff", b"\xc3", b"\xe2\x82", b"\t", b"\n", b"\r", b",", b"<SEP>", b"\x00", b" ", b"x", b"-1"]

FUZZ = settings(max_examples=30)


@st.composite
def triplet_files(draw) -> bytes:
    rows = draw(
        st.lists(
            st.tuples(st.sampled_from(USERS), st.sampled_from(SONGS), st.integers(1, 500)), min_size=1, max_size=25
        )
    )
    return "".join(f"{u}\t{s}\t{c}\n" for u, s, c in rows).encode()


@st.composite
def track_files(draw) -> bytes:
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, 99),
                st.sampled_from(SONGS),
                st.sampled_from(["Ann", "Bö", ""]),
                st.sampled_from(["Hey Ya!", "Café", ""]),
            ),
            min_size=1,
            max_size=12,
        )
    )
    return "".join(f"TR{t:016d}<SEP>{s}<SEP>{a}<SEP>{title}\n" for t, s, a, title in rows).encode()


@st.composite
def damaged(draw, files) -> bytes:
    data = draw(files)
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["truncate", "insert", "drop column", "bad count", "nothing"]))
        if kind == "truncate" and data:
            data = data[: draw(st.integers(0, len(data) - 1))]
        elif kind == "insert":
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.sampled_from(GARBAGE)) + data[at:]
        elif kind in ("drop column", "bad count"):
            lines = data.split(b"\n")
            pick = draw(st.integers(0, len(lines) - 1))
            separator = b"<SEP>" if b"<SEP>" in lines[pick] else b"\t"
            fields = lines[pick].split(separator)
            if kind == "drop column" and len(fields) > 1:
                del fields[draw(st.integers(0, len(fields) - 1))]
            elif kind == "bad count":
                fields[-1] = draw(st.sampled_from([b"many", b"0", b"-4", b"1.5", b"", b"\xff"]))
            lines[pick] = separator.join(fields)
            data = b"\n".join(lines)
    return data


def line_is_valid(line: bytes, separator: bytes, widths: int, count_at: int | None, ids: tuple[int, ...]) -> bool:
    """An independent statement of the row rules, for files with no damage the importer may see."""
    line = line.removesuffix(b"\r")
    if not line:
        return True
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    fields = text.split(separator.decode())
    if "\r" in text or len(fields) != widths or any(not fields[i].strip(" \t") for i in ids):
        return False
    return count_at is None or (re.fullmatch(r" *[0-9]+ *", fields[count_at]) is not None and int(fields[count_at]) > 0)


def file_is_valid(data: bytes, **rules) -> bool:
    lines = data.split(b"\n")
    return any(lines) and all(line_is_valid(line, **rules) for line in lines)


def total_plays(data: bytes) -> int:
    return sum(int(line.split(b"\t")[2]) for line in data.split(b"\n") if line.strip(b"\r"))


def check_outcome(run, dest: Path, files: dict[str, bytes]) -> Dataset | None:
    """Run an import; it must end in a loadable dataset or a DataError that names a line or the file."""
    try:
        run()
    except DataError as error:
        message = str(error)
        assert any(str(path) in message for path in files), message
        for line in map(int, re.findall(r", line (\d+):", message)):
            data = files[next(p for p in files if str(p) in message)]
            assert 1 <= line <= data.count(b"\n") + 1, message
        assert not dest.exists(), "a failed import left a dataset behind"
        leftovers = [p.name for p in dest.parent.iterdir()] if dest.parent.exists() else []
        assert leftovers == [], leftovers
        return None
    dataset = Dataset.load(dest)
    assert dataset.interactions.shape == (dataset.manifest["users"], dataset.manifest["items"])
    assert dataset.interactions.nnz == dataset.manifest["interactions"] > 0
    assert np.all(dataset.interactions.data > 0)
    assert len(dataset.items) == dataset.n_items and dataset.items["item_id"].is_unique
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]
    return dataset


def chunk_patches(stack: ExitStack, tiny: bool) -> None:
    if tiny:
        stack.enter_context(mock.patch.object(reading, "CHUNK_BYTES", 24))
        stack.enter_context(mock.patch.object(reading, "MIN_CHUNK_BYTES", 24))


@FUZZ
@given(
    triplets=damaged(triplet_files()),
    tracks=damaged(track_files()),
    on_error=st.sampled_from(["stop", "skip"]),
    tiny_chunks=st.booleans(),
)
def test_damaged_msd_files(triplets, tracks, on_error, tiny_chunks):
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        chunk_patches(stack, tiny_chunks)
        root = Path(folder)
        t, c = root / "train_triplets.txt", root / "unique_tracks.txt"
        t.write_bytes(triplets)
        c.write_bytes(tracks)
        dest = root / "datasets" / "msd"
        dataset = check_outcome(
            lambda: import_msd(triplets=t, tracks=c, dest=dest, name="msd", on_error=on_error, progress=False),
            dest,
            {t: triplets, c: tracks},
        )
        valid = file_is_valid(triplets, separator=b"\t", widths=3, count_at=2, ids=(0, 1)) and file_is_valid(
            tracks, separator=b"<SEP>", widths=4, count_at=None, ids=(0, 1)
        )
        if valid:
            assert dataset is not None, "a valid pair of files was refused"
            assert dataset.interactions.sum(dtype=np.float64) == total_plays(triplets)


@FUZZ
@given(
    interactions=damaged(triplet_files()),
    catalog=damaged(track_files()),
    on_error=st.sampled_from(["stop", "skip"]),
    tiny_chunks=st.booleans(),
)
def test_damaged_csv_files(interactions, catalog, on_error, tiny_chunks):
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        chunk_patches(stack, tiny_chunks)
        root = Path(folder)
        i, c = root / "plays.tsv", root / "catalog.txt"
        i.write_bytes(interactions)
        c.write_bytes(catalog)
        dest = root / "datasets" / "csv"
        options = CsvOptions(
            catalog_separator="<SEP>", catalog_item_col="1", title_col="3", artist_col="2", on_error=on_error
        )
        check_outcome(
            lambda: import_csv(interactions=i, catalog=c, dest=dest, name="csv", options=options, progress=False),
            dest,
            {i: interactions, c: catalog},
        )


@FUZZ
@given(data=st.binary(max_size=200), on_error=st.sampled_from(["stop", "skip"]))
def test_random_bytes_as_triplets(data, on_error):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        t, c = root / "train_triplets.txt", root / "unique_tracks.txt"
        t.write_bytes(data)
        c.write_bytes(b"TR1<SEP>SOAAAAAAAAAAAAAAAA<SEP>Ann<SEP>Song\n")
        dest = root / "datasets" / "msd"
        check_outcome(
            lambda: import_msd(triplets=t, tracks=c, dest=dest, name="msd", on_error=on_error, progress=False),
            dest,
            {t: data, c: c.read_bytes()},
        )
