"""A file's first line: where the rows start (after a byte-order mark, blank lines and a header),
and which separator explains a line that does not split."""

from __future__ import annotations

import pytest
from import_files import write

from recommender.errors import DataError
from recommender.importers.layout import BOM, inspect_head, separator_hint


def test_the_rows_start_after_a_byte_order_mark_blank_lines_and_the_header(tmp_path):
    path = write(tmp_path / "p.tsv", BOM + b"\n\nuser\titem\nann\tx\n")
    head = inspect_head(path, "interactions file", "\t", header=True)
    assert head.header == head.first_fields == ["user", "item"] and head.first_line == 3
    assert path.read_bytes()[head.data_offset :] == b"ann\tx\n"
    without = inspect_head(path, "interactions file", "\t", header=False)
    assert without.header is None and path.read_bytes()[without.data_offset :].startswith(b"user\titem")


@pytest.mark.parametrize("content, words", [(b"", "is empty"), (BOM, "is empty"), (b"\n\r\n", "no rows")])
def test_a_file_without_rows_is_named(tmp_path, content, words):
    with pytest.raises(DataError, match=words):
        inspect_head(write(tmp_path / "p.tsv", content), "interactions file", "\t", header=False)


def test_the_separator_that_explains_a_line_is_named_with_the_option_to_pass():
    assert separator_hint("a,b,c", "\t", "--sep") == " (the line looks comma-separated; pass --sep ',')"
    assert separator_hint("a\tb", ",", "--sep") == " (the line looks TAB-separated; pass --sep '\\t')"
    assert separator_hint("a;b", "\t") == " (the line looks semicolon-separated; this file must be TAB-separated)"
    assert separator_hint("plain", "\t", "--sep") == ""
