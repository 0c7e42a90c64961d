"""``data import-listenbrainz --engine spark`` at local[2]: a dump folder the tests write imports
to the same recordings, listeners and plays as the in-memory importer (spellings merged, month
range, --min-listeners); a corrupt line stops it with nothing written or is skipped and counted;
an archive is refused with what to do."""

from __future__ import annotations

import pytest
from environment import write_config
from listenbrainz_dumps import HEY_YA, HEY_YA_MAPPING, OUTKAST, ROSES, at, lines, listen, write_archive, write_folder

from recommender.cli.main import main as cli_main
from recommender.dataset import Dataset

pytestmark = pytest.mark.slow

CORRUPT = '{"user_name": "bob", "listened_at": 1550000000, "track_metadata": {"track_name": "cut off'

# Hey Ya! is matched for alice and unmatched for bob ("hey ya" / "Outkast"): one recording.
# "Song 2" is never matched and comes under two spellings: one recording. "Hey Ya! (Live)" is
# another recording. erin's listen is filed under February but dated March.
MONTHS = {
    (2019, 1): lines(
        listen("alice", at(2019, 1, 3), "Hey Ya", "Outkast feat. Nobody", HEY_YA, **HEY_YA_MAPPING),
        listen("alice", at(2019, 1, 20), "Hey Ya!", "OutKast", HEY_YA, **HEY_YA_MAPPING),
        listen("carol", at(2019, 1, 21), "Hey Ya! (Live)", "OutKast"),
        listen("carol", at(2019, 1, 22), "Song 2", "Blur"),
        listen("carol", at(2019, 1, 23), "Song 2", "Blur"),
    ),
    (2019, 2): lines(
        listen("bob", at(2019, 2, 1), "hey ya", "Outkast"),
        listen("bob", at(2019, 2, 2), "SONG 2", "blur"),
        listen("alice", at(2019, 2, 3), "Roses", "OutKast", ROSES, recording_name="Roses"),
        "",
        listen("erin", at(2019, 3, 1), "Roses", "OutKast", ROSES),
    ),
    (2020, 3): lines(
        listen("dave", at(2020, 3), "Roses", "OutKast", ROSES),
        listen("dave", at(2020, 3), "Song 2", "Blur"),
    ),
}


def plays(dataset: Dataset) -> dict[tuple[str, str], float]:
    matrix = dataset.interactions.tocoo()
    users, items = dataset.user_ids, dataset.item_ids
    return {(str(users[u]), str(items[i])): float(v) for u, i, v in zip(matrix.row, matrix.col, matrix.data)}


def catalog(dataset: Dataset) -> dict[str, tuple[str, str, str, str, int]]:
    listeners = dataset.listeners
    columns = ["item_id", "title", "artist", "recording_mbid", "artist_mbids"]
    return {
        row.item_id: (row.title, row.artist, row.recording_mbid, row.artist_mbids, int(listeners[i]))
        for i, row in enumerate(dataset.items[columns].itertuples())
    }


def import_both(tmp_path, dump, spark_master: str, *options: str) -> tuple[Dataset, Dataset, str]:
    config = write_config(tmp_path)
    base = ["--config", str(config), "data", "import-listenbrainz", "--dump", str(dump), "--no-progress", *options]
    assert cli_main([*base, "--name", "memory"]) == 0
    assert cli_main([*base, "--name", "spark", "--engine", "spark", "--master", spark_master]) == 0
    datasets = tmp_path / "data" / "datasets"
    return Dataset.open(datasets, "memory"), Dataset.open(datasets, "spark"), str(config)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            ["--from", "2019-01", "--to", "2019-02"],  # 2020-03 not read; erin's March listen left out
            {
                ("alice", HEY_YA): 2.0,
                ("alice", ROSES): 1.0,
                ("bob", HEY_YA): 1.0,  # the unmatched spelling counts for the matched recording
                ("bob", "~song 2|blur"): 1.0,
                ("carol", "~hey ya live|outkast"): 1.0,
                ("carol", "~song 2|blur"): 2.0,
            },
        ),
        (
            ["--min-listeners", "3"],
            {
                ("alice", ROSES): 1.0,
                ("bob", "~song 2|blur"): 1.0,
                ("carol", "~song 2|blur"): 2.0,
                ("dave", ROSES): 1.0,
                ("dave", "~song 2|blur"): 1.0,
                ("erin", ROSES): 1.0,
            },
        ),
    ],
    ids=["month-range", "min-listeners"],
)
def test_spark_import_of_a_dump_folder_is_the_in_memory_import(tmp_path, capsys, spark_local, options, expected):
    dump = write_folder(tmp_path, MONTHS)
    memory, spark = import_both(tmp_path, dump, spark_local, *options)[:2]
    said = capsys.readouterr().out
    assert spark.is_parquet and not memory.is_parquet
    assert plays(spark) == plays(memory) == expected
    assert sorted(spark.user_ids) == sorted(memory.user_ids)
    assert list(spark.item_ids) == list(memory.item_ids)  # both sorted by id
    assert catalog(spark) == catalog(memory)
    assert catalog(spark)[ROSES][:4] == ("Roses", "OutKast", ROSES, "")
    assert catalog(spark)["~song 2|blur"][:4] == ("Song 2", "Blur", "", "")  # the earliest spelling
    source = spark.manifest["source"]
    assert source["engine"] == "spark" and source["kind"] == "listenbrainz"
    for field in ("listens", "matched_listens", "outside_months", "merged_spellings", "dropped_recordings"):
        assert source[field] == memory.manifest["source"][field], field
    if "--from" in options:
        assert source["files"] == 2 and source["outside_months"] == 1 and source["merged_spellings"] == 1
        assert said.count("1 month file outside 2019-01 to 2019-02 not read") == 2  # both engines say it
        assert catalog(spark)[HEY_YA][:4] == ("Hey Ya!", "OutKast", HEY_YA, OUTKAST)  # MusicBrainz's names
    else:
        assert said.count("2 recordings with fewer than 3 listeners left out") == 2


