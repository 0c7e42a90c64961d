"""`data import-csv`: column choices, headers, separators, catalogs, Last.fm as found, bad input."""

from __future__ import annotations

import shlex

import numpy as np
import pytest
from environment import require_lastfm, write_config
from paths import PROJECT_ROOT

from recommender.cli.main import main as cli_main
from recommender.dataset import Dataset
from recommender.errors import DataError, SoundalikeError
from recommender.importers import csv as csv_import
from recommender.importers.csv import CsvOptions, import_csv, parse_separator


def write(path, text: str | bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def run(tmp_path, interactions: str | bytes, catalog: str | bytes | None = None, name="ds", **options):
    i = write(tmp_path / "interactions.txt", interactions)
    c = write(tmp_path / "catalog.txt", catalog) if catalog is not None else None
    summary = import_csv(
        interactions=i,
        catalog=c,
        dest=tmp_path / "datasets" / name,
        name=name,
        options=CsvOptions(**options),
        progress=False,
    )
    return summary, Dataset.load(summary.dest)


def cells(dataset) -> dict[tuple[str, str], float]:
    coo = dataset.interactions.tocoo()
    return {(dataset.user_ids[r], dataset.item_ids[c]): float(v) for r, c, v in zip(coo.row, coo.col, coo.data)}


def test_tab_file_with_counts_and_a_catalog(tmp_path):
    summary, dataset = run(
        tmp_path,
        "7\t10\t3\n8\t11\t1\n7\t12\t2\n7\t10\t4\n",
        "11\tSecond\tBand B\n10\tFirst\tBand A\n13\tUnplayed\tBand C\n",
        artist_col="2",
    )
    # Catalog order first, then items only the interactions name ("12"), titled by their id.
    assert list(dataset.item_ids) == ["11", "10", "13", "12"]
    assert dataset.items["title"].tolist() == ["Second", "First", "Unplayed", "12"]
    assert dataset.items["artist"].tolist() == ["Band B", "Band A", "Band C", "Unknown artist"]
    assert list(dataset.user_ids) == ["7", "8"]
    assert cells(dataset) == {("7", "10"): 7.0, ("8", "11"): 1.0, ("7", "12"): 2.0}
    assert dataset.listeners.tolist() == [1, 1, 0, 1]  # "13" kept with no listeners
    assert any("1 item in interactions.txt not in the catalog" in line for line in summary.lines())


def test_without_a_count_column_each_row_is_one_play(tmp_path):
    summary, dataset = run(tmp_path, "a\tx\na\tx\nb\ty\n")
    assert cells(dataset) == {("a", "x"): 2.0, ("b", "y"): 1.0}
    assert dataset.items["title"].tolist() == ["x", "y"]  # no catalog: titled by id
    assert any("each row counts one play" in line for line in summary.lines())


def test_count_col_none_ignores_a_third_column(tmp_path):
    _, dataset = run(tmp_path, "a\tx\t50\na\tx\t70\n", count_col="none")
    assert cells(dataset) == {("a", "x"): 2.0}


def test_columns_by_name_with_headers_commas_and_quotes(tmp_path):
    interactions = "when,song,listener,plays\n2020,s1,ann,3\n2021,s2,bob,1\n2022,s1,bob,2\n"
    catalog = 'song_id,name,by\ns1,"Hello, World",The Quotes\ns2,"Say ""Hi""",Solo\n'
    _, dataset = run(
        tmp_path,
        interactions,
        catalog,
        separator=",",
        interactions_header=True,
        catalog_header=True,
        user_col="listener",
        item_col="song",
        count_col="plays",
        catalog_item_col="song_id",
        title_col="name",
        artist_col="by",
    )
    assert dataset.items["title"].tolist() == ["Hello, World", 'Say "Hi"']
    assert dataset.items["artist"].tolist() == ["The Quotes", "Solo"]
    assert cells(dataset) == {("ann", "s1"): 3.0, ("bob", "s2"): 1.0, ("bob", "s1"): 2.0}


def test_repeated_catalog_ids_keep_the_first_row(tmp_path):
    summary, dataset = run(tmp_path, "u\ta\n", "a\tFirst\na\tSecond\n")
    assert dataset.items["title"].tolist() == ["First"]
    assert any("1 repeated item id" in line for line in summary.lines())


def test_crlf_bom_and_blank_lines(tmp_path):
    _, dataset = run(tmp_path, b"\xef\xbb\xbfu1\ti1\t2\r\n\r\nu2\ti1\t1\r\n", b"i1\tSong\r\n")
    assert cells(dataset) == {("u1", "i1"): 2.0, ("u2", "i1"): 1.0}
    assert dataset.items["title"].tolist() == ["Song"]


@pytest.mark.parametrize(
    "typed, separator", [("\\t", "\t"), ("tab", "\t"), (",", ","), ("comma", ","), (";", ";"), ("<SEP>", "<SEP>")]
)
def test_separators_as_typed(typed, separator):
    assert parse_separator(typed) == separator


@pytest.mark.parametrize(
    "separator, quote, words", [("<SEP>", '"', "one-character separator"), (",", ",", "cannot both be ','")]
)
def test_quote_and_separator_must_fit_together(tmp_path, separator, quote, words):
    with pytest.raises(SoundalikeError, match=words):
        run(tmp_path, "a,x\n", separator=separator, quote=quote)


def test_an_empty_separator_is_refused():
    with pytest.raises(SoundalikeError, match="must not be empty"):
        parse_separator("")


# -- Last.fm as found ------------------------------------------------------------------------

LASTFM_COMMAND = csv_import.__doc__.split("::", 1)[1].strip().replace("\\\n", " ")


def test_the_documented_lastfm_command_imports_the_published_counts(tmp_path, capsys, monkeypatch):
    folder = require_lastfm()
    argv = shlex.split(LASTFM_COMMAND)
    assert argv[:5] == ["python", "-m", "recommender", "data", "import-csv"]
    # The documented paths are relative to the project root, as in the README.
    monkeypatch.chdir(PROJECT_ROOT)
    config = write_config(tmp_path / "env")
    assert cli_main(["--config", str(config), *argv[3:], "--no-progress"]) == 0
    dataset = Dataset.open(tmp_path / "env" / "data" / "datasets", "lastfm")
    assert (dataset.n_users, dataset.n_items, dataset.interactions.nnz) == (1892, 17632, 92834)
    # Every weight lands in the matrix: compare with the file read independently.
    weights = [int(line.split("\t")[2]) for line in (folder / "user_artists.dat").read_text().splitlines()]
    assert dataset.interactions.sum(dtype=np.float64) == sum(weights)
    coldplay = dataset.item_index("65")  # one row of the file has "65  ": the padding is dropped
    assert (dataset.title(coldplay), dataset.artist(coldplay)) == ("Coldplay", "Coldplay")
    assert "1,892 users, 17,632 items, 92,834 user-item pairs" in capsys.readouterr().out


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("a\tx\t1\nb\ty\n", 2, ["expected 3 fields separated by TAB, found 2"]),
        ("a\tx\t1\nb;y;2\n", 2, ["found 1", "semicolon-separated", "pass --sep ';'"]),
        ("a\tx\t1\nb\ty\tlots\n", 2, ["count 'lots' is not a whole number"]),
        ("a\tx\t1\nb\ty\t0\n", 2, ["count must be positive, found 0"]),
        (b"a\tx\t1\nb\ty\xc3\t1\n", 2, ["not valid UTF-8", "byte 4", "0xc3"]),
        ("user\titem\tplays\na\tx\t1\n", 1, ["'plays' is not a whole number", "pass --interactions-header"]),
    ],
)
def test_bad_interaction_rows_name_file_and_line(tmp_path, text, line, words):
    with pytest.raises(DataError) as caught:
        run(tmp_path, text)
    message = str(caught.value)
    assert f"interactions.txt, line {line}:" in message
    for word in words:
        assert word in message
    assert not (tmp_path / "datasets" / "ds").exists()


