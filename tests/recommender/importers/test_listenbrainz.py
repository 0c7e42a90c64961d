"""`data import-listenbrainz`: listens dumps the tests write (folder, .tar.zst, .tar.xz) become
exact datasets of recordings; bad lines, truncated archives, month ranges and --min-listeners."""

from __future__ import annotations

import json

import numpy as np
import pytest
from environment import write_config
from listenbrainz_dumps import HEY_YA, HEY_YA_MAPPING, OUTKAST, ROSES, at, lines, listen, write_archive, write_folder

from recommender.cli.main import main as cli_main
from recommender.dataset import Dataset
from recommender.errors import DataError, SoundalikeError
from recommender.importers import listenbrainz
from recommender.importers.dump_files import MonthRange, parse_month
from recommender.importers.listenbrainz import import_listenbrainz

# Three months. Hey Ya! is matched for alice (two listens) and unmatched, spelled "hey ya" /
# "Outkast", for bob: one recording. "Hey Ya! (Live)" is another recording. "Song 2" is never
# matched and comes under two spellings: one recording. February's third line is corrupt.
MONTHS = {
    (2019, 1): lines(
        listen("alice", at(2019, 1), "Hey Ya", "Outkast feat. Nobody", HEY_YA, **HEY_YA_MAPPING),
        listen("alice", at(2019, 1, 20), "Hey Ya!", "OutKast", HEY_YA, **HEY_YA_MAPPING),
        listen("carol", at(2019, 1), "Hey Ya! (Live)", "OutKast"),
        listen("carol", at(2019, 1), "Song 2", "Blur"),
    ),
    (2019, 2): lines(
        listen("bob", at(2019, 2), "hey ya", "Outkast"),
        listen("bob", at(2019, 2), "SONG 2", "blur"),
        '{"user_name": "bob", "listened_at": 1550000000, "track_metadata": {"track_name": "cut off',
        listen("alice", at(2019, 2), "Roses", "OutKast", ROSES, recording_name="Roses"),
    ),
    (2020, 3): lines(
        listen("dave", at(2020, 3), "Roses", "OutKast", ROSES),
        "",  # blank lines are not listens, and not errors
        listen("dave", at(2020, 3), "Song 2", "Blur"),
    ),
}
SONG_2 = "~song 2|blur"
LIVE = "~hey ya live|outkast"


def run(tmp_path, dump, **options):
    options.setdefault("on_error", "skip")
    return import_listenbrainz(dump=dump, dest=tmp_path / "datasets" / "lb", progress=False, **options)


def plays(dataset: Dataset) -> dict[tuple[str, str], float]:
    matrix = dataset.interactions.tocoo()
    users, items = dataset.user_ids, dataset.item_ids
    return {(str(users[u]), str(items[i])): float(v) for u, i, v in zip(matrix.row, matrix.col, matrix.data)}


def test_recordings_merge_by_mbid_then_by_spelling_and_counts_are_plays(tmp_path):
    summary = run(tmp_path, write_folder(tmp_path, MONTHS))
    dataset = Dataset.load(summary.dest)
    assert list(dataset.item_ids) == [HEY_YA, ROSES, LIVE, SONG_2]  # MBIDs, then text keys, sorted
    assert plays(dataset) == {
        ("alice", HEY_YA): 2.0,
        ("alice", ROSES): 1.0,
        ("bob", HEY_YA): 1.0,  # "hey ya" / "Outkast", unmatched, counts for the matched recording
        ("bob", SONG_2): 1.0,
        ("carol", LIVE): 1.0,
        ("carol", SONG_2): 1.0,
        ("dave", ROSES): 1.0,
        ("dave", SONG_2): 1.0,
    }
    items = dataset.items.set_index("item_id")
    assert items.loc[HEY_YA, "title"] == "Hey Ya!" and items.loc[HEY_YA, "artist"] == "OutKast"  # MusicBrainz's names
    assert items.loc[HEY_YA, "recording_mbid"] == HEY_YA and items.loc[HEY_YA, "artist_mbids"] == OUTKAST
    assert items.loc[SONG_2, "title"] == "Song 2" and items.loc[SONG_2, "recording_mbid"] == ""  # first spelling
    assert list(dataset.listeners) == [2, 2, 1, 3]
    assert summary.rows == 9 and summary.skipped == 1
    month = tmp_path / "listenbrainz-listens-dump-2001-20251201-000003-full" / "listens" / "2019" / "2.listens"
    assert f"{month}: skipped 1 malformed row (first at line 3: not JSON" in "\n".join(summary.lines())
    source = dataset.manifest["source"]
    assert source["kind"] == "listenbrainz" and source["matched_listens"] == 4 and source["merged_spellings"] == 1
    assert source["skipped_lines"] == 1 and source["plays"] == 9


def test_a_bad_line_stops_the_import_naming_file_and_line_and_writes_nothing(tmp_path):
    dump = write_folder(tmp_path, MONTHS)
    with pytest.raises(DataError, match=r"2\.listens, line 3: not JSON.*--on-error skip"):
        run(tmp_path, dump, on_error="stop")
    assert not (tmp_path / "datasets").exists() or not any((tmp_path / "datasets").iterdir())


