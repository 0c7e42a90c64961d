"""The README's commands are runnable as written: real flags, the project's Python, real targets."""

from __future__ import annotations

import re
import shlex

import pytest
from environment import write_config
from paths import PROJECT_ROOT

import bot.__main__ as bot_main
from recommender.cli.main import build_parser
from recommender.cli.main import main as cli_main
from recommender.dataset import Dataset

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")


def shell_commands() -> list[list[str]]:
    """Every command of the README's ```sh blocks as words: continuation lines joined, comments
    cut, pipelines and `&&` lists split into their commands."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            command: list[str] = []
            for word in [*shlex.split(line, comments=True), "|"]:
                if word in ("|", "&&", "&", ";"):
                    if command:
                        commands.append(command)
                    command = []
                else:
                    command.append(word)
    return commands


def python_commands() -> list[list[str]]:
    """The `python -m recommender|bot ...` commands, without environment assignments."""
    found = []
    for words in shell_commands():
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words = words[1:]
        if len(words) > 2 and words[1:3] in (["-m", "recommender"], ["-m", "bot"]):
            found.append(words)
    return found


def test_the_readme_has_the_commands_this_test_reads():
    modules = {words[2] for words in python_commands()}
    assert modules == {"recommender", "bot"} and len(python_commands()) >= 12


@pytest.mark.parametrize("words", python_commands(), ids=lambda words: " ".join(words[3:6]))
def test_every_python_command_uses_the_projects_python_and_real_options(words):
    assert words[0] == ".venv/bin/python", f"{' '.join(words)}: runs another Python than the project's"
    try:
        if words[2] == "recommender":
            build_parser().parse_args(words[3:])
        else:
            bot_main.parse_args(words[3:])
    except SystemExit as exited:  # --help exits 0 after printing; anything else is a mistake
        if exited.code != 0:
            pytest.fail(f"{' '.join(words)}: not valid as written (exit {exited.code})")


def test_every_make_target_the_readme_names_exists():
    targets = set(re.findall(r"^([a-z][a-z-]*):", MAKEFILE, re.MULTILINE))
    named = {words.split()[1] for words in re.findall(r"\bmake [a-z][a-z-]*", README)}
    assert named and named <= targets, named - targets


def test_the_import_example_runs_as_written_on_the_shipped_files(tmp_path, monkeypatch, capsys):
    (example,) = [words for words in python_commands() if "data/examples/plays.csv" in words]
    monkeypatch.chdir(PROJECT_ROOT)  # the README's paths are relative to the project
    config = write_config(tmp_path / "env")
    assert cli_main(["--config", str(config), *example[3:], "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "detected comma-separated fields and a header line" in out
    dataset = Dataset.open(tmp_path / "env" / "data" / "datasets", "mine")
    assert (dataset.n_users, dataset.n_items) == (4, 7)
    assert dataset.artist(dataset.item_index("halo")) == "Beyoncé"


def test_make_test_is_described_as_it_is():
    """`make test` builds no demo data in data/: the suite builds its own in a temporary folder."""
    test_recipe = re.search(r"^test: .*\n((?:\t.*\n)+)", MAKEFILE, re.MULTILINE)[1]
    assert "demo" not in test_recipe
    assert re.search(
        r"make test +# the test suite \(creates \.venv and installs the pinned packages; its data is "
        r"its own\)",
        README,
    )
    assert "builds its own small demo dataset and model in a temporary folder and leaves `data/` alone" in README
