"""Detecting what the options leave out: the separator, a header line, the artist column; said aloud."""

from __future__ import annotations

import pytest
from import_files import cells, cli_import, write

from recommender.errors import SoundalikeError
from recommender.importers.detection import parse_separator


@pytest.mark.parametrize(
    "typed, separator", [("\\t", "\t"), ("tab", "\t"), (",", ","), ("comma", ","), (";", ";"), ("<SEP>", "<SEP>")]
)
def test_separators_as_typed(typed, separator):
    assert parse_separator(typed) == separator


def test_an_empty_separator_is_refused():
    with pytest.raises(SoundalikeError, match="must not be empty"):
        parse_separator("")


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
