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
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.steps.context import Context, percentiles

BURST_REQUESTS = 1000
BURST_SERVERS = 10
ACK_P99_TARGET_S = 1.5
ANSWER_TARGET_S = 10.0
TOKEN = "bench.fake-token.not-secret"
ROOT = Path(__file__).resolve().parents[2]


def burst(ctx: Context, requests: int = BURST_REQUESTS, servers: int = BURST_SERVERS) -> dict:
    import discord.gateway
    import discord.http
    import yarl

    from bot.app import SoundalikeBot
    from recommender.app.core import Soundalike
    from recommender.config import load_config

    real_base, real_gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    driver = subprocess.Popen(
        [sys.executable, "-m", "bench.steps.discord_burst", "--requests", str(requests), "--servers", str(servers)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        replies = driver.stdout
        assert replies is not None
        port = json.loads(replies.readline())["port"]
        # discord.py's REST base and gateway, pointed at the fake (put back at the end).
        discord.http.Route.BASE = f"http://127.0.0.1:{port}/api/v10"
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"ws://127.0.0.1:{port}/gateway")
        config = load_config()

        async def serve(log_path: Path) -> dict:
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

        with tempfile.TemporaryDirectory(prefix="soundalike-burst-") as folder:
            seen = asyncio.run(serve(Path(folder) / "log.sqlite3"))
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = real_base, real_gateway
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
