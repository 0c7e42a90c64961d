"""deploy/compose.yaml runs the commands the tests run: each service's command is parsed by the
project's own parsers (or names the Spark launch class the tests start), and each SOUNDALIKE_
variable is a configuration key that takes its value. Nothing here runs containers."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from paths import PROJECT_ROOT
from spark_cluster import MASTER_CLASS, WORKER_CLASS

from bot import __main__ as bot_main
from recommender.cli.main import build_parser
from recommender.config import load_config

COMPOSE = PROJECT_ROOT / "deploy" / "compose.yaml"
DOCKERFILE = PROJECT_ROOT / "deploy" / "Dockerfile"


def services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def expanded(value: str) -> str:
    """A compose value with ${NAME:?message} / ${NAME} filled in as a person would."""
    return re.sub(r"\$\{([A-Z_]+)[^}]*\}", lambda m: {"POSTGRES_PASSWORD": "secret"}.get(m[1], "x"), value)


def test_the_topology_is_postgres_two_bot_processes_and_a_spark_master_and_worker():
    found = services()
    bots = [s for s in found.values() if s.get("command", [])[:3] == ["python", "-m", "bot"]]
    assert len(bots) == 2
    assert found["postgres"]["image"].startswith("postgres:")
    assert found["spark-master"]["command"][:2] == ["spark-class", MASTER_CLASS]
    assert found["spark-worker"]["command"][:2] == ["spark-class", WORKER_CLASS]
    # The two bot processes run different shards of one count: together, every shard once.
    shards = []
    for bot in bots:
        options = bot_main.parse_args(bot["command"][3:]).shard_options
        shards.append((tuple(options["shard_ids"]), options["shard_count"]))
    assert shards[0][1] == shards[1][1]
    assert sorted(shards[0][0] + shards[1][0]) == list(range(shards[0][1]))
    # docker stop waits this long before SIGKILL: longer than the bot's own shutdown takes.
    from bot.app import HANDLERS_FINISH_S
    from bot.rating import REACTIONS_FINISH_S

    for bot in bots:
        assert int(bot["stop_grace_period"].removesuffix("s")) > HANDLERS_FINISH_S + REACTIONS_FINISH_S


@pytest.mark.parametrize("name", sorted(services()))
def test_each_service_runs_a_command_the_project_has(name):
    service = services()[name]
    if "image" in service and "build" not in service:
        assert "command" not in service, f"{name}: an outside image runs its own command"
        return
    command = service["command"]
    if command[:3] == ["python", "-m", "recommender"]:
        build_parser().parse_args(command[3:])  # exits 2 on an option the command line does not take
    elif command[:3] == ["python", "-m", "bot"]:
        bot_main.parse_args(command[3:])
    else:
        assert command[0] == "spark-class" and command[1] in (MASTER_CLASS, WORKER_CLASS), command
        # pip installs pyspark's launcher beside the interpreter, as in the image.
        assert (Path(sys.executable).parent / "spark-class").exists() or shutil.which("spark-class")


@pytest.mark.parametrize("name", sorted(services()))
def test_each_services_settings_are_configuration_keys_that_take_their_values(name):
    environment = {key: expanded(str(value)) for key, value in services()[name].get("environment", {}).items()}
    settings = {key: value for key, value in environment.items() if key.startswith("SOUNDALIKE_")}
    if not settings:
        return
    config = load_config(PROJECT_ROOT / "config.toml", environ=settings)  # the file the image holds
    for key, value in settings.items():
        section, field = key.removeprefix("SOUNDALIKE_").lower().split("__")
        taken = getattr(getattr(config, section), field)
        if isinstance(taken, bool | int | float):
            assert taken == float(value), key
        else:
            assert str(taken) == value, key


def test_the_image_installs_the_pinned_requirements_and_java_for_spark():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "pip install --no-cache-dir -r requirements.txt" in text
    assert "openjdk-17-jre-headless" in text
    assert re.search(r"^FROM python:3\.11", text, re.MULTILINE)
