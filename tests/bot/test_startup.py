"""Starting the bot: token handling, one-line failures, the token never reaching a log, and a damaged
current model refused in one line while the previous good one serves."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import discord
import discord.http
import pytest
import yarl
from bot_harness import TEST_TOKEN, WAIT, bot_world, make_people
from demo_copies import alter_one_byte, copy_demo, remove, republish, truncate
from fake_discord import FakeDiscord, option, pointed_at
from paths import PROJECT_ROOT

import bot.__main__ as bot_main
from recommender.service import SoundalikeService
from recommender.store import ModelStore

RUN_BOT = PROJECT_ROOT / "tests" / "fake_discord" / "run_bot.py"


@pytest.fixture
def restore_logging():
    """main() installs log handlers on the root logger (and a filter on discord.client); take
    them off again after the test."""
    root = logging.getLogger()
    client = logging.getLogger("discord.client")
    handlers, level, filters = list(root.handlers), root.level, list(client.filters)
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    client.filters[:] = filters


def refused_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def output_files(folder: Path) -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """stdout.txt and stderr.txt in ``folder``, for a child process to write its output into
    (files, not pipes: a verbose bot would fill a pipe nobody reads while it runs)."""
    with open(folder / "stdout.txt", "wb") as out, open(folder / "stderr.txt", "wb") as err:
        yield out, err


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

    config = dataclasses.replace(
        demo_env.config, bot=dataclasses.replace(demo_env.config.bot, database=str(tmp_path / "log.sqlite3"))
    )
    async with FakeDiscord() as fake:
        fake.rejected_tokens.add(TEST_TOKEN)
        with pointed_at(fake), pytest.raises(discord.LoginFailure):
            await asyncio.wait_for(bot_main.run_bot(config, TEST_TOKEN, None), WAIT)
        assert fake.sent("GET", "/users/@me")[0].authorization == f"Bot {TEST_TOKEN}"
        assert not fake.identify_payloads


async def test_no_log_record_of_a_full_run_holds_the_token(tmp_path, demo_env, demo_service, caplog):
    caplog.set_level(logging.DEBUG)
    async with bot_world(tmp_path, demo_env.config, demo_service) as world:
        await world.fake.autocomplete(
            "soundalike", [option("title", "hey", focused=True)], member=world.member, guild=world.guild
        )
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
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
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
        env = {
            **os.environ,
            "DISCORD_TOKEN": TEST_TOKEN,
            "FAKE_DISCORD_PORT": str(fake.port),
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        with output_files(tmp_path) as (out, err):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(RUN_BOT),
                "--config",
                str(config_path),
                "-v",
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=PROJECT_ROOT,
                env=env,
            )
            try:
                await fake.wait_connected(1, timeout=60)
                interaction = await fake.slash_command(
                    "soundalike", [option("title", "Hey Ya!")], member=member, guild=guild
                )
                await fake.wait_for(
                    "PUT", r"/channels/\d+/messages/\d+/reactions/[^/]+/@me", timeout=30, where=lambda r: "👎" in r.path
                )
                assert interaction.original_message_id in fake.messages
                process.send_signal(signal.SIGTERM)
                status = await asyncio.wait_for(process.wait(), 30)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        assert fake.identify_payloads[0]["token"] == TEST_TOKEN
        assert fake.sent("GET", "/users/@me")[0].authorization == f"Bot {TEST_TOKEN}"
        synced = sum(len(commands) for commands in fake.commands.values())
    stdout = (tmp_path / "stdout.txt").read_text(encoding="utf-8", errors="replace")
    stderr = (tmp_path / "stderr.txt").read_text(encoding="utf-8", errors="replace")
    assert status == 0, stderr[-3000:]
    assert synced >= 9, "every command the bot has, synced once"
    assert f"synced {synced} commands" in stderr and "has connected to Gateway" in stderr and "DEBUG" in stderr
    assert TEST_TOKEN not in stdout and TEST_TOKEN not in stderr


def test_the_token_is_redacted_from_tracebacks_in_the_real_logging_pipeline(capsys, restore_logging):
    """Through logging itself: a filter sees no exc_text yet, the formatter writes it; the token must
    not reach the output in the message, the traceback or the stack."""
    bot_main.configure_logging(verbose=False, console=False, token=TEST_TOKEN)
    logger = logging.getLogger("soundalike.test")
    try:
        raise RuntimeError(f"Discord said no to Bot {TEST_TOKEN}")
    except RuntimeError:
        logger.exception("request failed for %s", TEST_TOKEN[:4], stack_info=True)
    logger.error("plain message with %s", TEST_TOKEN)
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: Discord said no to Bot [redacted token]" in err
    assert "plain message with [redacted token]" in err and "Stack (most recent call last)" in err
    assert TEST_TOKEN not in err


def test_a_lost_gateway_connection_is_one_line_not_a_traceback(capsys, restore_logging):
    """discord.py logs each reconnect with logger.exception; the bot keeps it to one line."""
    bot_main.configure_logging(verbose=False, console=False, token=TEST_TOKEN)
    client_log = logging.getLogger("discord.client")
    try:
        raise OSError(104, "Connection reset by peer")
    except OSError:
        client_log.exception("Attempting a reconnect in %.2fs", 2.5)  # discord.client's own call
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0]
    assert (
        "lost the connection to Discord (ConnectionResetError: [Errno 104] Connection reset by peer); "
        "reconnecting in 2 s" in lines[0]
    )


async def test_the_bot_waits_for_discord_and_connects_once_it_answers(
    tmp_path, demo_env, demo_service, caplog, monkeypatch
):
    import dataclasses

    from recommender.service import SoundalikeService

    caplog.set_level(logging.INFO)
    monkeypatch.setattr(SoundalikeService, "open", staticmethod(lambda config: demo_service))
    config = dataclasses.replace(
        demo_env.config, bot=dataclasses.replace(demo_env.config.bot, database=str(tmp_path / "log.sqlite3"))
    )
    async with FakeDiscord() as fake:
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
        monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{refused_port()}/api/v10")  # down
        run = asyncio.create_task(bot_main.run_bot(config, TEST_TOKEN, None, delays=iter([0.2] * 50)))
        try:
            async with asyncio.timeout(WAIT):
                while sum("cannot reach Discord" in r.getMessage() for r in caplog.records) < 2:
                    assert not run.done(), run.exception()
                    await asyncio.sleep(0.05)
            monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)  # Discord is back
            await fake.wait_connected(1, timeout=WAIT)
        finally:
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(run, WAIT)
    warnings = [r for r in caplog.records if "cannot reach Discord" in r.getMessage()]
    assert all(
        r.levelno == logging.WARNING and not r.exc_info and "ClientConnectorError" in r.getMessage() for r in warnings
    )
    assert "trying again in 0 s (attempt 1)" in warnings[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    assert fake.identify_payloads[0]["token"] == TEST_TOKEN


@pytest.mark.slow
def test_python_m_bot_without_discord_says_so_in_one_line_per_attempt_and_keeps_trying(tmp_path, demo_env):
    """The real entry point, with Discord refusing connections on 127.0.0.1: no traceback, no voice
    warning, a line per attempt with the wait growing, and SIGTERM still stops it cleanly."""
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        f'[data]\nroot = "{demo_env.config.data_root}"\n[bot]\ndatabase = "{tmp_path / "log.sqlite3"}"\n',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "DISCORD_TOKEN": TEST_TOKEN,
        "FAKE_DISCORD_PORT": str(refused_port()),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, str(RUN_BOT), "--config", str(config_path)],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while sum("cannot reach Discord" in line for line in lines) < 2:
            assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
            line = process.stderr.readline()
            lines.append(line)
        process.send_signal(signal.SIGTERM)
        status = process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        lines += process.stderr.readlines()
        process.stderr.close()
    err = "".join(lines)
    assert status == 0, err
    assert "Traceback" not in err and "PyNaCl" not in err and "davey" not in err and TEST_TOKEN not in err
    attempts = [line for line in lines if "cannot reach Discord" in line]
    assert "Connect call failed" in attempts[0] and "trying again in 2 s (attempt 1)" in attempts[0]
    assert "trying again in 4 s (attempt 2)" in attempts[1]
    assert len(err.strip().splitlines()) < 15, err


def test_a_mistyped_argument_is_one_error_line_like_every_other(capsys):
    with pytest.raises(SystemExit) as exited:
        bot_main.parse_args(["--bogus"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error: unrecognized arguments: --bogus (see python -m bot --help)\n"


# -- a damaged current model: refused by its checksum, the previous one served --------------


@pytest.mark.parametrize(
    "file_name, damage, problem",
    [
        ("item_factors.npy", truncate, "fails its checksum"),
        ("item_factors.npy", remove, "is missing"),
        ("item_factors.npy", alter_one_byte, "fails its checksum"),
        ("manifest.json", alter_one_byte, "fails its checksum"),
        ("checksums.json", remove, "is missing"),
    ],
)
async def test_the_bot_starts_on_the_previous_model_when_the_current_one_is_damaged(
    tmp_path, demo_env, caplog, file_name, damage, problem
):
    _, config = copy_demo(tmp_path, demo_env)
    store = ModelStore.for_dataset(config.models_dir, "demo")
    assert republish(store) == "v2" and store.current_version() == "v2"
    damage(store.folder / "v2" / file_name)
    caplog.set_level(logging.WARNING)
    service = await asyncio.to_thread(SoundalikeService.open, config)  # as `python -m bot` starts
    assert service.model.version == "v1"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    (line,) = warnings
    assert f"demo/v2: {file_name} {problem}" in line and "serving model demo/v1 instead" in line
    assert "\n" not in line
    async with bot_world(tmp_path, config, service) as world:
        answer = await world.answer_message(await world.soundalike("Hey Ya!"))
    footer = answer["embeds"][0]["footer"]["text"]
    assert "model v1" in footer and "model v2" not in footer
    assert store.current_version() == "v2", "falling back does not move the pointer (an admin decides)"