def test_a_bad_catalog_row_names_the_catalog_and_line(tmp_path):
    with pytest.raises(DataError, match=r"catalog\.txt, line 3: expected 2 fields separated by TAB, found 3"):
        run(tmp_path, "u\ta\n", "a\tOne\nb\tTwo\nc\tThree\textra\n")


def test_a_comma_file_read_as_tab_says_which_separator_to_pass(tmp_path):
    with pytest.raises(
        DataError,
        match=r"--item-col 1 is out of range: the first line has 1 field\(s\) "
        r"separated by TAB \(the line looks comma-separated; pass --sep ','\)",
    ):
        run(tmp_path, "a,x,1\nb,y,2\n")


def test_a_column_name_needs_a_header(tmp_path):
    with pytest.raises(DataError, match="has no header: pass --interactions-header"):
        run(tmp_path, "a\tx\n", user_col="user")
    with pytest.raises(DataError, match=r"no column named 'listener' \(the header has: user, item\)"):
        run(tmp_path, "user\titem\na\tx\n", interactions_header=True, user_col="listener")


@pytest.mark.parametrize("content, words", [("", "is empty"), ("\n\n", "no rows"), ("user\titem\n", "no rows")])
def test_files_without_rows(tmp_path, content, words):
    with pytest.raises(DataError, match=words):
        run(tmp_path, content, interactions_header=content.startswith("user"))


def test_a_missing_catalog_is_named(tmp_path):
    i = write(tmp_path / "interactions.txt", "a\tx\n")
    with pytest.raises(DataError, match=r"nope\.txt: catalog not found"):
        import_csv(interactions=i, catalog=tmp_path / "nope.txt", dest=tmp_path / "d", name="d", progress=False)


