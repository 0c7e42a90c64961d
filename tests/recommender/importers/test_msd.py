"""`data import-msd`: exact matrices on tiny files, the title rule, unknown songs, bad input.

The files here are a few lines long; ``small_chunks`` shrinks the reader's chunks so the same
few lines also go through the multi-chunk path (vocabulary merging, line numbers across chunks).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from environment import write_config
from msd_samples import TRACKS, TRIPLETS

from recommender.cli.main import main as cli_main
from recommender.dataset import Dataset
from recommender.errors import DataError
from recommender.importers import encoding, reading
from recommender.importers.msd import import_msd


# u1 reappears after u2 and u3; (u1, S1) appears twice (1 + 2 plays); S9 has no catalog row.
@pytest.fixture(params=["one chunk", "many chunks"])
def chunking(request, monkeypatch):
    if request.param == "many chunks":
        monkeypatch.setattr(reading, "CHUNK_BYTES", 16)
        monkeypatch.setattr(reading, "MIN_CHUNK_BYTES", 16)
    return request.param


def write(path, text: str | bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def run_import(tmp_path, triplets=TRIPLETS, tracks=TRACKS, name="msd", on_error="stop"):
    t = write(tmp_path / "train_triplets.txt", triplets)
    c = write(tmp_path / "unique_tracks.txt", tracks)
    return import_msd(
        triplets=t, tracks=c, dest=tmp_path / "datasets" / name, name=name, on_error=on_error, progress=False
    )


def test_matrix_values_are_exact(tmp_path, chunking):
    summary = run_import(tmp_path)
    dataset = Dataset.load(summary.dest)
    assert list(dataset.item_ids) == ["S1", "S2", "S3", "S4", "S9"]  # sorted song ids
    assert list(dataset.user_ids) == ["u1", "u2", "u3"]  # first appearance; u1 counted once
    expected = np.array(
        [
            # S1 S2 S3 S4 S9
            [3, 0, 5, 0, 0],  # u1: S1 1 + 2, S3 2 + 3 (its lines are not adjacent)
            [0, 5, 0, 0, 0],
            [0, 0, 0, 0, 4],
        ],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(dataset.interactions.toarray(), expected)
    assert dataset.interactions.nnz == 4
    assert summary.rows == 6 and summary.interactions == 4
    assert dataset.manifest["users"] == 3 and dataset.manifest["items"] == 5


def test_grouped_users_with_repeated_songs(tmp_path, chunking):
    # Users in order (the Taste Profile's layout): the matrix is built from the rows in place.
    triplets = "u1\tS2\t1\nu1\tS1\t2\nu1\tS2\t3\nu2\tS1\t1\nu2\tS1\t1\nu3\tS4\t7\n"
    dataset = Dataset.load(run_import(tmp_path, triplets=triplets).dest)
    np.testing.assert_array_equal(
        dataset.interactions.toarray(),
        [
            [2, 4, 0, 0],
            [2, 0, 0, 0],
            [0, 0, 0, 7],
        ],
    )
    assert dataset.interactions.has_canonical_format


def test_hash_collisions_fall_back_to_exact_matching(tmp_path, chunking, monkeypatch):
    # Every id gets the same 64-bit key: the row-by-row check must notice and match exactly.
    monkeypatch.setattr(encoding, "_keys", lambda words, width: np.zeros(len(words), dtype=np.uint64))
    dataset = Dataset.load(run_import(tmp_path).dest)
    assert list(dataset.item_ids) == ["S1", "S2", "S3", "S4", "S9"]
    assert list(dataset.user_ids) == ["u1", "u2", "u3"]
    np.testing.assert_array_equal(dataset.interactions.toarray(), [[3, 0, 5, 0, 0], [0, 5, 0, 0, 0], [0, 0, 0, 0, 4]])


def test_title_is_the_smallest_track_ids_whatever_the_file_order(tmp_path):
    first = Dataset.load(run_import(tmp_path / "a").dest)
    shuffled = "".join(reversed(TRACKS.splitlines(keepends=True)))
    second = Dataset.load(run_import(tmp_path / "b", tracks=shuffled).dest)
    assert first.items.loc[0, ["title", "artist"]].tolist() == ["Title A", "Artist A"]
    assert first.items.equals(second.items)
    assert first.fingerprint == second.fingerprint


def test_songs_missing_from_the_catalog_are_kept_and_counted(tmp_path, capsys):
    config = write_config(tmp_path / "env")
    t = write(tmp_path / "train_triplets.txt", TRIPLETS)
    c = write(tmp_path / "unique_tracks.txt", TRACKS)
    assert (
        cli_main(
            ["--config", str(config), "data", "import-msd", "--triplets", str(t), "--tracks", str(c), "--no-progress"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "1 song in train_triplets.txt not in unique_tracks.txt" in out
    assert "1 catalog song without listeners" in out
    dataset = Dataset.open(tmp_path / "env" / "data" / "datasets", "msd")
    unknown = dataset.items.set_index("item_id").loc["S9"]
    assert (unknown.title, unknown.artist) == ("S9", "Unknown artist")
    assert dataset.manifest["source"]["unknown_songs"] == 1
    assert dataset.listeners[dataset.item_index("S4")] == 0  # catalog song nobody played


def test_empty_title_and_artist_fall_back(tmp_path):
    dataset = Dataset.load(run_import(tmp_path, tracks="TRA<SEP>S1<SEP><SEP>\n").dest)
    row = dataset.items.set_index("item_id").loc["S1"]
    assert (row.title, row.artist) == ("S1", "Unknown artist")


def test_padding_around_ids_is_ignored(tmp_path):
    dataset = Dataset.load(run_import(tmp_path, triplets="u1\tS1 \t1\n u1\tS1\t2\n").dest)
    assert list(dataset.user_ids) == ["u1"]
    assert dataset.interactions.toarray()[0, 0] == 3


def test_a_crlf_file_with_a_byte_order_mark_reads(tmp_path):
    triplets = "\ufeff" + TRIPLETS.replace("\n", "\r\n")
    dataset = Dataset.load(run_import(tmp_path, triplets=triplets).dest)
    assert list(dataset.user_ids) == ["u1", "u2", "u3"]
    assert dataset.interactions.sum() == 17


# -- bad input -------------------------------------------------------------------------------

GOOD = "u1\tS1\t1\n" * 3  # lines 1-3


@pytest.mark.parametrize(
    "bad_line, line, words",
    [
        ("u1\tS2\n", 4, ["expected 3 fields separated by TAB, found 2"]),
        ("u1\tS2\t3\textra\n", 4, ["found 4"]),
        ("u1,S2,3\n", 4, ["found 1", "comma-separated"]),
        ("u1\tS2\tabc\n", 4, ["play count 'abc' is not a whole number"]),
        ("u1\tS2\t2.5\n", 4, ["'2.5' is not a whole number"]),
        ("u1\tS2\t0\n", 4, ["play count must be positive, found 0"]),
        ("u1\tS2\t-3\n", 4, ["must be positive, found -3"]),
        ("u1\tS2\t\n", 4, ["'' is not a whole number"]),
        ("\tS2\t3\n", 4, ["empty user id"]),
        ("u1\t  \t3\n", 4, ["empty song id"]),
        (b"u1\tS\xff2\t3\n", 4, ["not valid UTF-8", "byte 5", "0xff"]),
    ],
)
def test_bad_triplet_rows_name_file_and_line(tmp_path, chunking, bad_line, line, words):
    bad = bad_line if isinstance(bad_line, bytes) else bad_line.encode()
    with pytest.raises(DataError) as caught:
        run_import(tmp_path, triplets=GOOD.encode() + bad + GOOD.encode())
    message = str(caught.value)
    assert str(tmp_path / "train_triplets.txt") in message and f"line {line}:" in message
    for word in words:
        assert word in message
    assert not (tmp_path / "datasets" / "msd").exists()


def test_a_comma_separated_file_is_named_as_such_on_line_1(tmp_path):
    with pytest.raises(DataError, match=r"line 1: .*looks comma-separated"):
        run_import(tmp_path, triplets="u1,S1,1\nu1,S2,1\n")


def test_a_bad_catalog_row_names_the_catalog(tmp_path):
    tracks = TRACKS + "TRF<SEP>S5<SEP>only three\n"
    with pytest.raises(DataError, match=r"unique_tracks\.txt, line 6: expected 4 fields"):
        run_import(tmp_path, tracks=tracks)


@pytest.mark.parametrize("which", ["triplets", "tracks"])
def test_empty_and_missing_files(tmp_path, which):
    kwargs = {which: ""}
    with pytest.raises(DataError, match="is empty"):
        run_import(tmp_path, **kwargs)
    t = write(tmp_path / "t.txt", TRIPLETS)
    c = write(tmp_path / "c.txt", TRACKS)
    paths = {"triplets": t, "tracks": c, which: tmp_path / "absent.txt"}
    with pytest.raises(DataError, match=r"absent\.txt: .* not found"):
        import_msd(**paths, dest=tmp_path / "out", name="out", progress=False)


def test_a_file_of_blank_lines_has_no_rows(tmp_path):
    with pytest.raises(DataError, match="no rows"):
        run_import(tmp_path, triplets="\n\r\n\n")


# -- skip mode -------------------------------------------------------------------------------


def test_skip_mode_drops_bad_rows_and_says_where_the_first_was(tmp_path, chunking):
    triplets = "u1\tS1\t1\nu1\tS2\tx\nu2\tS2\t2\nbroken line\nu2\tS1\t0\nu3\tS3\t3\n"
    summary = run_import(tmp_path, triplets=triplets, on_error="skip")
    dataset = Dataset.load(summary.dest)
    assert summary.skipped == 3 and summary.rows == 3
    (message,) = [line for line in summary.lines() if "skipped" in line]
    assert message.endswith("skipped 3 malformed rows (first at line 2: play count 'x' is not a whole number)")
    assert list(dataset.user_ids) == ["u1", "u2", "u3"]
    expected = {("u1", "S1"): 1, ("u2", "S2"): 2, ("u3", "S3"): 3}
    coo = dataset.interactions.tocoo()
    got = {(dataset.user_ids[r], dataset.item_ids[c]): v for r, c, v in zip(coo.row, coo.col, coo.data)}
    assert got == expected
    assert dataset.manifest["source"]["skipped_rows"] == 3


def test_skip_mode_with_nothing_left_is_an_error(tmp_path):
    with pytest.raises(DataError, match="every row was skipped"):
        run_import(tmp_path, triplets="a,b,c\nd,e,f\n", on_error="skip")


# -- nothing half-written --------------------------------------------------------------------


def test_a_failed_import_leaves_the_previous_dataset_untouched(tmp_path):
    summary = run_import(tmp_path)
    before = {p.name: p.read_bytes() for p in summary.dest.iterdir()}
    with pytest.raises(DataError):
        run_import(tmp_path, triplets=TRIPLETS + "u9\tS1\n")
    after = {p.name: p.read_bytes() for p in summary.dest.iterdir()}
    assert after == before
    assert sorted(p.name for p in summary.dest.parent.iterdir()) == ["msd"]  # no temp folders
    assert json.loads(before["manifest.json"])["users"] == 3
