"""(k) burst: 1,000 /soundalike at once from 1,000 members in 10 servers, through Discord.

The bot is the product's own (``Soundalike.open`` + ``SoundalikeBot``, the configured limits)
in this process; the fake Discord sends the burst from its own process
(:mod:`bench.steps.discord_burst`), so its work does not count in the bot's. Target: every
request answered, none "busy", acknowledgement p99 <= 1.5 s, every answer within 10 s
(Discord drops an interaction not acknowledged within 3 s; a deferred one may be answered
within 15 minutes).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from bench.steps.context import Context, percentiles

BURST_REQUESTS = 1000
BURST_SERVERS = 10
ACK_P99_TARGET_S = 1.5
ANSWER_TARGET_S = 10.0
# burst-processes: one bot process per core of the bench machine, as deploy/compose.yaml runs two.
BURST_PROCESSES = 2
TOKEN = "bench.fake-token.not-secret"
ROOT = Path(__file__).resolve().parents[2]


def burst(ctx: Context, requests: int = BURST_REQUESTS, servers: int = BURST_SERVERS, processes: int = 1) -> dict:
    """The burst against one bot in this process (``processes=1``), or against ``processes``
    ``python -m bot`` processes, each running one shard of ``processes`` (``--shards i
    --shard-count N``) and sharing one log and one model store, as README "Shards" runs them."""
    from recommender.config import load_config

    config = load_config()
    sizes = ["--requests", str(requests), "--servers", str(servers), "--connections", str(processes)]
    driver = subprocess.Popen(
        [sys.executable, "-m", "bench.steps.discord_burst", *sizes],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        replies = driver.stdout
        assert replies is not None
        port = json.loads(replies.readline())["port"]
        with tempfile.TemporaryDirectory(prefix="soundalike-burst-") as folder:
            log_path = Path(folder) / "log.sqlite3"
            if processes == 1:
                seen = _serve_here(config, port, log_path, replies)
            else:
                seen = _serve_in_processes(processes, port, log_path, replies, Path(folder))
                bot = config.bot
                seen["limits"] = {
                    "per_guild": bot.per_guild_concurrency,
                    "max_queue": bot.max_queue,
                    "processes": processes,
                }
    finally:
        if driver.stdin is not None:
            with contextlib.suppress(OSError):
                driver.stdin.write("close\n")
                driver.stdin.close()
        try:
            driver.wait(30)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait(30)
    acknowledged, answered = seen.pop("acknowledged_s"), seen.pop("answered_s")
    ack, answer = percentiles(acknowledged), percentiles(answered)
    return {
        **seen,
        "acknowledgement": ack,
        "answer": answer,
        "met": {
            "every_one_answered": seen["answered"] == requests,
            "none_busy": seen["busy"] == 0,
            "ack_p99_le_1_5_s": len(acknowledged) == requests and ack["p99_ms"] <= ACK_P99_TARGET_S * 1000,
            "all_answers_within_10_s": len(answered) == requests and answer["max_ms"] <= ANSWER_TARGET_S * 1000,
        },
    }


def _serve_here(config: Any, port: int, log_path: Path, replies: IO[str]) -> dict:
    """One bot in this process (the product's Soundalike.open + SoundalikeBot) until the driver's line."""
    import discord.gateway
    import discord.http
    import yarl

    from bot.app import SoundalikeBot
    from recommender.app.core import Soundalike

    real_base, real_gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    # discord.py's REST base and gateway, pointed at the fake (put back at the end).
    discord.http.Route.BASE = f"http://127.0.0.1:{port}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"ws://127.0.0.1:{port}/gateway")

    async def serve() -> dict:
        settings = dataclasses.replace(config.bot, database=str(log_path), dev_guild_ids=[])
        async with Soundalike.open(dataclasses.replace(config, bot=settings)) as app:
            bot = SoundalikeBot(app=app)
            async with bot:
                await bot.login(TOKEN)
                connection = asyncio.create_task(bot.connect(reconnect=False))
                try:
                    line = await asyncio.wait_for(asyncio.to_thread(replies.readline), 300)
                finally:
                    await bot.close()
                    await asyncio.wait_for(connection, 30)
            limits = {"per_guild": app.pool.per_guild, "max_queue": app.pool.max_queue, "workers": app.pool.workers}
        return {**json.loads(line), "limits": limits, "model": app.serving_version}

    try:
        return asyncio.run(serve())
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = real_base, real_gateway


def _serve_in_processes(processes: int, port: int, log_path: Path, replies: IO[str], folder: Path) -> dict:
    """``processes`` bot processes (``tests/fake_discord/run_bot.py``: ``python -m bot`` pointed at
    the fake), one shard each, until the driver's line; then SIGTERM, as a deployment stops them."""
    tests = str(ROOT / "tests")  # the fake Discord lives with the tests
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from fake_discord.processes import bot_command, bot_environment

    env = bot_environment(port, TOKEN, SOUNDALIKE_BOT__DATABASE=str(log_path))
    bots = []
    try:
        for shard in range(processes):
            output = (folder / f"bot-{shard}.log").open("wb")
            bots.append(
                subprocess.Popen(
                    bot_command(shard, processes),
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            )
            output.close()
        line = replies.readline()
        if not line:
            logs = "\n".join((folder / f"bot-{n}.log").read_text(errors="replace")[-2000:] for n in range(processes))
            raise RuntimeError(f"the fake Discord ended without figures; the bots said:\n{logs}")
        return json.loads(line)
    finally:
        for process in bots:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in bots:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)


def burst_in_processes(ctx: Context) -> dict:
    """(k) the same burst against two bot processes, one shard each (``burst-processes``)."""
    return burst(ctx, processes=BURST_PROCESSES)