@pytest.mark.parametrize("kind", ["zst", "xz"])
def test_both_archive_kinds_give_the_folder_s_dataset(tmp_path, kind):
    folder = Dataset.load(run(tmp_path / "folder", write_folder(tmp_path / "folder", MONTHS)).dest)
    archive = write_archive(tmp_path / "archive", MONTHS, kind)
    summary = run(tmp_path / "archive", archive)
    assert Dataset.load(summary.dest).fingerprint == folder.fingerprint
    assert f"{archive}:listenbrainz-listens-dump-2001-20251201-000003-full/listens/2019/2.listens: skipped 1" in (
        "\n".join(summary.lines())
    )


@pytest.mark.parametrize("kind", ["zst", "xz"])
def test_a_truncated_archive_stops_the_import_and_keeps_the_previous_dataset(tmp_path, kind):
    first = run(tmp_path, write_folder(tmp_path, MONTHS))
    before = {p.name: p.read_bytes() for p in first.dest.iterdir()}
    cut = write_archive(tmp_path / "cut", MONTHS, kind, cut=0.7)
    with pytest.raises(DataError, match=r"damaged or ends early.*nothing was imported"):
        run(tmp_path, cut)
    assert {p.name: p.read_bytes() for p in first.dest.iterdir()} == before
    assert [p.name for p in first.dest.parent.iterdir()] == ["lb"]  # no temporary folder left


def test_a_month_range_reads_only_those_months_and_drops_listens_dated_outside(tmp_path):
    months = dict(MONTHS)
    # A listen filed under February 2019 but dated March 2019: outside --to 2019-02.
    months[(2019, 2)] += lines(listen("erin", at(2019, 3), "Roses", "OutKast", ROSES))
    summary = run(tmp_path, write_folder(tmp_path, months), months=MonthRange((2019, 2), (2019, 2)))
    dataset = Dataset.load(summary.dest)
    assert plays(dataset) == {("bob", SONG_2): 1.0, ("bob", "~hey ya|outkast"): 1.0, ("alice", ROSES): 1.0}
    assert dataset.manifest["source"]["outside_months"] == 1
    text = "\n".join(summary.lines())
    assert "2 month files outside 2019-02 to 2019-02 not read" in text
    assert "1 listen dated outside 2019-02 to 2019-02 left out" in text


def test_an_empty_month_range_says_so(tmp_path):
    with pytest.raises(DataError, match="no listens to import in 2021-01 to the last month"):
        run(tmp_path, write_folder(tmp_path, MONTHS), months=MonthRange((2021, 1), None))


def test_min_listeners_keeps_recordings_enough_people_played_and_drops_listeners_left_with_none(tmp_path):
    summary = run(tmp_path, write_folder(tmp_path, MONTHS), min_listeners=3)
    dataset = Dataset.load(summary.dest)
    assert list(dataset.item_ids) == [SONG_2]
    assert list(dataset.user_ids) == ["carol", "bob", "dave"]  # alice played none of them
    assert "3 recordings with fewer than 3 listeners left out, and 1 listener with nothing left" in "\n".join(
        summary.lines()
    )
    with pytest.raises(DataError, match="no recording has 4 or more listeners"):
        run(tmp_path, write_folder(tmp_path, MONTHS), min_listeners=4)


def test_listens_are_counted_in_chunks_without_changing_the_result(tmp_path, monkeypatch):
    whole = Dataset.load(run(tmp_path / "whole", write_folder(tmp_path / "whole", MONTHS)).dest)
    monkeypatch.setattr(listenbrainz, "CHUNK_LISTENS", 2)
    chunked = Dataset.load(run(tmp_path / "chunked", write_folder(tmp_path / "chunked", MONTHS)).dest)
    assert chunked.fingerprint == whole.fingerprint


def test_what_is_not_a_dump_is_refused_by_name(tmp_path):
    other = tmp_path / "listens.zip"
    other.write_bytes(b"PK")
    with pytest.raises(DataError, match="not a listens dump"):
        run(tmp_path, other)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no listens/<year>/<month>\.listens files"):
        run(tmp_path, tmp_path / "empty")
    with pytest.raises(DataError, match="no such file"):
        run(tmp_path, tmp_path / "missing.tar.zst")


def test_months_are_written_as_year_dash_month():
    assert parse_month("2015-01", "--from") == (2015, 1)
    with pytest.raises(SoundalikeError, match=r"--to '2015-13' is not a month: write it as YYYY-MM"):
        parse_month("2015-13", "--to")
    with pytest.raises(SoundalikeError, match="--from 2020-01 is after --to 2019-12"):
        MonthRange((2020, 1), (2019, 12))
    # --to is inclusive: the whole of its month, to the first second of the next.
    window = MonthRange((2019, 12), (2019, 12))
    assert (window.start, window.end) == (at(2019, 12, 1) - 12 * 3600, at(2020, 1, 1) - 12 * 3600)


# -- through the command line: import, train, answer ------------------------------------------


