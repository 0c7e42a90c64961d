"""The chunked reader: tables in file order whatever the chunk size, bad lines named by their line
in the file, skips counted, long lines, multi-character separators."""

from __future__ import annotations

import pyarrow as pa
import pytest
from import_files import write

from recommender.errors import DataError
from recommender.importers import reading
from recommender.importers.layout import Field, Layout
from recommender.importers.reading import ReadReport, read_chunks, read_table

TRIPLETS = (
    Field("user", "user id", 0, "id"),
    Field("item", "song id", 1, "id"),
    Field("count", "play count", 2, "count"),
)


def layout(path, separator="\t", fields=TRIPLETS, n_fields=3) -> Layout:
    return Layout(path, "triplets file", separator, n_fields, fields)


def rows(path, *, chunk_bytes=None, on_error="stop", separator="\t", workers=2):
    report = ReadReport(path)
    tables = list(
        read_chunks(
            layout(path, separator),
            lambda table: table,
            report,
            on_error=on_error,
            chunk_bytes=chunk_bytes,
            workers=workers,
            progress=False,
        )
    )
    table = pa.concat_tables(tables)
    return list(zip(*(table.column(name).to_pylist() for name in ("user", "item", "count")))), report, len(tables)


LINES = [f"u{n % 7}\ts{n % 11}\t{n + 1}\n" for n in range(200)]


@pytest.mark.parametrize("chunk_bytes", [None, 16, 100, 1000])
def test_every_row_comes_back_in_file_order_whatever_the_chunk_size(tmp_path, chunk_bytes):
    path = write(tmp_path / "t.txt", "".join(LINES))
    got, report, chunks = rows(path, chunk_bytes=chunk_bytes)
    expected = [(user, item, int(count)) for user, item, count in (line.split() for line in LINES)]
    assert got == expected
    assert report.rows == 200 and report.skipped == 0 and report.bytes_done == report.body_bytes == path.stat().st_size
    assert chunks > 1 if chunk_bytes else chunks >= 1


def test_a_bad_line_in_a_later_chunk_is_named_by_its_line_in_the_file(tmp_path):
    lines = [*LINES[:150], "u1\ts1\tmany\n", *LINES[150:]]
    path = write(tmp_path / "t.txt", "".join(lines))
    with pytest.raises(DataError, match=r"t\.txt, line 151: play count 'many' is not a whole number"):
        rows(path, chunk_bytes=64)


def test_skipped_lines_are_counted_and_the_first_named(tmp_path):
    lines = [*LINES[:40], "broken\n", *LINES[40:90], "u1\ts1\t0\n", *LINES[90:]]
    path = write(tmp_path / "t.txt", "".join(lines))
    got, report, _ = rows(path, chunk_bytes=64, on_error="skip")
    assert len(got) == 200 and report.rows == 200 and report.skipped == 2
    assert report.first_skip == (41, "expected 3 fields separated by TAB, found 1")
    assert report.skip_message().endswith(
        "skipped 2 malformed rows (first at line 41: expected 3 fields separated by TAB, found 1)"
    )


def test_a_line_longer_than_a_chunk_grows_its_buffer(tmp_path):
    long_user = "u" * 5000
    path = write(tmp_path / "t.txt", "".join(LINES[:10]) + f"{long_user}\ts1\t3\n" + "".join(LINES[10:20]))
    got, _, _ = rows(path, chunk_bytes=32)
    assert len(got) == 21 and got[10] == (long_user, "s1", 3)


def test_a_line_longer_than_the_limit_is_refused_with_its_number(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "MAX_LINE_BYTES", 256)
    path = write(tmp_path / "t.txt", "".join(LINES[:5]) + "u" * 1000 + "\ts1\t1\n")
    with pytest.raises(DataError, match=r"t\.txt, line 6: line is longer than"):
        rows(path, chunk_bytes=32)


def test_a_separator_of_several_characters_is_read(tmp_path):
    path = write(tmp_path / "t.txt", "".join(line.replace("\t", "<SEP>") for line in LINES[:30]))
    got, _, _ = rows(path, separator="<SEP>", chunk_bytes=100)
    assert got[:2] == [("u0", "s0", 1), ("u1", "s1", 2)] and len(got) == 30


def test_a_small_file_reads_as_one_table_with_padding_dropped(tmp_path):
    path = write(tmp_path / "t.txt", "a \t x\t1\n\n b\ty \t2\r\n")
    table = read_table(layout(path), ReadReport(path), on_error="stop", progress=False)
    assert table.to_pydict() == {"user": ["a", "b"], "item": ["x", "y"], "count": [1, 2]}
