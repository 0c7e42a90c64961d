"""Two bot processes, each running one shard of two, against one fake Discord, sharing one
feedback log (a SQLite file, or a real PostgreSQL server) and one model store: a /retrain in
one, and both answer with the new model within a bounded wait (the other swaps through the
store's ``current`` pointer)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
from pathlib import Path

import pytest
from bot_harness import TEST_TOKEN, WAIT
from demo_copies import copy_demo
from fake_discord import MANAGE_GUILD, FakeDiscord, FakeGuild, FakeMember, FakeUser, option, shard_of
from fake_discord.processes import bot_command, bot_environment
from paths import PROJECT_ROOT

WATCH_SECONDS = 0.5
# Bound on a process's start (loading the demo service, logging in, IDENTIFY) on a busy machine.
START_WAIT = 90.0

pytestmark = pytest.mark.slow


@contextlib.asynccontextmanager
async def bot_process(config_path: Path, port: int, shard: int, count: int, output: Path):
    with output.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *bot_command(shard, count, "--config", str(config_path)),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
            env=bot_environment(port, TEST_TOKEN),
        )
        try:
            yield process
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), WAIT)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def answer_footer(fake: FakeDiscord, member: FakeMember, guild: FakeGuild) -> str:
    """Ask /soundalike in ``guild``; the footer of the answer (it names the model version)."""
    pending = await fake.slash_command("soundalike", [option("title", "Hey Ya!")], member=member, guild=guild)
    app = fake.application_id
    await fake.wait_for("PATCH", rf"/webhooks/{app}/{pending.token}/messages/@original", timeout=WAIT)
    message_id = pending.original_message_id
    # The last step of an answer, after logging it: 👎 put on it. Then the bot is done with it.
    await fake.wait_for(
        "PUT", rf"/channels/\d+/messages/{message_id}/reactions/[^/]+/@me", timeout=WAIT, where=lambda r: "👎" in r.path
    )
    return fake.message(message_id)["embeds"][0]["footer"]["text"]


def version_in(footer: str) -> str:
    found = re.search(r"model (v\d+)", footer)
    assert found, footer
    return found[1]


@pytest.mark.parametrize("log_kind", ["sqlite", "postgres"])
async def test_a_retrain_in_one_process_is_served_by_both(tmp_path, demo_env, log_kind, request):
    admin = FakeUser(7001, "dj")
    config_path, _ = copy_demo(
        tmp_path,
        demo_env,
        f"admin_user_ids = [{admin.id}]\ncooldown_seconds = 0\npromotion_tolerance = 1.0\n"
        f"[serving]\nwatch_model_seconds = {WATCH_SECONDS}\n",
    )
    if log_kind == "postgres":  # both processes (and the retrain they start) on one PostgreSQL log
        url = request.getfixturevalue("postgres_server").fresh_url()
        text = config_path.read_text(encoding="utf-8")
        config_path.write_text(text.replace(f'database = "{tmp_path / "feedback.sqlite3"}"', f'database = "{url}"'))
        assert url in config_path.read_text(encoding="utf-8")
    async with FakeDiscord(shard_count=2) as fake:
        member, dj = FakeMember(FakeUser(7002, "listener")), FakeMember(admin, permissions=MANAGE_GUILD | 3136)
        guilds = [fake.add_guild(f"Server on shard {shard}", [member, dj], shard=(shard, 2)) for shard in (0, 1)]
        assert [shard_of(guild.id, 2) for guild in guilds] == [0, 1]
        logs = [tmp_path / f"bot-{shard}.log" for shard in (0, 1)]
        async with (
            bot_process(config_path, fake.port, 0, 2, logs[0]) as first,
            bot_process(config_path, fake.port, 1, 2, logs[1]) as second,
        ):
            for _ in range(int(START_WAIT / 0.25)):  # bounded; a process that dies ends it at once
                dead = [
                    path for process, path in ((first, logs[0]), (second, logs[1])) if process.returncode is not None
                ]
                assert not dead, dead[0].read_text(encoding="utf-8", errors="replace")[-3000:]
                if len(fake.identify_payloads) >= 2:
                    break
                await asyncio.sleep(0.25)
            assert sorted(fake.connected_shards()) == [(0, 2), (1, 2)]
            assert [version_in(await answer_footer(fake, member, guild)) for guild in guilds] == ["v1", "v1"]

            # /retrain in the process of shard 0 (promotion_tolerance 1: it publishes v2).
            retrain = await fake.slash_command("retrain", [], member=dj, guild=guilds[0])
            finished = await fake.wait_for(
                "PATCH",
                rf"/webhooks/\d+/{retrain.token}/messages/@original",
                timeout=180,
                where=lambda r: not str(r.body.get("content", "")).startswith("Retraining"),
            )
            assert finished.body["content"].startswith("Retrained: now serving model v2."), finished.body

            # The other process serves v2 within a bounded wait (its watcher looks every 0.5 s).
            versions = {}
            for _ in range(60):  # bounded: 60 asks, 0.5 s apart at least
                versions = {shard: version_in(await answer_footer(fake, member, guilds[shard])) for shard in (0, 1)}
                if versions == {0: "v2", 1: "v2"}:
                    break
                await asyncio.sleep(WATCH_SECONDS)
            assert versions == {0: "v2", 1: "v2"}, versions
            # Each server's commands went to its own shard's connection only.
            for guild in guilds:
                assert {shard for event, gid, shard in fake.delivered if gid == guild.id} == {shard_of(guild.id, 2)}
        outputs = [path.read_text(encoding="utf-8", errors="replace") for path in logs]
    assert "swapped to model v2, published in the shared model store (was v1)" in outputs[1], outputs[1][-3000:]
    for output in outputs:
        assert "Traceback" not in output and TEST_TOKEN not in output, output[-3000:]
