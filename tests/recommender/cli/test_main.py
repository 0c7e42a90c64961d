"""`python -m recommender`: catalog text cleaned for the terminal, one error style, quiet by default."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys

import pandas as pd
import pytest
from paths import PROJECT_ROOT
from planted_data import planted_counts, write_config

from recommender.cli.main import main as cli_main
from recommender.dataset import write_dataset

# What a hostile catalog may hold: clear-screen and colour escapes, a terminal title change,
# a bell, raw line breaks, bidi overrides and isolates, zero-width characters.
HOSTILE = [
    "\x1b[2J\x1b[31mred",
    "\x1b]0;pwned\x07",
    "two\nlines\r",
    "\u202eevil\u202c",
    "\u2066iso\u2069",
    "zero\u200bwidth",
    "tab\tbed",
    "\x9b31m",
    "\u2028sep",
]
# Nothing a terminal acts on or hides may reach it.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    config = write_config(root)
    counts, genre = planted_counts(0)
    n = counts.shape[1]
    items = pd.DataFrame(
        {
            "item_id": [f"song{i}" for i in range(n)],
            "title": [f"Song {i} {HOSTILE[i % len(HOSTILE)]}" for i in range(n)],
            "artist": [f"Artist {g} {HOSTILE[(i + 3) % len(HOSTILE)]}" for i, g in enumerate(genre)],
        }
    )
    write_dataset(
        root / "data" / "datasets" / "planted",
        name="planted",
        interactions=counts,
        items=items,
        user_ids=[f"user{u}" for u in range(counts.shape[0])],
    )
    assert (
        cli_main(
            ["--config", str(config), "train", "--dataset", "planted", "--algorithm", "cosine", "--no-eval", "--quiet"]
        )
        == 0
    )
    return config, items


def run_cli(capsys, config, *argv) -> tuple[int, str, str]:
    status = cli_main(["--config", str(config), *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["similar", "song0", "-n", "8"],
        ["mix", "song1", "song3", "-n", "8"],
        ["resolve", "Song 1"],
        ["similar", "Sonk"],  # the closest titles, in an error line
    ],
)
def test_catalog_text_printed_as_text_reaches_the_terminal_clean(hostile, capsys, argv):
    config, _ = hostile
    status, out, err = run_cli(capsys, config, *argv)
    shown = out + err
    assert not UNSAFE.findall(shown), UNSAFE.findall(shown)
    if argv[0] in ("similar", "mix") and status == 0:
        numbered = [line for line in out.splitlines() if re.match(r"\s+\d+\. ", line)]
        reasons = [line for line in out.splitlines() if line.startswith("     ")]
        assert len(numbered) == len(reasons) == 8  # each song and its reason on one line of its own
        assert "Song " in numbered[0] and "Artist " in numbered[0]
    if argv[0] == "resolve":
        assert "Song 1 " in out
    if argv[1] == "Sonk":
        assert status == 2 and err.startswith("error: No song matches 'Sonk'. Closest titles: Song ")
        assert err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["similar", "song0", "-n", "8", "--json"],
        ["mix", "song1", "song3", "--json"],
        ["resolve", "Song 1", "--json"],
    ],
)
def test_json_output_keeps_the_data_exactly_and_escapes_what_a_terminal_acts_on(hostile, capsys, argv):
    config, items = hostile
    status, out, _ = run_cli(capsys, config, *argv)
    assert status == 0 and out.count("\n") == 1
    assert not UNSAFE.findall(out)
    parsed = json.loads(out)
    titles = dict(zip(items["item_id"], items["title"]))
    songs = parsed.get("suggestions") or parsed.get("candidates")
    assert songs and all(song["title"] == titles[song["item_id"]] for song in songs)  # exactly as in the data
    assert any(UNSAFE.search(song["title"]) for song in songs + parsed.get("seeds", []))


def test_every_error_has_one_style(hostile, capsys, tmp_path):
    config, _ = hostile
    with pytest.raises(SystemExit) as exited:
        cli_main(["--config", str(config), "similar"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "error: the following arguments are required: title (see python -m recommender similar --help)\n"
    )
    status, _, err = run_cli(capsys, config, "similar", "song0", "--dataset", "nothing-here")
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    blocked = tmp_path / "blocked.toml"
    blocked.write_text(f'[data]\nroot = "{blocker}"\n', encoding="utf-8")  # a file where a folder must be
    status, _, err = run_cli(capsys, blocked, "data", "demo", "--users", "10")
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
def test_the_cli_logs_only_warnings_unless_asked(demo_env):
    base = [sys.executable, "-m", "recommender", "--config", str(demo_env.config_path)]
    quiet = subprocess.run(
        [*base, "similar", "Hey Ya!", "-n", "2"], capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT
    )
    assert quiet.returncode == 0 and "  1. " in quiet.stdout
    assert quiet.stderr == ""
    verbose = subprocess.run(
        [*base, "-v", "similar", "Hey Ya!", "-n", "2"], capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT
    )
    assert verbose.returncode == 0 and "INFO recommender." in verbose.stderr


def test_the_command_line_names_its_command_modules_in_code():
    """main.py imports each command module by name in code: no module names as strings, no importlib."""
    source = (PROJECT_ROOT / "recommender" / "cli" / "main.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    from_cli = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "recommender.cli"
        for alias in node.names
    }
    assert "importlib" not in imported and "__import__" not in source
    assert from_cli == {"data", "evaluate", "query", "retrain", "train"}


def test_library_modules_hold_no_command_line_code():
    """Options and their parsing live in recommender/cli/; the library has no argparse."""
    with_argparse = []
    for path in sorted((PROJECT_ROOT / "recommender").rglob("*.py")):
        if "cli" in path.relative_to(PROJECT_ROOT).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if any(name.split(".")[0] == "argparse" for name in names):
                with_argparse.append(str(path.relative_to(PROJECT_ROOT)))
    assert with_argparse == []
