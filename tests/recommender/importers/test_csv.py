"""`data import-csv`: column choices, headers, separators, catalogs, Last.fm as found, bad input."""

from __future__ import annotations

import shlex

import numpy as np
import pytest
from environment import require_lastfm, write_config
from import_files import cells, write
from paths import PROJECT_ROOT

from recommender.cli.main import main as cli_main
from recommender.dataset import Dataset
from recommender.errors import DataError, SoundalikeError
from recommender.importers import csv as csv_import
from recommender.importers.csv import CsvOptions, import_csv


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
    "separator, quote, words", [("<SEP>", '"', "one-character separator"), (",", ",", "cannot both be ','")]
)
def test_quote_and_separator_must_fit_together(tmp_path, separator, quote, words):
    with pytest.raises(SoundalikeError, match=words):
        run(tmp_path, "a,x\n", separator=separator, quote=quote)


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