def test_on_a_cluster_the_job_carries_the_package_its_executors_parse_listens_with(tmp_path, spark_cluster):
    """Executors on a standalone cluster start in their own work folders, where ``recommender``
    is not importable: the job ships the package (``package_zip``), and the import is the same."""
    dump = write_folder(tmp_path, MONTHS)
    memory, spark = import_both(tmp_path, dump, spark_cluster.master_url, "--min-listeners", "3")[:2]
    assert spark.is_parquet and plays(spark) == plays(memory) and len(plays(spark)) > 0
    assert catalog(spark) == catalog(memory)
    assert spark.manifest["source"]["listens"] == memory.manifest["source"]["listens"]


def test_a_corrupt_line_stops_the_spark_import_or_is_skipped_and_counted(tmp_path, capsys, spark_local):
    months = {**MONTHS, (2019, 2): MONTHS[(2019, 2)] + lines(CORRUPT)}
    dump = write_folder(tmp_path, months)
    # Valid JSON in Latin-1, not UTF-8: bad as in the in-memory importer (Spark must not read it as U+FFFD).
    latin1 = lines(listen("zoe", at(2019, 4), "Café", "Blur")).replace(b"\\u00e9", b"\xe9")
    assert b"Caf\xe9" in latin1
    write_folder(tmp_path, {(2019, 4): latin1})
    config = write_config(tmp_path)
    argv = ["--config", str(config), "data", "import-listenbrainz", "--dump", str(dump), "--no-progress"]
    argv += ["--engine", "spark", "--master", spark_local]
    assert cli_main(argv) == 2
    said = capsys.readouterr().err
    assert "2 lines of the dump are not listens (for example " in said, said
    assert "2019/2.listens: not JSON: Unterminated string" in said or "2019/4.listens: not UTF-8" in said, said
    assert "--on-error skip" in said
    assert not (tmp_path / "data" / "datasets" / "lb").exists()

    assert cli_main([*argv, "--on-error", "skip"]) == 0
    assert "Skipped 2 bad lines (for example " in capsys.readouterr().out
    dataset = Dataset.open(tmp_path / "data" / "datasets", "lb")
    assert dataset.manifest["source"]["skipped_lines"] == 2 and dataset.manifest["source"]["listens"] == 11
    assert "zoe" not in set(dataset.user_ids)


@pytest.mark.parametrize("kind", ["zst", "xz"])
def test_an_archive_is_refused_with_what_to_do(tmp_path, capsys, kind):
    archive = write_archive(tmp_path, MONTHS, kind)
    config = write_config(tmp_path)
    argv = ["--config", str(config), "data", "import-listenbrainz", "--dump", str(archive)]
    assert cli_main([*argv, "--engine", "spark", "--master", "local[2]", "--no-progress"]) == 2
    said = capsys.readouterr().err
    assert f".tar.{kind}" in said and "extract it first" in said and "--engine memory" in said, said
    assert not (tmp_path / "data" / "datasets" / "lb").exists()


def test_master_without_the_spark_engine_is_refused(tmp_path, capsys):
    config = write_config(tmp_path)
    argv = ["--config", str(config), "data", "import-listenbrainz", "--dump", str(write_folder(tmp_path, MONTHS))]
    assert cli_main([*argv, "--master", "local[2]", "--no-progress"]) == 2
    assert "--master names where Spark runs: add --engine spark" in capsys.readouterr().err
    assert not (tmp_path / "data" / "datasets" / "lb").exists()
