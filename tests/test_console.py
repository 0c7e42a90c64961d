"""Console mode: the bot's commands from a pipe or a terminal, on the real demo data."""

from __future__ import annotations

import dataclasses
import io
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from bot_harness import LoopThread
from bot_mocks import FakeService
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.console import CONSOLE_USER_ID, HOW_TO_SET_TOKEN, Console, parse_options, run_console
from bot.limits import ComputePool
from bot.retrain import Retrainer
from recommender.feedback_log import NO_GUILD, FeedbackLog

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def console_config(tmp_path: Path, demo_env) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[data]\nroot = "{demo_env.config.data_root}"\n[bot]\ndatabase = "{tmp_path / "log.sqlite3"}"\n',
        encoding="utf-8",
    )
    return path


def ratings(db: Path) -> list[tuple]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return connection.execute(
            "SELECT q.guild_id, f.user_id, f.position, f.value FROM feedback f JOIN queries q ON q.id = f.query_id"
        ).fetchall()
    finally:
        connection.close()


@pytest.mark.slow
def test_piped_soundalike_and_rating_as_in_the_readme(tmp_path, demo_env):
    """printf '/soundalike Hey Ya!\\n+1\\n' | python -m bot --console"""
    config = console_config(tmp_path, demo_env)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)}  # no DISCORD_TOKEN
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--console", "--config", str(config)],
        input="/soundalike Hey Ya!\n+1\n", capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT, env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Soundalike console") and "export DISCORD_TOKEN=" in done.stdout
    assert "Songs like Hey Ya! — OutKast:\n  1. " in done.stdout
    assert "Noted: 👍 for suggestion 1." in done.stdout
    assert "Traceback" not in done.stderr
    assert ratings(tmp_path / "log.sqlite3") == [(NO_GUILD, CONSOLE_USER_ID, 1, 1)]


async def run_lines(lines: str, demo_env, tmp_path, **kwargs) -> str:
    out = io.StringIO()
    config = dataclasses.replace(
        demo_env.config, bot=dataclasses.replace(demo_env.config.bot, database=str(tmp_path / "log.sqlite3")))
    status = await run_console(config, stdin=io.StringIO(lines), stdout=out, **kwargs)
    assert status == 0
    return out.getvalue()


async def test_ambiguous_title_then_a_number_picks(tmp_path, demo_env, demo_service):
    out = await run_lines("Hello\n2\n-3\n", demo_env, tmp_path, service=demo_service)
    assert "Several songs match “Hello”. Type the number of the one you mean:" in out
    assert "  1. Hello — Adele" in out and "  2. Hello — Lionel Richie" in out
    assert "Songs like Hello — Lionel Richie:" in out and "Noted: 👎 for suggestion 3." in out
    assert ratings(tmp_path / "log.sqlite3") == [(NO_GUILD, CONSOLE_USER_ID, 3, -1)]


async def test_start_banner_says_how_to_set_the_token(tmp_path, demo_env, demo_service):
    out = await run_lines("", demo_env, tmp_path, service=demo_service)
    assert HOW_TO_SET_TOKEN in out and "Type /help" in out


async def test_mistakes_get_a_sentence_and_quit_stops(tmp_path, demo_env, demo_service):
    out = await run_lines(
        "+1\n/nope\nqqqqzzzzxxxx\n/soundalike Hey Ya! count:two\n/soundalike Hey Ya! count:2\n+9\n/quit\nHey Ya!\n",
        demo_env, tmp_path, service=demo_service,
    )
    assert "Nothing to rate yet: ask for songs first" in out
    assert "Unknown command /nope; /help lists the commands." in out
    assert "No song matches “qqqqzzzzxxxx”." in out
    assert "error: count must be a whole number, got 'two'" in out
    assert "There is no suggestion 9 in the last answer (it had 2)." in out
    assert out.count("Songs like Hey Ya!") == 1  # nothing after /quit ran


async def test_stats_model_and_forgetme(tmp_path, demo_env, demo_service):
    out = await run_lines("Hey Ya!\n+\n/stats\n/model\n/forgetme\n/stats\n", demo_env, tmp_path,
                          service=demo_service)
    version = demo_service.model.version
    assert f"model {version}: 1 answered, 👍 1 (100%), 👎 0 (0%)" in out
    assert f"Model {version} (" in out
    assert "Erased 1 questions and 1 ratings." in out
    assert out.rstrip().endswith("No answers logged from the console yet.")


async def test_retrain_from_the_console_reports_progress_and_swaps_the_model(tmp_path, demo_env):
    script = tmp_path / "retrain.py"
    script.write_text(
        "import json\n"
        "print(json.dumps({'stage': 'train', 'progress': 0.5, 'message': 'ALS'}))\n"
        "print(json.dumps({'stage': 'done', 'promoted': True, 'version': 'v2', 'reason': 'better', 'metrics': {}}))\n",
        encoding="utf-8",
    )
    service = FakeService()
    retrainer = Retrainer(demo_env.config, command=[sys.executable, str(script)])
    out = await run_lines("/retrain\n", demo_env, tmp_path, service=service, retrainer=retrainer)
    assert "  retrain: train 50% ALS" in out and "Retrained: now serving model v2. better" in out
    assert ("reload", None) in service.calls


def test_options_use_discords_syntax():
    assert parse_options("Hey Ya! artist:OutKast count:3") == {"title": "Hey Ya!", "artist": "OutKast", "count": "3"}
    assert parse_options("title:Crazy artist: Gnarls Barkley") == {"title": "Crazy", "artist": "Gnarls Barkley"}
    assert parse_options("Re:Stacks") == {"title": "Re:Stacks"}


@pytest.fixture(scope="module")
def console_on_a_loop(tmp_path_factory, demo_env, demo_service):
    runner = LoopThread()
    out = io.StringIO()
    log_context = FeedbackLog.open(tmp_path_factory.mktemp("console-fuzz") / "log.sqlite3")
    feedback_log = runner.run(log_context.__aenter__())
    pool = ComputePool(per_guild=1, max_queue=2, workers=1)
    console = Console(demo_env.config, demo_service, feedback_log, pool, Retrainer(demo_env.config), out)
    try:
        yield runner, console, out
    finally:
        pool.close()
        runner.run(log_context.__aexit__(None, None, None))
        runner.close()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=st.one_of(
    st.text(max_size=300),
    st.sampled_from(["/soundalike", "/soundalike ", "+", "-0", "+1000", "count:", "artist:", "/model nope",
                     "/soundalike @everyone artist:<@1> count:-5", "'; DROP TABLE feedback; --", "x" * 10_000]),
    st.builds(lambda cmd, text: f"{cmd} {text}", st.sampled_from(["/soundalike", "/SOUNDALIKE", "+", "/help"]),
              st.text(max_size=200)),
))
def test_any_console_line_gets_a_reply_and_never_crashes(console_on_a_loop, line):
    runner, console, out = console_on_a_loop
    stripped = line.strip()
    command = stripped[1:].partition(" ")[0].lower() if stripped.startswith("/") else ""
    if command in ("quit", "exit", "q", "retrain"):
        return  # ending the console, or a real training run, is not what this test is about
    before = len(out.getvalue())
    keep_going = runner.run(console.handle(line))
    written = out.getvalue()[before:]
    assert keep_going is True
    assert written.strip() or not line.strip()
    assert "something went wrong" not in written
