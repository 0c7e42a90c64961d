"""`data import-csv | import-msd | demo`: one error line, an existing dataset replaced only on purpose,
and what replacing it means for the models trained on it."""

from __future__ import annotations

import json

import pytest
from environment import write_config
from msd_samples import TRACKS, TRIPLETS

from recommender.cli.main import build_parser
from recommender.cli.main import main as cli_main
from recommender.config import load_config
from recommender.dataset import Dataset


def write(path, text: str | bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_cli_failure_keeps_the_previous_dataset(tmp_path, capsys):
    config = write_config(tmp_path / "env")
    good = write(tmp_path / "good.tsv", "a\tx\t1\n")
    bad = write(tmp_path / "bad.tsv", "a\tx\t1\nb\n")
    base = ["--config", str(config), "data", "import-csv", "--name", "mine", "--no-progress"]
    assert cli_main([*base, "--interactions", str(good)]) == 0
    folder = tmp_path / "env" / "data" / "datasets" / "mine"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert cli_main([*base, "--interactions", str(bad), "--replace"]) == 2
    assert f"{bad}, line 2: expected 3 fields" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in folder.parent.iterdir()] == ["mine"]


def test_a_dataset_name_cannot_leave_the_datasets_folder(tmp_path, capsys):
    config = write_config(tmp_path / "env")
    good = write(tmp_path / "good.tsv", "a\tx\t1\n")
    assert (
        cli_main(["--config", str(config), "data", "import-csv", "--interactions", str(good), "--name", "../escape"])
        == 2
    )
    assert "dataset name '../escape'" in capsys.readouterr().err
    assert not (tmp_path / "env" / "data" / "escape").exists()


# -- an existing dataset is replaced only on purpose -------------------------------------------


def _folder_bytes(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("importer", ["import-csv", "import-msd", "demo"])
def test_no_importer_replaces_an_existing_dataset_without_replace(tmp_path, capsys, importer):
    config = write_config(tmp_path / "env")
    argv = {
        "import-csv": [
            "import-csv",
            "--interactions",
            str(write(tmp_path / "plays.tsv", "a\tx\t1\nb\ty\t2\n")),
            "--no-progress",
        ],
        "import-msd": [
            "import-msd",
            "--triplets",
            str(write(tmp_path / "train_triplets.txt", TRIPLETS)),
            "--tracks",
            str(write(tmp_path / "unique_tracks.txt", TRACKS)),
            "--no-progress",
        ],
        "demo": ["demo", "--users", "30"],
    }[importer]
    base = ["--config", str(config), "data", *argv, "--name", "mine"]
    assert cli_main(base) == 0
    folder = tmp_path / "env" / "data" / "datasets" / "mine"
    before = _folder_bytes(folder)
    capsys.readouterr()
    assert cli_main(base) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: dataset 'mine' already exists (") and "pass --replace to replace it" in err
    assert _folder_bytes(folder) == before
    assert cli_main([*base, "--replace"]) == 0
    assert json.loads((folder / "manifest.json").read_text())["created"]  # written again, whole


def test_replacing_the_data_models_were_trained_on_says_they_will_be_refused(tmp_path, capsys):
    from recommender.errors import ModelError
    from recommender.service import SoundalikeService

    config_path = write_config(tmp_path / "env")
    base = ["--config", str(config_path), "data", "demo", "--users", "300"]
    assert cli_main(base) == 0
    assert cli_main(["--config", str(config_path), "train", "--dataset", "demo", "--no-eval", "--quiet"]) == 0
    capsys.readouterr()
    assert cli_main(base) == 2
    assert "models v1 were trained on it and would be refused until you train again" in capsys.readouterr().err
    assert cli_main([*base, "--replace"]) == 0  # the same data again: the model still fits
    assert "still fit it" in capsys.readouterr().out
    config = load_config(config_path)
    SoundalikeService.open(config)
    assert cli_main(["--config", str(config_path), "data", "demo", "--users", "301", "--replace"]) == 0
    out = capsys.readouterr().out
    assert (
        "warning: models v1 of 'demo' were trained on the data just replaced; the bot, the console and the "
        "CLI will refuse them until you train again: python -m recommender train --dataset demo"
    ) in out
    with pytest.raises(ModelError, match="was trained on dataset fingerprint"):  # and so they are
        SoundalikeService.open(config)


def test_the_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    config = write_config(tmp_path / "env")
    t = write(tmp_path / "train_triplets.txt", "u1\tS1\t1\n" * 3 + "u1\tS2\tmany\n")
    c = write(tmp_path / "unique_tracks.txt", TRACKS)
    code = cli_main(["--config", str(config), "data", "import-msd", "--triplets", str(t), "--tracks", str(c)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"error: {t}, line 4: play count 'many' is not a whole number"


# -- data demo --------------------------------------------------------------------------------
def test_demo_builds_the_named_dataset_under_the_data_root(tmp_path, capsys):
    config_path = write_config(tmp_path / "env")
    assert (
        cli_main(["--config", str(config_path), "data", "demo", "--name", "mini", "--users", "200", "--seed", "3"]) == 0
    )
    config = load_config(config_path)
    dataset = Dataset.open(config.datasets_dir, "mini")
    assert dataset.n_users == 200 and dataset.manifest["source"]["seed"] == 3
    out = capsys.readouterr().out
    assert str(config.datasets_dir / "mini") in out and "Next: python -m recommender train --dataset mini" in out
    assert sorted(p.name for p in config.datasets_dir.iterdir()) == ["mini"]  # no temp left


@pytest.mark.parametrize(
    "argv, named",
    [
        (["demo", "--users", "0"], "--users"),
        (["demo", "--users", "many"], "--users"),
        (["demo", "--seed", "-1"], "--seed"),
        (["demo", "--name", "../outside"], "--name"),
    ],
)
def test_demo_rejects_bad_options_by_name(argv, named, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["data", *argv])
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err
