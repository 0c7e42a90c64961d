"""Starting the bot: token handling, one-line failures, and the token never reaching a log."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import discord
import pytest
from bot_harness import TEST_TOKEN, WAIT, bot_world, make_people
from fake_discord import FakeDiscord, option, pointed_at

import bot.__main__ as bot_main

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUN_BOT = PROJECT_ROOT / "tests" / "fake_discord" / "run_bot.py"


@pytest.fixture
def restore_logging():
    """main() installs log handlers on the root logger; take them off again after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one clear line, got:\n{text}"
    assert "Traceback" not in text
    return lines[0]


def test_missing_token_is_one_clear_line(monkeypatch, capsys, restore_logging):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert bot_main.main([]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error: DISCORD_TOKEN is not set.") and "python -m bot --console" in line


def test_rejected_token_is_one_clear_line_without_the_token(monkeypatch, capsys, restore_logging):
    async def refused(*args, **kwargs):
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setenv("DISCORD_TOKEN", TEST_TOKEN)
    monkeypatch.setattr(bot_main, "run_bot", refused)
    assert bot_main.main([]) == 2
    err = capsys.readouterr().err
    assert one_line(err) == f"error: {bot_main.BAD_TOKEN}"
    assert TEST_TOKEN not in err


def test_invalid_config_is_one_line_naming_the_key(monkeypatch, capsys, restore_logging):
    monkeypatch.setenv("DISCORD_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("SOUNDALIKE_BOT__MAX_RESULTS", "many")
    assert bot_main.main([]) == 2
    line = one_line(capsys.readouterr().err)
    assert "[bot] max_results" in line and "many" in line


def test_missing_data_is_one_line(monkeypatch, capsys, tmp_path, restore_logging):
    monkeypatch.setenv("DISCORD_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("SOUNDALIKE_DATA__ROOT", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("SOUNDALIKE_BOT__DATABASE", str(tmp_path / "log.sqlite3"))
    assert bot_main.main([]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error: ") and "demo" in line


def test_redaction_filter_blanks_the_token_in_messages_and_tracebacks():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sent %s to %s", (TEST_TOKEN, "gateway"), None)
    record.exc_text = f"Traceback ... token={TEST_TOKEN}"
    assert bot_main.RedactToken(TEST_TOKEN).filter(record)
    assert record.getMessage() == f"sent {bot_main.REDACTED} to gateway"
    assert TEST_TOKEN not in record.exc_text


async def test_discord_refusing_the_token_raises_login_failure(tmp_path, demo_env):
    import dataclasses

    config = dataclasses.replace(demo_env.config, bot=dataclasses.replace(
        demo_env.config.bot, database=str(tmp_path / "log.sqlite3")))
    async with FakeDiscord() as fake:
        fake.rejected_tokens.add(TEST_TOKEN)
        with pointed_at(fake), pytest.raises(discord.LoginFailure):
            await asyncio.wait_for(bot_main.run_bot(config, TEST_TOKEN, None), WAIT)
        assert fake.sent("GET", "/users/@me")[0].authorization == f"Bot {TEST_TOKEN}"
        assert not fake.identify_payloads


async def test_no_log_record_of_a_full_run_holds_the_token(tmp_path, demo_env, demo_service, caplog):
    caplog.set_level(logging.DEBUG)
    async with bot_world(tmp_path, demo_env.config, demo_service) as world:
        await world.fake.autocomplete("soundalike", [option("title", "hey", focused=True)],
                                      member=world.member, guild=world.guild)
        message_id = int((await world.answer_message(await world.soundalike("Hey Ya!")))["id"])
        await world.fake.react(message_id, "👍", user_id=world.member.user.id, guild=world.guild)
        since = len(world.fake.requests)
        press = await world.fake.press(message_id, "soundalike:rate:1:up", member=world.dj, guild=world.guild)
        await world.ephemeral_reply(press, since=since)
        since = len(world.fake.requests)
        refused = await world.fake.slash_command("retrain", [], member=world.member, guild=world.guild)
        await world.ephemeral_reply(refused, since=since)
        await world.restart()
        assert world.fake.identify_payloads[-1]["token"] == TEST_TOKEN  # the token was really used
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
    )
    assert len(caplog.records) > 50, "DEBUG logging was not captured"
    assert "discord.gateway" in logged and "discord.http" in logged
    assert TEST_TOKEN not in logged


@pytest.mark.slow
async def test_python_m_bot_output_never_holds_the_token(tmp_path, demo_env):
    """The real entry point in a subprocess, at DEBUG, driven through a command, then SIGTERM."""
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        f'[data]\nroot = "{demo_env.config.data_root}"\n[bot]\ndatabase = "{tmp_path / "log.sqlite3"}"\n'
        "cooldown_seconds = 0.0\n",
        encoding="utf-8",
    )
    async with FakeDiscord() as fake:
        guild, member, _, _ = make_people(fake)
        env = {**os.environ, "DISCORD_TOKEN": TEST_TOKEN, "FAKE_DISCORD_PORT": str(fake.port),
               "PYTHONPATH": str(PROJECT_ROOT)}
        with open(tmp_path / "stdout.txt", "wb") as out, open(tmp_path / "stderr.txt", "wb") as err:
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(RUN_BOT), "--config", str(config_path), "-v",
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=PROJECT_ROOT, env=env,
            )
            try:
                await fake.wait_connected(1, timeout=60)
                interaction = await fake.slash_command("soundalike", [option("title", "Hey Ya!")],
                                                       member=member, guild=guild)
                await fake.wait_for("PUT", r"/channels/\d+/messages/\d+/reactions/[^/]+/@me", timeout=30,
                                    where=lambda r: "👎" in r.path)
                assert interaction.original_message_id in fake.messages
                process.send_signal(signal.SIGTERM)
                status = await asyncio.wait_for(process.wait(), 30)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        assert fake.identify_payloads[0]["token"] == TEST_TOKEN
        assert fake.sent("GET", "/users/@me")[0].authorization == f"Bot {TEST_TOKEN}"
    stdout = (tmp_path / "stdout.txt").read_text(encoding="utf-8", errors="replace")
    stderr = (tmp_path / "stderr.txt").read_text(encoding="utf-8", errors="replace")
    assert status == 0, stderr[-3000:]
    assert "synced 9 commands" in stderr and "has connected to Gateway" in stderr and "DEBUG" in stderr
    assert TEST_TOKEN not in stdout and TEST_TOKEN not in stderr
