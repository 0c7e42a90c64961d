"""``python -m bench.steps``: one step per process, importing only its own group, failures reported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from paths import PROJECT_ROOT

from bench.steps.__main__ import STEP_NAMES, main, step_function


def test_every_step_name_has_its_function():
    modules = {name: step_function(name).__module__ for name in STEP_NAMES}
    assert all(module.startswith("bench.steps.") for module in modules.values()), modules
    assert modules["open"] == modules["open-first"] == "bench.steps.startup"
    with pytest.raises(ValueError, match="unknown step 'write-dataset'"):
        step_function("write-dataset")


# What a step's process must not have loaded when the step begins: each process is measured whole
# (wall time, CPU, peak memory), so another group's imports would count in its figures; and the
# start (open) and the import anchor time their own imports, as a bot or a reader process pays them.
NOT_LOADED = {
    "import-anchor": ("recommender", "discord", "implicit", "pandas", "scipy"),
    "load": ("discord", "implicit", "faiss"),
    "train-implicit": ("discord", "recommender.service", "psutil"),
    "open": ("recommender", "discord", "pandas"),
    "open-first": ("recommender", "discord", "pandas"),
    "complete": ("discord", "faiss"),
    "ann": ("discord", "recommender.service", "faiss"),
}


@pytest.mark.parametrize("step", sorted(NOT_LOADED))
def test_a_step_process_loads_only_what_its_group_needs(step):
    script = (
        "import sys, json; from bench.steps.__main__ import step_function; "
        f"step_function({step!r}); print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=120
        ).stdout
    )
    roots = {name.split(".")[0] for name in loaded} | set(loaded)
    assert not roots & set(NOT_LOADED[step])


def test_a_failing_step_is_reported_with_its_reason_and_exit_code(tmp_path):
    out = tmp_path / "figures.json"
    code = main(["load", "--scale", "0.01", "--work", str(tmp_path / "work"), "--out", str(out)])
    figures = json.loads(out.read_text())
    assert code == 1 and figures["status"] == "failed"
    assert figures["reason"].startswith("FileNotFoundError: no dataset at ")
