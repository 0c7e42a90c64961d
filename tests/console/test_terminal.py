"""Console mode (console/terminal.py): the bot's commands from a pipe or a terminal, on the real demo
data, through the same application object as the bot."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from bot_harness import LoopThread
from bot_mocks import FakeService
from demo_copies import alter_one_byte, copy_demo, republish
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import PROJECT_ROOT

from console.terminal import CONSOLE_USER_ID, HELP, HOW_TO_SET_TOKEN, Console, run_console
from recommender.app.core import Soundalike
from recommender.app.limits import ComputePool
from recommender.app.retrainer import Retrainer
from recommender.feedback.log import NO_GUILD, FeedbackLog
from recommender.service import SoundalikeService
from recommender.store import ModelStore


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
    """printf '/soundalike Hey Ya!\\n+1\\n/more\\n/mix Hey Ya! | Hey Jude novelty:deep\\n' | python -m bot --console"""
    config = console_config(tmp_path, demo_env)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)}  # no DISCORD_TOKEN
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--console", "--config", str(config)],
        input="/soundalike Hey Ya!\n+1\n/more\n/mix Hey Ya! | Hey Jude novelty:deep\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Soundalike console") and "export DISCORD_TOKEN=" in done.stdout
    assert "Songs like Hey Ya! — OutKast:\n  1. " in done.stdout
    assert "Noted: 👍 for suggestion 1." in done.stdout
    assert "Songs like Hey Ya! — OutKast (6–10):\n  6. " in done.stdout
    assert "A mix of Hey Ya! and Hey Jude:\n  1. " in done.stdout and "demo data · deep cuts)" in done.stdout
    assert "Traceback" not in done.stderr
    assert ratings(tmp_path / "log.sqlite3") == [(NO_GUILD, CONSOLE_USER_ID, 1, 1)]


async def run_lines(lines: str, demo_env, tmp_path, **kwargs) -> str:
    out = io.StringIO()
    config = dataclasses.replace(
        demo_env.config, bot=dataclasses.replace(demo_env.config.bot, database=str(tmp_path / "log.sqlite3"))
    )
    status = await run_console(config, stdin=io.StringIO(lines), stdout=out, **kwargs)
    assert status == 0
    return out.getvalue()


async def test_ambiguous_title_then_a_number_picks(tmp_path, demo_env, demo_service):
    out = await run_lines("Hello\n2\n-3\n", demo_env, tmp_path, service=demo_service)
    assert "Several songs match “Hello”. Which one did you mean? Type its number (0: none of these):" in out
    assert "  1. Hello — Adele" in out and "  2. Hello — Lionel Richie" in out and "  0. none of these" in out
    assert "Songs like Hello — Lionel Richie:" in out and "Noted: 👎 for suggestion 3." in out
    assert ratings(tmp_path / "log.sqlite3") == [(NO_GUILD, CONSOLE_USER_ID, 3, -1)]


async def test_a_far_match_is_asked_about_and_0_picks_none(tmp_path, demo_env, demo_service):
    out = await run_lines("everyone\n0\n+1\n", demo_env, tmp_path, service=demo_service)
    assert "No song is called “everyone”. Did you mean one of these?\n" in out
    assert "These are demo data: they know only the 787 songs of the shipped demo catalog." in out
    assert "python -m recommender data download-msd" in out and "import-msd" in out
    assert "  1. Everlong — Foo Fighters" in out and "  0. none of these" in out
    assert "Nothing picked." in out and "Songs like" not in out
    assert "Nothing to rate: your last question got no answer." in out  # nothing was answered
    assert ratings(tmp_path / "log.sqlite3") == []


async def test_an_artist_alone_offers_their_songs_by_number(tmp_path, demo_env, demo_service):
    songs = [c.title for c in demo_service.resolve("Adele").candidates]
    assert "Hello" in songs and "Rolling in the Deep" in songs
    out = await run_lines("Adele\n2\n", demo_env, tmp_path, service=demo_service)
    assert "“Adele” is an artist: which of Adele's songs do you mean? Type its number (0: none of these):" in out
    assert f"  1. {songs[0]} — Adele" in out and f"  2. {songs[1]} — Adele" in out
    assert f"Songs like {songs[1]} — Adele:" in out
    assert "No song matches" not in out and "demo data: they know" not in out


async def test_no_match_says_the_demo_knows_only_its_catalog(tmp_path, demo_env, demo_service):
    out = await run_lines("qqqqzzzzxxxx\n", demo_env, tmp_path, service=demo_service)
    assert "No song matches “qqqqzzzzxxxx”." in out
    assert (
        "\nThese are demo data: they know only the 787 songs of the shipped demo catalog. For about a "
        "million songs, import the Million Song Dataset: python -m recommender data download-msd, then "
        "python -m recommender data import-msd (README, The data)."
    ) in out


async def test_start_banner_says_how_to_set_the_token(tmp_path, demo_env, demo_service):
    out = await run_lines("", demo_env, tmp_path, service=demo_service)
    assert HOW_TO_SET_TOKEN in out and "Type /help" in out


async def test_mistakes_get_a_sentence_and_quit_stops(tmp_path, demo_env, demo_service):
    out = await run_lines(
        "+1\n/nope\nqqqqzzzzxxxx\n/soundalike Hey Ya! count:two\n/soundalike Hey Ya! count:2\n+9\n/quit\nHey Ya!\n",
        demo_env,
        tmp_path,
        service=demo_service,
    )
    assert "Nothing to rate yet: ask for songs first" in out
    assert "Unknown command /nope; /help lists the commands." in out
    assert "No song matches “qqqqzzzzxxxx”." in out
    assert "error: count must be a whole number from 1 to 10, got 'two'" in out
    assert "There is no suggestion 9 in the last answer (it had 2)." in out
    assert out.count("Songs like Hey Ya!") == 1  # nothing after /quit ran


async def test_stats_model_and_forgetme(tmp_path, demo_env, demo_service):
    out = await run_lines("Hey Ya!\n+\n/stats\n/model\n/forgetme\n/stats\n", demo_env, tmp_path, service=demo_service)
    version = demo_service.model.version
    assert f"model {version}: 1 answered, 👍 1 (100%), 👎 0 (0%)" in out
    assert f"Model {version} (" in out
    assert "Erased 1 questions and 1 ratings." in out
    assert out.rstrip().endswith("No answers logged from the console yet.")


async def test_retrain_from_the_console_reports_progress_and_swaps_the_model(tmp_path, demo_env):
    script = tmp_path / "retrain.py"
    script.write_text(
        "import json\n"
        f"print(json.dumps({{'stage': 'feedback', 'progress': 0.1, 'message': 'reading {tmp_path}/log.sqlite3'}}))\n"
        "print(json.dumps({'stage': 'train', 'progress': 0.5, 'message': 'ALS'}))\n"
        "print(json.dumps({'stage': 'done', 'promoted': True, 'version': 'v2', 'reason': 'better', 'metrics': {}}))\n",
        encoding="utf-8",
    )
    service = FakeService()
    retrainer = Retrainer(demo_env.config, command=[sys.executable, str(script)])
    out = await run_lines("/retrain\n", demo_env, tmp_path, service=service, retrainer=retrainer)
    assert "  retrain: train 50% ALS" in out and "Retrained: now serving model v2. better" in out
    assert "  retrain: feedback 10% reading log.sqlite3" in out and str(tmp_path) not in out
    assert ("reload", None) in service.calls


def answers_in(out: str) -> list[list[str]]:
    """Each answer printed, as its list of "Title — Artist" lines, in order."""
    answers, current = [], None
    for line in out.splitlines():
        if line.endswith(":") and (line.startswith(("Songs like ", "A mix of ", "Songs for "))):
            current = []
            answers.append(current)
        elif current is not None and re.match(r"\s+\d+\. ", line):
            current.append(re.sub(r"^\s+\d+\. (.*?)  \d+% match$", r"\1", line))
    return answers


async def test_mix_more_and_novelty_from_a_pipe(tmp_path, demo_env, demo_service):
    out = await run_lines(
        # The knob is compared on Hey Jude: Hey Ya!'s first page is the same five hits at every setting.
        "/mix Hey Ya! | Hello artist:Adele | Hey Jude\n/more\n/soundalike Hey Jude novelty:popular\n"
        "/novelty deep\n/soundalike Hey Jude\n/more\n/mix Hey Ya! | Hey Ya!\n/soundalike Hey Ya! novelty:weird\n",
        demo_env,
        tmp_path,
        service=demo_service,
    )
    assert "A mix of Hey Ya!, Hello and Hey Jude:" in out
    assert "A mix of Hey Ya!, Hello and Hey Jude (6–10):" in out
    mix, mix_more, popular, deep, deep_more = answers_in(out)
    seeds = {"Hey Ya! — OutKast", "Hello — Adele", "Hey Jude — The Beatles"}
    assert len(mix) == len(mix_more) == 5 and not seeds & set(mix + mix_more) and not set(mix) & set(mix_more)
    assert "Novelty: deep cuts" in out and popular != deep and not set(deep) & set(deep_more)

    def listeners(lines):
        return sum(world_song(demo_service, line).listeners for line in lines) / len(lines)

    assert listeners(deep) < listeners(popular)
    assert "error: A mix needs at least two different songs" in out
    assert "error: novelty must be one of popular, balanced, deep, not 'weird'" in out
    logged = queries(tmp_path / "log.sqlite3")
    assert [command for command, _ in logged] == ["mix", "mix", "soundalike", "soundalike", "soundalike"]
    assert logged[1][1]["offset"] == 5 and logged[3][1]["novelty"] == "deep" and logged[2][1]["novelty"] == "popular"


async def test_a_mix_of_more_than_five_songs_is_refused_with_how_many_it_takes(tmp_path, demo_env, demo_service):
    out = await run_lines(
        "/mix Hey Ya! | Hey Jude | Ms. Jackson | Everlong | Lose Yourself | Juicy\n",
        demo_env,
        tmp_path,
        service=demo_service,
    )
    assert "error: A mix takes at most 5 songs, got 6." in out
    assert not answers_in(out) and not queries(tmp_path / "log.sqlite3")


async def test_foryou_dislikes_that_stick_and_blocks_from_a_pipe(tmp_path, demo_env, demo_service):
    out = await run_lines(
        "/foryou\n/soundalike Hey Ya!\n+1\n+2\n+3\n-4\n/foryou 8\n/soundalike Hey Ya!\n-1\n-1\n"
        "/soundalike Hey Ya!\n/block Ms. Jackson\n/soundalike Hey Ya!\n/unblock Ms. Jackson\n/block Hello\n"
        "/unblock Hey Jude\n/soundalike Hey Ya!\n",
        demo_env,
        tmp_path,
        service=demo_service,
    )
    assert "error: You have liked 0 suggestions so far; /foryou needs at least 3." in out
    first, playlist, without_fourth, again, without_blocked, unblocked = answers_in(out)
    assert len(playlist) == 8 and not set(first[:4]) & set(playlist)
    assert first[3] not in without_fourth and len(without_fourth) == 5
    # -1 twice: noted, then taken back, so the next answer is the same.
    assert "Took back your 👎 for suggestion 1: it may be suggested to you again." in out
    assert again == without_fourth and again[0] == "Ms. Jackson — OutKast"
    assert "Blocked Ms. Jackson — OutKast: Soundalike will not suggest it in the console until /unblock." in out
    assert "Ms. Jackson — OutKast" not in without_blocked and len(without_blocked) == 5
    assert "Unblocked Ms. Jackson — OutKast: it may be suggested in the console again." in out
    assert unblocked == without_fourth
    assert "Several songs match “Hello”" in out and "Hey Jude — The Beatles is not blocked in the console." in out


def world_song(service, line: str):
    title, artist = line.rsplit(" — ", 1)
    return service.resolve(title, artist).best


def queries(db: Path) -> list[tuple[str, dict]]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT command, params_json FROM queries ORDER BY id").fetchall()
    finally:
        connection.close()
    return [(command, json.loads(params)) for command, params in rows]


def test_help_lists_every_command():
    for command in (
        "/soundalike",
        "/mix A | B",
        "/foryou",
        "/more",
        "/novelty",
        "/block",
        "/unblock",
        "/stats",
        "novelty:LEVEL",
        "leave_out_artist:yes",
        "per_artist:N",
    ):
        assert command in HELP, command


@pytest.fixture(scope="module")
def console_on_a_loop(tmp_path_factory, demo_env, demo_service):
    runner = LoopThread()
    out = io.StringIO()
    log_context = FeedbackLog.open(tmp_path_factory.mktemp("console-fuzz") / "log.sqlite3")
    feedback_log = runner.run(log_context.__aenter__())
    pool = ComputePool(per_guild=1, max_queue=2, workers=1)
    console = Console(Soundalike(demo_env.config, demo_service, feedback_log, pool, Retrainer(demo_env.config)), out)
    try:
        yield runner, console, out
    finally:
        pool.close()
        runner.run(log_context.__aexit__(None, None, None))
        runner.close()


@settings(max_examples=80)
@given(
    line=st.one_of(
        st.text(max_size=300),
        st.sampled_from(
            [
                "/soundalike",
                "/soundalike ",
                "+",
                "-0",
                "+1000",
                "count:",
                "artist:",
                "/model nope",
                "/soundalike @everyone artist:<@1> count:-5",
                "'; DROP TABLE feedback; --",
                "x" * 10_000,
                "/mix",
                "/mix |",
                "/mix Hey Ya! | Hey Jude",
                "/mix a|b|c|d|e|f",
                "/foryou",
                "/foryou -3",
                "/foryou 2 novelty:deep",
                "/more",
                "/novelty",
                "/novelty sideways",
                "/block",
                "/unblock x",
                "/soundalike Hey Ya! per_artist:-1 leave_out_artist:maybe novelty:",
            ]
        ),
        st.builds(
            lambda cmd, text: f"{cmd} {text}",
            st.sampled_from(
                [
                    "/soundalike",
                    "/SOUNDALIKE",
                    "+",
                    "/help",
                    "/mix",
                    "/foryou",
                    "/novelty",
                    "/block",
                    "/unblock",
                    "/more",
                ]
            ),
            st.text(max_size=200),
        ),
    )
)
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


async def test_more_stops_at_the_last_offered_position(tmp_path, demo_env, demo_service, monkeypatch):
    import console.terminal as console_module

    monkeypatch.setattr(console_module, "MAX_POSITION", 10)
    out = await run_lines("/more\nHey Ya!\n/more\n/more\n", demo_env, tmp_path, service=demo_service)
    assert "Nothing to continue yet: ask for songs first" in out
    assert "Songs like Hey Ya! — OutKast (6–10):" in out
    assert out.rstrip().endswith(
        "That is as far as I go (10 songs). Try novelty “deep cuts” or a /mix for other songs."
    )


# -- what a rating applies to ------------------------------------------------------------------


async def test_after_a_question_with_no_answer_a_rating_has_nothing_to_apply_to(tmp_path, demo_env, demo_service):
    out = await run_lines(
        "Hey Ya!\nqqqqzzzzxxxx\n+1\nHello\n-\n/mix Hey Ya! | qqqqzzzzxxxx\n+2\n",
        demo_env,
        tmp_path,
        service=demo_service,
    )
    assert out.count("Nothing to rate: your last question got no answer.") == 3
    assert ratings(tmp_path / "log.sqlite3") == [], "no rating landed on Hey Ya!'s answer, which was not the last"


async def test_an_answer_the_log_cannot_keep_is_shown_and_never_takes_the_previous_ones_ratings(
    tmp_path, demo_env, demo_service, monkeypatch, caplog
):
    from recommender.feedback.log import FeedbackLog as Log

    real = Log.record_answer
    calls = []

    async def fails_the_second_time(self, **kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed")
        return await real(self, **kwargs)

    monkeypatch.setattr(Log, "record_answer", fails_the_second_time)
    out = await run_lines("Hey Ya!\nHey Jude\n+1\n/more\n+6\n", demo_env, tmp_path, service=demo_service)
    assert "Songs like Hey Jude — The Beatles:" in out, "the answer itself is shown"
    assert "This answer could not be written to the log, so it cannot be rated" in out
    assert "Nothing to rate: the last answer could not be written to the log" in out
    assert "Songs like Hey Jude — The Beatles (6–10):" in out, "/more goes on from the answer shown"
    assert "Noted: 👍 for suggestion 6." in out
    assert "something went wrong" not in out
    assert ratings(tmp_path / "log.sqlite3") == [(NO_GUILD, CONSOLE_USER_ID, 6, 1)]
    assert "an answer was not logged" in caplog.text


async def test_bad_utf8_from_a_terminal_is_answered_logged_and_rated(tmp_path, demo_env, demo_service):
    # What a terminal's invalid UTF-8 becomes on stdin (surrogateescape): lone surrogates.
    typed = b"Hey Ya!\xff".decode("utf-8", "surrogateescape")
    out = await run_lines(f"Hey Jude\n{typed}\n+1\n", demo_env, tmp_path, service=demo_service)
    assert "something went wrong" not in out
    assert "Noted: 👍 for suggestion 1." in out
    connection = sqlite3.connect(f"file:{tmp_path / 'log.sqlite3'}?mode=ro", uri=True)
    try:
        rated = connection.execute(
            "SELECT q.typed_title FROM feedback f JOIN queries q ON q.id = f.query_id"
        ).fetchall()
    finally:
        connection.close()
    assert rated == [("Hey Ya!\ufffd",)], "the rating is on the answer to what was typed last"


# -- nothing typed is silently ignored --------------------------------------------------------


@pytest.mark.parametrize(
    "line, says",
    [
        (
            "/soundalike Hey Ya! novelt:deep",
            "error: unknown option novelt: (did you mean novelty:?). /soundalike takes "
            "artist:, count:, novelty:, leave_out_artist: and per_artist:",
        ),
        ("Hey Ya! bogus:1", "error: unknown option bogus:. /soundalike takes artist:, count:"),
        ("/soundalike Hey Ya! count:0", "error: count takes a whole number from 1 to 10, not 0"),
        ("/soundalike Hey Ya! count:100", "error: count takes a whole number from 1 to 10, not 100"),
        ("/soundalike Hey Ya! per_artist:-1", "error: per_artist takes a whole number from 0 (no limit) to 25, not -1"),
        ("/soundalike Hey Ya! per_artist:26", "error: per_artist takes a whole number from 0 (no limit) to 25, not 26"),
        ("/soundalike Hey Ya! count:3 count:4", "error: count: is given twice; give it once"),
        ("/soundalike Hey Ya! novelty:", "error: novelty: needs a value: popular, balanced or deep"),
        ("/soundalike Hey Ya! artist:", "error: artist: needs a name"),
        (
            "/mix Hey Ya! | Hey Jude per_artist:1",
            "error: /mix has no per_artist: option; /mix takes count: and novelty:",
        ),
        ("/mix Hey Ya! count:3 | Hey Jude count:4", "error: count: is given twice"),
        ("/mix Hey Ya! | Hey Jude count:50", "error: count takes a whole number from 1 to 10, not 50"),
        ("/foryou -3", "error: count takes a whole number from 1 to 10, not -3"),
        ("/foryou 3 artist:OutKast", "error: /foryou has no artist: option; /foryou takes count: and novelty:"),
        ("/block Hey Ya! count:2", "error: /block has no count: option"),
    ],
)
async def test_an_unknown_option_or_a_value_out_of_range_is_one_line_saying_what_is_accepted(
    tmp_path, demo_env, demo_service, line, says
):
    out = await run_lines(line + "\n", demo_env, tmp_path, service=demo_service)
    replies = out.split("Type /help for the commands.\n", 1)[1].splitlines()
    assert len(replies) == 1 and replies[0].startswith(says)
    assert not answers_in(out) and not queries(tmp_path / "log.sqlite3")  # nothing was answered or logged


async def test_values_inside_the_range_are_served_as_given(tmp_path, demo_env, demo_service):
    out = await run_lines(
        "/soundalike Hey Ya! count:10 per_artist:1\n/foryou 1 count:1\n", demo_env, tmp_path, service=demo_service
    )
    (answer,) = answers_in(out)
    assert len(answer) == 10 and len({line.rsplit(" — ", 1)[1] for line in answer}) == 10  # one per artist
    assert "error: count: is given twice (/foryou 3 means count:3); give it once" in out


async def test_an_artist_that_matches_none_of_the_songs_is_said_and_nothing_is_picked_for_the_member(
    tmp_path, demo_env, demo_service
):
    out = await run_lines(
        "/soundalike Hey Ya! artist:Beyonce\n1\n/mix Hey Ya! artist:Beyonce | Hey Jude\n"
        "/block Hey Ya! artist:Beyonce\n",
        demo_env,
        tmp_path,
        service=demo_service,
    )
    assert (
        "No song by “Beyonce” matches “Hey Ya!”.\nSongs by other artists with that title; type the number "
        "of one to use it:\n  1. Hey Ya! — OutKast" in out
    )
    # The one answer is the member's own pick (1): the artist was not dropped behind their back.
    assert len(answers_in(out)) == 1 and out.count("Songs like Hey Ya! — OutKast:") == 1
    assert out.index("No song by") < out.index("Songs like Hey Ya!")
    assert "error: No song by “Beyonce” matches “Hey Ya!”. By other artists: Hey Ya! — OutKast" in out
    assert out.rstrip().endswith("error: No song by “Beyonce” matches “Hey Ya!”.")  # /block blocked nothing
    assert [command for command, _ in queries(tmp_path / "log.sqlite3")] == ["soundalike"]


async def test_the_configured_novelty_and_default_count_reach_the_console(tmp_path, demo_env, demo_service):
    config = dataclasses.replace(
        demo_env.config, serving=dataclasses.replace(demo_env.config.serving, novelty="deep", default_count=3)
    )
    out = io.StringIO()
    config = dataclasses.replace(config, bot=dataclasses.replace(config.bot, database=str(tmp_path / "log.sqlite3")))
    await run_console(config, stdin=io.StringIO("/novelty\nHey Ya!\n"), stdout=out, service=demo_service)
    assert "Novelty: deep cuts" in out.getvalue()
    (answer,) = answers_in(out.getvalue())
    assert len(answer) == 3 and "demo data · deep cuts)" in out.getvalue()
    assert queries(tmp_path / "log.sqlite3")[0][1]["novelty"] == "deep"


async def test_more_ends_where_the_list_ends_and_says_so(tmp_path, demo_env, demo_service):
    from recommender.service import END_OF_LIST

    out = await run_lines("Hey Ya! count:10\n" + "/more\n" * 25, demo_env, tmp_path, service=demo_service)
    assert not re.search(r"\s[0-4]% match", out), "nothing below the match floor"
    assert out.count(END_OF_LIST) == 1
    last_page = out[out.index(END_OF_LIST) :]
    assert "Rate with +N / -N (e.g. +1), or + / - for the whole list.\n" in last_page
    assert "/more for the next ones" not in last_page
    assert last_page.rstrip().endswith("That was all: there are no more suggestions for this.")
    assert "That is as far as I go" not in out
    pages = re.findall(r"Songs like Hey Ya! — OutKast(?: \((\d+)–(\d+)\))?:", out)
    assert len(pages) < 26 and pages[-1][0] == str(10 * (len(pages) - 1) + 1)


# -- the model on disk: a damaged current one, and rollback as a history ------------------------


async def console_says(config, lines: str, service=None) -> str:
    out = io.StringIO()
    assert await run_console(config, stdin=io.StringIO(lines), stdout=out, service=service) == 0
    return out.getvalue()


async def test_a_damaged_current_v1_serves_a_good_v2_and_the_console_answers(tmp_path, demo_env, caplog):
    _, config = copy_demo(tmp_path, demo_env)
    store = ModelStore.for_dataset(config.models_dir, "demo")
    assert republish(store) == "v2"
    assert store.rollback() == "v1"  # an admin went back to v1 ...
    alter_one_byte(store.folder / "v1" / "item_factors.npy")  # ... and then v1 was damaged
    caplog.set_level(logging.WARNING)
    out = await console_says(config, "Hey Ya!\n/model\n")
    assert "Serving the demo data with model v2." in out and "(model v2, demo data)" in out
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "demo/v1: item_factors.npy fails its checksum" in line and "serving model demo/v2 instead" in line


async def test_console_rollback_goes_back_along_what_was_served(tmp_path, demo_env):
    _, config = copy_demo(tmp_path, demo_env)
    store = ModelStore.for_dataset(config.models_dir, "demo")
    assert republish(store) == "v2" and republish(store) == "v3"
    service = await asyncio.to_thread(SoundalikeService.open, config)
    out = await console_says(config, "/model rollback\n", service)
    assert "Rolled back: now serving model v2 (was v3)." in out
    assert republish(store) == "v4" and service.reload() == "v4"  # a retrain after the rollback
    out = await console_says(config, "/model rollback\n/model rollback\n/model rollback\nHey Ya!\n", service)
    assert "Rolled back: now serving model v2 (was v4)." in out, "v3 was rolled back from: not gone back to"
    assert "Rolled back: now serving model v1 (was v2)." in out
    assert "error: no good version of 'demo' was served before v1, so there is nothing to roll back to" in out
    assert "(model v1, demo data)" in out and store.current_version() == "v1"