def test_skip_mode_counts_bad_rows_in_both_files(tmp_path):
    summary, dataset = run(tmp_path, "a\tx\t1\nbad\nb\ty\t-2\nc\tz\t3\n", "x\tEx\ny\n", on_error="skip")
    assert cells(dataset) == {("a", "x"): 1.0, ("c", "z"): 3.0}
    messages = [line for line in summary.lines() if "skipped" in line]
    assert messages[0].endswith(
        "interactions.txt: skipped 2 malformed rows (first at line 2: expected 3 fields separated by TAB, found 1)"
    )
    assert messages[1].endswith(
        "catalog.txt: skipped 1 malformed row (first at line 2: expected 2 fields separated by TAB, found 1)"
    )
    assert dataset.items.set_index("item_id").loc["z", "title"] == "z"


# -- the separator and a header line, detected ---------------------------------------------------


def cli_import(tmp_path, capsys, *argv, name="x"):
    config = write_config(tmp_path / "env")
    status = cli_main(["--config", str(config), "data", "import-csv", "--name", name, "--no-progress", *argv])
    captured = capsys.readouterr()
    dataset = Dataset.open(tmp_path / "env" / "data" / "datasets", name) if status == 0 else None
    return status, captured.out + captured.err, dataset


def test_the_newcomers_comma_files_with_header_lines_import_as_they_are(tmp_path, capsys):
    plays = write(tmp_path / "plays.csv", "user,item,count\nann,s1,3\nann,s2,1\nbob,s1,2\ncid,s3,5\n")
    catalog = write(
        tmp_path / "catalog.csv", 'item,title,artist\ns1,Hey Ya!,OutKast\ns2,"Hello, World",Someone\ns3,Halo,Beyoncé\n'
    )
    status, out, dataset = cli_import(tmp_path, capsys, "--interactions", str(plays), "--catalog", str(catalog))
    assert status == 0, out
    assert cells(dataset) == {("ann", "s1"): 3.0, ("ann", "s2"): 1.0, ("bob", "s1"): 2.0, ("cid", "s3"): 5.0}
    assert dataset.items.to_dict("list") == {
        "item_id": ["s1", "s2", "s3"],
        "title": ["Hey Ya!", "Hello, World", "Halo"],
        "artist": ["OutKast", "Someone", "Beyoncé"],
    }
    assert (
        "plays.csv: detected comma-separated fields and a header line (user, item, count: 'count' stands above "
        "whole numbers) (--sep, --no-interactions-header to override)"
    ) in out
    assert "catalog.csv: detected comma-separated fields and a header line (item, title, artist" in out
    assert "catalog.csv: artists from column 'artist'" in out


@pytest.mark.parametrize(
    "text, separator_word, header",
    [
        ("u1;i1;3\nu2;i2;1\n", "semicolon", False),
        ("userID\tartistID\tweight\n2\t51\t13883\n3\t52\t11690\n", "TAB", True),
        ("listener|song\nann|s1\nbob|s2\n", "pipe", True),
        ("ann,s1\nbob,s2\n", "comma", False),
        ('"ann","s,1",2\n"bob","s2",3\n', "comma", False),
    ],
)
def test_separator_and_header_are_detected_and_said(tmp_path, capsys, text, separator_word, header):
    status, out, dataset = cli_import(tmp_path, capsys, "--interactions", str(write(tmp_path / "p.txt", text)))
    assert status == 0, out
    assert f"p.txt: detected {separator_word}-separated fields and " in out
    assert ("a header line" in out) == header and ("no header line" in out) == (not header)
    assert dataset.n_users == 2 and sum(cells(dataset).values()) > 0
    assert "userID" not in list(dataset.user_ids) and "listener" not in list(dataset.user_ids)


def test_the_flags_still_override_what_would_be_detected(tmp_path, capsys):
    plays = write(tmp_path / "plays.csv", "user,item,count\nann,s1,3\n")
    status, out, _ = cli_import(tmp_path, capsys, "--interactions", str(plays), "--no-interactions-header")
    assert status == 2 and "plays.csv, line 1: count 'count' is not a whole number" in out
    status, out, _ = cli_import(tmp_path, capsys, "--interactions", str(plays), "--sep", "\\t")
    assert status == 2 and "the line looks comma-separated; pass --sep ','" in out
    assert "detected" not in out


def test_a_file_with_one_field_a_line_asks_for_the_separator(tmp_path, capsys):
    status, out, _ = cli_import(tmp_path, capsys, "--interactions", str(write(tmp_path / "p.txt", "a b\nc d\n")))
    assert status == 2 and "cannot tell the interactions file's field separator" in out and "pass --sep" in out


# -- Parquet --------------------------------------------------------------------------------------


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