def _taste_dump(tmp_path):
    """Two tastes: 30 listeners of rock recordings, 30 of jazz ones, each listener playing four
    of their taste's six recordings over two months, some recordings matched, some not."""
    rng = np.random.default_rng(7)
    rock = [("Paranoid Android", "Radiohead"), ("Creep", "Radiohead"), ("Karma Police", "Radiohead")]
    rock += [("Song 2", "Blur"), ("Parklife", "Blur"), ("Wonderwall", "Oasis")]
    jazz = [("So What", "Miles Davis"), ("Blue in Green", "Miles Davis"), ("Take Five", "Dave Brubeck")]
    jazz += [("Naima", "John Coltrane"), ("Giant Steps", "John Coltrane"), ("Round Midnight", "Thelonious Monk")]
    months: dict[tuple[int, int], list] = {(2024, 5): [], (2024, 6): []}
    for offset, (taste, songs) in enumerate((("rock", rock), ("jazz", jazz))):
        for n in range(30):
            for index in rng.choice(len(songs), size=4, replace=False):
                title, artist = songs[index]
                mbid = f"00000000-0000-4000-8000-{10 * offset + index:012d}" if index % 2 else None
                month = (2024, 5 + int(rng.integers(2)))
                months[month].append(listen(f"{taste}{n}", at(*month), title, artist, mbid, recording_name=title))
    return write_archive(tmp_path, {m: lines(*ls) for m, ls in months.items()}, "zst")


def test_a_dump_imports_trains_and_answers_a_similar_query(tmp_path, capsys):
    config = write_config(tmp_path / "env", dataset="lb")
    dump = _taste_dump(tmp_path / "dump")
    base = ["--config", str(config)]
    assert cli_main([*base, "data", "import-listenbrainz", "--dump", str(dump), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Imported 'lb': 60 users, 12 items" in out and "Next: python -m recommender train --dataset lb" in out
    assert cli_main([*base, "train", "--dataset", "lb", "--algorithm", "cosine", "--no-eval", "--quiet"]) == 0
    capsys.readouterr()
    assert cli_main([*base, "similar", "paranoid android", "--dataset", "lb", "-n", "3", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["dataset"] == "lb" and answer["seeds"][0]["title"] == "Paranoid Android"
    artists = [song["artist"] for song in answer["suggestions"]]
    assert len(artists) == 3 and set(artists) <= {"Radiohead", "Blur", "Oasis"}, answer


def test_the_command_refuses_a_bad_month_in_one_line(tmp_path, capsys):
    config = write_config(tmp_path / "env")
    dump = write_folder(tmp_path, MONTHS)
    argv = ["--config", str(config), "data", "import-listenbrainz", "--dump", str(dump), "--from", "2019-1x"]
    assert cli_main(argv) == 2
    assert "--from '2019-1x' is not a month" in capsys.readouterr().err


# -- blocks parsed at once give what line-by-line reading gives ---------------------------------


@pytest.mark.parametrize("block_bytes", [1, 300, 1 << 20])
def test_blocks_of_any_size_and_line_by_line_reading_give_one_dataset(tmp_path, monkeypatch, block_bytes):
    months = dict(MONTHS)
    months[(2019, 3)] = lines(*(listen(f"u{n % 7}", at(2019, 3), f"Track {n % 5}", "Band") for n in range(50)))
    reference = Dataset.load(run(tmp_path / "ref", write_folder(tmp_path / "ref", months)).dest)
    monkeypatch.setattr(listenbrainz, "BLOCK_BYTES", block_bytes)
    blocks = run(tmp_path / "blocks", write_folder(tmp_path / "blocks", months))
    monkeypatch.setattr(listenbrainz, "parse_block", lambda block, lines: None)
    one_by_one = run(tmp_path / "lines", write_folder(tmp_path / "lines", months))
    for summary in (blocks, one_by_one):
        dataset = Dataset.load(summary.dest)
        assert dataset.fingerprint == reference.fingerprint
        assert list(dataset.user_ids) == list(reference.user_ids)
        assert dataset.items.equals(reference.items)
        assert "2.listens: skipped 1 malformed row (first at line 3: not JSON" in "\n".join(summary.lines())


def test_the_command_never_replaces_a_dataset_without_replace(tmp_path, capsys):
    config = write_config(tmp_path / "env")
    dump = write_folder(tmp_path, MONTHS)
    argv = ["--config", str(config), "data", "import-listenbrainz", "--dump", str(dump), "--no-progress"]
    assert cli_main([*argv, "--on-error", "skip"]) == 0
    folder = tmp_path / "env" / "data" / "datasets" / "lb"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert cli_main([*argv, "--on-error", "skip", "--from", "2020-01"]) == 2
    assert "dataset 'lb' already exists" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert cli_main([*argv, "--on-error", "skip", "--from", "2020-01", "--replace"]) == 0
    assert Dataset.load(folder).manifest["source"]["listens"] == 2
    with pytest.raises(SystemExit):
        cli_main([*argv, "--min-listeners", "0"])
    assert "--min-listeners: must be 1 or more, got 0" in capsys.readouterr().err
