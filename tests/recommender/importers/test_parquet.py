"""Parquet files: read directly, columns by name or number, bad rows named by row or skipped."""

from __future__ import annotations

import pytest
from import_files import cells, cli_import, write


def write_parquet(path, columns: dict):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path)
    return path


def test_parquet_files_are_read_directly(tmp_path, capsys):
    plays = write_parquet(
        tmp_path / "plays.parquet",
        {"listener": [7, 7, 8, 7], "song": ["s1", "s2", "s1", "s1"], "plays": [3, 1, 2.0, 4]},
    )
    catalog = write_parquet(
        tmp_path / "catalog.parquet", {"id": ["s2", "s1"], "title": ["Second", " First "], "artist": [None, "Band A"]}
    )
    status, out, dataset = cli_import(tmp_path, capsys, "--interactions", str(plays), "--catalog", str(catalog))
    assert status == 0, out
    assert cells(dataset) == {("7", "s1"): 7.0, ("7", "s2"): 1.0, ("8", "s1"): 2.0}
    assert dataset.items.to_dict("list") == {
        "item_id": ["s2", "s1"],
        "title": ["Second", "First"],
        "artist": ["Unknown artist", "Band A"],
    }
    assert "plays.parquet: read as Parquet; counts from column 'plays'" in out


@pytest.mark.parametrize(
    "columns, row, words",
    [
        ({"u": ["a", None], "i": ["x", "y"], "n": [1, 2]}, 2, "empty user id (column 'u')"),
        ({"u": ["a", "b"], "i": ["x", "  "], "n": [1, 2]}, 2, "empty item id (column 'i')"),
        ({"u": ["a", "b", "c"], "i": ["x", "y", "z"], "n": [1, 0, 2]}, 2, "count must be a whole number of at least 1"),
        ({"u": ["a", "b"], "i": ["x", "y"], "n": [1.0, 1.5]}, 2, "count must be a whole number of at least 1"),
    ],
)
def test_bad_parquet_rows_are_named_or_skipped(tmp_path, capsys, columns, row, words):
    plays = write_parquet(tmp_path / "plays.parquet", columns)
    status, out, _ = cli_import(tmp_path, capsys, "--interactions", str(plays))
    assert status == 2 and f"plays.parquet: row {row}: {words}" in out
    status, out, dataset = cli_import(tmp_path, capsys, "--interactions", str(plays), "--on-error", "skip")
    assert status == 0 and f"skipped 1 malformed row (first at row {row}: {words}" in out
    assert dataset.interactions.nnz == len(columns["u"]) - 1


def test_a_parquet_count_column_of_text_and_an_unknown_column_are_named(tmp_path, capsys):
    plays = write_parquet(tmp_path / "plays.parquet", {"u": ["a"], "i": ["x"], "n": ["three"]})
    status, out, _ = cli_import(tmp_path, capsys, "--interactions", str(plays))
    assert status == 2 and "count column 'n' holds string, not numbers" in out
    status, out, _ = cli_import(tmp_path, capsys, "--interactions", str(plays), "--user-col", "listener")
    assert status == 2 and "--user-col: no column named 'listener' (the file has: u, i, n)" in out
    not_parquet = write(tmp_path / "fake.parquet", "user,item\na,b\n")
    status, out, _ = cli_import(tmp_path, capsys, "--interactions", str(not_parquet))
    assert status == 2 and "fake.parquet: interactions file is not a readable Parquet file" in out
