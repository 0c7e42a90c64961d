"""How the tests and the bench start ``python -m bot`` against the fake Discord in a process of
its own (``run_bot.py``), one shard of several: the command line and the environment. Each
caller starts and stops the process its own way (asyncio in the tests, blocking in the bench)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

RUN_BOT = Path(__file__).resolve().with_name("run_bot.py")
PROJECT_ROOT = RUN_BOT.parents[2]


def bot_command(shard: int, shard_count: int, *bot_args: str) -> list[str]:
    """``python run_bot.py [bot_args] --shards shard --shard-count shard_count``."""
    return [sys.executable, str(RUN_BOT), *bot_args, "--shards", str(shard), "--shard-count", str(shard_count)]


def bot_environment(port: int, token: str, **settings: str) -> dict[str, str]:
    """This process's environment, with the token, the fake's port, the project on the path and
    ``settings`` (``SOUNDALIKE_...`` overrides) added."""
    return {
        **os.environ,
        "DISCORD_TOKEN": token,
        "FAKE_DISCORD_PORT": str(port),
        "PYTHONPATH": str(PROJECT_ROOT),
        **settings,
    }
