"""FeedbackLog: round trips, rating semantics, concurrency, forgetting a member, write errors
that name the file, and SQL that is never built from values. Tests taking ``log``/``db_path``
run on SQLite and on a real PostgreSQL server (see conftest.py)."""

from __future__ import annotations

import ast
import asyncio
import json
import random
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from feedback_logs import (
    ALICE,
    ASKER,
    BOB,
    DOWN,
    GUILD,
    OTHER_GUILD,
    UP,
    answer,
    rows,
    schema_version,
    set_schema_version,
    table_rows,
)
from paths import HELPERS
from postgres_server import free_port

from recommender.errors import SoundalikeError
from recommender.feedback import schema as feedback_schema
from recommender.feedback.errors import FeedbackLogError, LogWriteError
from recommender.feedback.log import (
    NO_GUILD,
    FeedbackDay,
    FeedbackLog,
    LoggedSuggestion,
    RatingOutcome,
    TopQuery,
    VersionStats,
)
from recommender.feedback.offline import online_rates, read_positive_feedback
from recommender.feedback.schema import CURRENT_SCHEMA_VERSION

# -- opening -------------------------------------------------------------------------------


async def test_open_creates_a_durable_wal_database(sqlite_log: FeedbackLog, sqlite_path: Path):
    with closing(sqlite3.connect(sqlite_path)) as connection, connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA user_version").fetchone() == (CURRENT_SCHEMA_VERSION,)
    # Per-connection settings of the writer: FULL (2) fsyncs the WAL at every commit.
    for setting, expected in (("synchronous", 2), ("foreign_keys", 1), ("busy_timeout", 5000)):
        found = await sqlite_log._backend.writer.execute_fetchall(f"PRAGMA {setting}")
        assert [tuple(row) for row in found] == [(expected,)], setting


async def test_postgres_commits_are_durable_whatever_the_server_default(postgres_server):
    # The URL asks for synchronous_commit = off (as a server's default could): the log's own
    # connections still wait for the WAL flush at every commit.
    url = postgres_server.fresh_url() + "&synchronous_commit=off"
    async with FeedbackLog.open(url) as log:
        assert log.location == url and log.path is None
        async with log._backend.write("check a setting") as db:
            assert (await db.fetch("SHOW synchronous_commit"))[0][0] == "on"
        async with log._backend.read() as db:
            assert (await db.fetch("SHOW transaction_isolation"))[0][0] == "repeatable read"
            assert (await db.fetch("SHOW transaction_read_only"))[0][0] == "on"
    assert schema_version(url) == CURRENT_SCHEMA_VERSION


async def test_an_unreachable_or_missing_postgres_database_is_a_clear_error(postgres_server):
    closed_port = free_port()  # nothing listens there
    url = f"postgresql://soundalike:hunter2@127.0.0.1:{closed_port}/soundalike"
    with pytest.raises(LogWriteError, match="could not connect to the server") as caught:
        async with FeedbackLog.open(url):
            pass
    assert f"postgresql://soundalike:***@127.0.0.1:{closed_port}/soundalike" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    missing = f"postgresql://soundalike@127.0.0.1:{postgres_server.port}/no_such_db"
    with pytest.raises(LogWriteError, match="the database does not exist") as caught:
        async with FeedbackLog.open(missing):
            pass
    assert missing in str(caught.value)


async def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "notes.sqlite3"
    path.write_text("these are not the rows you are looking for\n" * 100)
    with pytest.raises(LogWriteError, match=re.escape(str(path))) as caught:
        async with FeedbackLog.open(path):
            pass
    assert "not a SQLite database" in str(caught.value)


async def test_a_log_from_a_newer_soundalike_is_refused(db_path: Path | str):
    async with FeedbackLog.open(db_path):
        pass
    set_schema_version(db_path, 99)
    with pytest.raises(FeedbackLogError, match="newer Soundalike") as caught:
        async with FeedbackLog.open(db_path):
            pass
    assert str(db_path) in str(caught.value)


# -- answers ---------------------------------------------------------------------------------


async def test_record_answer_round_trips_through_query_for_message(log: FeedbackLog):
    query_id = await log.record_answer(
        guild_id=GUILD,
        channel_id=42,
        user_id=ASKER,
        command="mix",
        typed_title="Hey Ya!",
        typed_artist="OutKast",
        resolved_item_id="song-1",
        model_version="2024-05-01T10-00-00",
        latency_ms=31.25,
        params={"novelty": "deep", "count": 2},
        suggestions=[(2, "song-9", 0.5), (1, "song-7", 0.75)],
        message_id=7001,
    )
    logged = await log.query_for_message(7001)
    assert logged is not None
    assert logged.id == query_id
    assert (logged.guild_id, logged.channel_id, logged.user_id) == (GUILD, 42, ASKER)
    assert (logged.command, logged.typed_title, logged.typed_artist) == ("mix", "Hey Ya!", "OutKast")
    assert (logged.resolved_item_id, logged.model_version) == ("song-1", "2024-05-01T10-00-00")
    assert logged.latency_ms == 31.25
    assert logged.message_id == 7001
    assert logged.params == {"novelty": "deep", "count": 2}
    assert logged.created_at.startswith("2024-05-01T12:00:00")
    assert logged.suggestions == (
        LoggedSuggestion(1, "song-7", 0.75),
        LoggedSuggestion(2, "song-9", 0.5),
    )
    assert await log.query_for_message(7002) is None


async def test_an_answer_with_only_the_required_fields_round_trips(log: FeedbackLog):
    unshown = await log.record_answer(guild_id=NO_GUILD, user_id=ASKER, command="similar")
    assert await log.query_for_message(8000) is None  # an answer without a message is not found by one
    shown = await log.record_answer(
        guild_id=NO_GUILD,
        user_id=ASKER,
        command="similar",
        suggestions=[(1, "x", None), (2, "y", 0.25)],
        message_id=8000,
    )
    logged = await log.query_for_message(8000)
    assert logged.id == shown != unshown
    assert logged.guild_id == NO_GUILD
    assert logged.params == {}
    assert (logged.channel_id, logged.typed_title, logged.model_version, logged.latency_ms) == (None,) * 4
    assert logged.suggestions == (LoggedSuggestion(1, "x", None), LoggedSuggestion(2, "y", 0.25))


async def test_nothing_lands_on_an_answer_that_is_gone(log: FeedbackLog, db_path):
    query_id = await answer(log, 8000, user=BOB)
    await log.forget_user(BOB)
    assert await log.record_feedback(8000, ALICE, UP) is False
    assert await log.record_feedback(None, ALICE, UP, position=1, query_id=query_id) is False
    assert await log.retract_feedback(8000, ALICE, UP) is False
    rows = table_rows(db_path)
    assert rows["queries"] == rows["suggestions"] == rows["feedback"] == []


async def test_a_message_moves_to_the_answer_it_now_shows(log: FeedbackLog):
    first = await answer(log, 8100, ("a", "b"))
    await log.record_feedback(8100, ALICE, UP, position=1)
    second = await answer(log, 8100, ("c", "d"))  # the bot edited the message to show this answer
    assert (await log.query_for_message(8100)).id == second
    # New ratings go to the answer shown now; the old rating can still be withdrawn.
    await log.record_feedback(8100, ALICE, UP, position=1)
    assert await log.liked_items(GUILD, ALICE) == ["c", "a"]
    assert await log.retract_feedback(8100, ALICE, UP, position=1) is True
    assert await log.liked_items(GUILD, ALICE) == []
    # It moves as often as the message is edited.
    third = await answer(log, 8100, ("e",))
    assert (await log.query_for_message(8100)).id == third
    assert first != second != third


async def test_duplicate_positions_are_refused_before_writing(log: FeedbackLog, db_path):
    with pytest.raises(ValueError, match="position 1 appears twice"):
        await log.record_answer(
            guild_id=GUILD, user_id=ASKER, command="similar", suggestions=[(1, "a", 0.5), (1, "b", 0.4)]
        )
    assert table_rows(db_path)["queries"] == []


# -- ratings ---------------------------------------------------------------------------------


async def test_feedback_lands_only_on_our_messages_and_shown_positions(log: FeedbackLog, db_path):
    query_id = await answer(log, 9000)
    assert await log.record_feedback(9001, ALICE, UP) is False  # not one of ours
    assert await log.record_feedback(9000, ALICE, UP, position=4) is False  # only 1..3 shown
    assert table_rows(db_path)["feedback"] == []
    assert await log.record_feedback(9000, ALICE, UP, position=2) is True
    assert await log.record_feedback(None, BOB, DOWN, query_id=query_id) is True
    rows = {row[1:6] for row in table_rows(db_path)["feedback"]}
    assert rows == {(query_id, 9000, ALICE, 2, UP), (query_id, 9000, BOB, None, DOWN)}


async def test_bad_rating_arguments_are_refused(log: FeedbackLog):
    await answer(log, 9000)
    with pytest.raises(ValueError, match="rating is"):
        await log.record_feedback(9000, ALICE, 2)
    with pytest.raises(ValueError, match="rating is"):
        await log.record_feedback(9000, ALICE, True)
    with pytest.raises(ValueError, match="exactly one"):
        await log.record_feedback(9000, ALICE, UP, query_id=1)
    with pytest.raises(ValueError, match="exactly one"):
        await log.retract_feedback(None, ALICE, UP)


async def test_rerating_replaces_and_retracting_restores_the_standing_rating(log: FeedbackLog):
    await answer(log, 9000, ("a", "b", "c"))
    await log.record_feedback(9000, ALICE, UP, position=1)
    assert await log.liked_items(GUILD, ALICE) == ["a"]
    await log.record_feedback(9000, ALICE, DOWN, position=1)  # re-rate: 👎 replaces 👍
    assert await log.liked_items(GUILD, ALICE) == []
    assert await log.disliked_items(GUILD, ALICE) == {"a"}
    # Removing the 👎 reaction leaves the 👍 reaction, still on the message, in force.
    assert await log.retract_feedback(9000, ALICE, DOWN, position=1) is True
    assert await log.liked_items(GUILD, ALICE) == ["a"]
    assert await log.disliked_items(GUILD, ALICE) == set()
    assert await log.retract_feedback(9000, ALICE, UP, position=1) is True
    assert await log.liked_items(GUILD, ALICE) == []
    assert await log.retract_feedback(9000, ALICE, UP, position=1) is False  # nothing left


async def test_whole_message_thumbs_up_likes_every_song_not_rated_one_by_one(log: FeedbackLog):
    await answer(log, 9000, ("a", "b", "c"))
    await log.record_feedback(9000, ALICE, DOWN, position=2)
    await log.record_feedback(9000, ALICE, UP)  # whole message
    assert await log.liked_items(GUILD, ALICE) == ["a", "c"]
    assert await log.disliked_items(GUILD, ALICE) == {"b"}
    # A whole-message 👎 says the list was bad, not which song: it touches no song.
    await log.record_feedback(9000, BOB, DOWN)
    assert await log.disliked_items(GUILD, BOB) == set()
    assert await log.liked_items(GUILD, BOB) == []


async def test_the_newest_rating_touching_a_song_decides(log: FeedbackLog, clock):
    await answer(log, 9000, ("a", "b"), seed="seed-1")
    await answer(log, 9001, ("b", "c"), seed="seed-2")
    await log.record_feedback(9000, ALICE, DOWN, position=2)  # b disliked for seed-1
    assert await log.disliked_items(GUILD, ALICE) == {"b"}
    await log.record_feedback(9001, ALICE, UP, position=1)  # later, b liked for seed-2
    assert await log.liked_items(GUILD, ALICE) == ["b"]
    assert await log.disliked_items(GUILD, ALICE) == set()
    # For seed-1 alone the 👎 is still the newest word on b.
    assert await log.disliked_items(GUILD, ALICE, seed_item_id="seed-1") == {"b"}
    assert await log.disliked_items(GUILD, ALICE, seed_item_id="seed-2") == set()


async def test_a_press_on_a_suggestion_records_or_takes_back_its_rating(log: FeedbackLog):
    await answer(log, 9000, ("a", "b"))
    await answer(log, 9001, ("a",))
    await answer(log, 9100, ("a",), guild=OTHER_GUILD)

    async def press(message_id: int, value: int, position: int = 1, item_id: str | None = "a") -> RatingOutcome:
        return await log.rate_or_take_back(
            guild_id=OTHER_GUILD if message_id == 9100 else GUILD,
            user_id=ALICE,
            value=value,
            position=position,
            item_id=item_id,
            message_id=message_id,
        )

    assert await press(9000, DOWN) is RatingOutcome.RECORDED
    assert await log.disliked_items(GUILD, ALICE) == {"a"}
    # Disliked, but not on this answer: nothing to take back here, so the press is recorded.
    assert await press(9001, DOWN) is RatingOutcome.RECORDED
    assert await press(9001, DOWN) is RatingOutcome.TAKEN_BACK
    assert await log.disliked_items(GUILD, ALICE) == {"a"}  # the first answer's 👎 still stands
    assert await press(9000, UP) is RatingOutcome.RECORDED  # a re-rate replaces
    assert (await log.liked_items(GUILD, ALICE), await log.disliked_items(GUILD, ALICE)) == (["a"], set())
    # Taking the 👍 back withdraws only that rating: the 👎 under it stands again.
    assert await press(9000, UP) is RatingOutcome.TAKEN_BACK
    assert (await log.liked_items(GUILD, ALICE), await log.disliked_items(GUILD, ALICE)) == ([], {"a"})
    # Verdicts are per guild, and a press that does not say which song it shows always records.
    assert await press(9100, DOWN) is RatingOutcome.RECORDED
    assert await press(9000, DOWN, item_id=None) is RatingOutcome.RECORDED
    assert await log.disliked_items(GUILD, ALICE) == {"a"}
    # Not ours, or not shown: nothing is written.
    assert await press(9999, UP) is RatingOutcome.NOT_FOUND
    assert await press(9000, UP, position=3) is RatingOutcome.NOT_FOUND
    assert await log.liked_items(GUILD, ALICE) == []
    with pytest.raises(ValueError, match="rating is"):
        await press(9000, 0)
    with pytest.raises(ValueError, match="exactly one"):
        await log.rate_or_take_back(guild_id=GUILD, user_id=ALICE, value=UP, position=1, item_id="a")


async def test_liked_items_are_newest_first_and_scoped_to_guild_and_member(log: FeedbackLog):
    await answer(log, 9000, ("a", "b", "c"))
    await answer(log, 9100, ("z",), guild=OTHER_GUILD)
    await log.record_feedback(9000, ALICE, UP, position=3)
    await log.record_feedback(9000, ALICE, UP, position=1)
    await log.record_feedback(9000, BOB, UP, position=2)
    await log.record_feedback(9100, ALICE, UP, position=1)
    assert await log.liked_items(GUILD, ALICE) == ["a", "c"]
    assert await log.liked_items(GUILD, BOB) == ["b"]
    assert await log.liked_items(OTHER_GUILD, ALICE) == ["z"]
    assert await log.liked_items(OTHER_GUILD, BOB) == []


def reference_verdicts(answers, ratings, guild, user, seed=None):
    """The documented rules, in plain Python: song -> (value, rating id, position) of the
    newest rating touching it, for one member in one guild (every guild for None) and one
    seed when given. ``ratings`` lists every rating in the order the log got them."""
    current = {}
    for rating_id, (query_id, member, position, value, retracted) in enumerate(ratings, 1):
        if not retracted:
            current[(query_id, member, position)] = (rating_id, value)
    chosen = {}  # (query_id, position) -> (one_by_one, rating_id, value, item)
    for (query_id, member, position), (rating_id, value) in current.items():
        answer_guild, answer_seed, items = answers[query_id]
        if member != user or guild not in (None, answer_guild) or seed not in (None, answer_seed):
            continue
        if position is not None:
            chosen[(query_id, position)] = (1, rating_id, value, items[position])
        elif value == UP:
            for shown, item in items.items():
                if chosen.get((query_id, shown), (0,))[0] == 0:
                    chosen[(query_id, shown)] = (0, rating_id, value, item)
    newest = {}
    for (_query_id, position), (_, rating_id, value, item) in chosen.items():
        if item not in newest or rating_id > newest[item][1]:
            newest[item] = (value, rating_id, position)
    return newest


async def test_ratings_agree_with_the_documented_rules_on_random_histories(log, db_path):
    shuffle = random.Random(20240501)
    members = [ALICE, BOB, ASKER]
    answers, ratings = {}, []  # mirrors of what the log was told
    message_of = {}
    for scenario in range(25):
        guild = 1_000 + scenario
        in_guild = []
        for step in range(40):
            action = shuffle.random()
            if action < 0.2 or not in_guild:
                items = shuffle.sample("abcdefgh", shuffle.randint(1, 4))
                seed = shuffle.choice(["s1", "s2"])
                message_id = guild * 100 + step
                query_id = await answer(log, message_id, items, guild=guild, seed=seed)
                answers[query_id] = (guild, seed, dict(enumerate(items, 1)))
                message_of[query_id] = message_id
                in_guild.append(query_id)
                continue
            query_id = shuffle.choice(in_guild)
            member = shuffle.choice(members)
            positions = [None, *answers[query_id][2]]
            position = shuffle.choice(positions)
            value = shuffle.choice([UP, DOWN])
            if action < 0.8:
                assert await log.record_feedback(message_of[query_id], member, value, position)
                ratings.append([query_id, member, position, value, False])
            else:
                await log.retract_feedback(message_of[query_id], member, value, position)
                for rating in ratings:
                    if rating[:4] == [query_id, member, position, value]:
                        rating[4] = True
        for member in members:
            expected = reference_verdicts(answers, ratings, guild, member)
            liked = sorted(
                (item for item, (value, _, _) in expected.items() if value == UP),
                key=lambda item: (-expected[item][1], expected[item][2]),
            )
            assert await log.liked_items(guild, member) == liked, f"scenario {scenario}"
            disliked = {item for item, (value, _, _) in expected.items() if value == DOWN}
            assert await log.disliked_items(guild, member) == disliked, f"scenario {scenario}"
            for seed in ("s1", "s2"):
                by_seed = reference_verdicts(answers, ratings, guild, member, seed)
                assert await log.disliked_items(guild, member, seed) == {
                    item for item, (value, _, _) in by_seed.items() if value == DOWN
                }, f"scenario {scenario}, seed {seed}"
    # The retrain feed: the same rules over every guild, one listener per member.
    assert read_positive_feedback(db_path) == sorted(
        (f"discord:{member}", item)
        for member in members
        for item, (value, _, _) in reference_verdicts(answers, ratings, None, member).items()
        if value == UP
    )


# -- blocks ----------------------------------------------------------------------------------


async def test_blocks_are_per_guild(log: FeedbackLog):
    assert await log.block(GUILD, "a", by=ALICE) is True
    assert await log.block(GUILD, "a", by=BOB) is False  # already blocked
    assert await log.block(GUILD, "b", by=ALICE) is True
    assert await log.blocked_items(GUILD) == {"a", "b"}
    assert await log.blocked_items(OTHER_GUILD) == set()
    assert await log.unblock(GUILD, "a") is True
    assert await log.unblock(GUILD, "a") is False
    assert await log.blocked_items(GUILD) == {"b"}


# -- reports ---------------------------------------------------------------------------------


async def test_stats_count_answers_and_current_ratings_per_version(log: FeedbackLog, db_path):
    await answer(log, 1, version="v1")
    await answer(log, 2, version="v1")
    await answer(log, 3, version="v2")
    await answer(log, 4, version="v2", guild=OTHER_GUILD)
    await log.record_answer(guild_id=GUILD, user_id=ASKER, command="similar", model_version="v2")  # nothing shown
    await log.record_feedback(1, ALICE, UP)
    await log.record_feedback(1, BOB, UP, position=1)
    await log.record_feedback(2, ALICE, DOWN, position=2)
    await log.record_feedback(3, ALICE, UP)
    await log.record_feedback(3, BOB, DOWN)
    await log.retract_feedback(3, BOB, DOWN)
    await log.record_feedback(4, ALICE, DOWN)
    assert await log.stats(GUILD) == [VersionStats("v1", 2, 2, 1), VersionStats("v2", 1, 1, 0)]
    assert await log.stats() == [VersionStats("v1", 2, 2, 1), VersionStats("v2", 2, 1, 1)]
    assert (await log.stats())[0].up_rate == pytest.approx(2 / 3)
    assert VersionStats("v3", 4, 0, 0).up_rate == 0.0
    assert online_rates(db_path) == {
        "v1": {"answers": 2, "up": 2, "down": 1, "up_rate": pytest.approx(2 / 3)},
        "v2": {"answers": 2, "up": 1, "down": 1, "up_rate": 0.5},
    }


async def test_top_queries(log: FeedbackLog):
    await answer(log, 1, seed="hey-ya", title="hey ya")
    await answer(log, 2, seed="toxic", title="Toxic")
    await answer(log, 3, seed="hey-ya", title="Hey Ya!")
    await answer(log, 4, seed="toxic", guild=OTHER_GUILD)
    await answer(log, 5, seed=None, title="no such song")
    assert await log.top_queries(GUILD, limit=5) == [
        TopQuery("hey-ya", "Hey Ya!", None, 2),
        TopQuery("toxic", "Toxic", None, 1),
    ]
    assert await log.top_queries(limit=1) == [TopQuery("toxic", "Hey Ya!", None, 2)]
    with pytest.raises(ValueError, match="limit"):
        await log.top_queries(GUILD, limit=0)


async def test_feedback_over_time_groups_by_day_and_version(log: FeedbackLog, clock):
    await answer(log, 1, version="v1")
    await answer(log, 2, version="v2")
    await log.record_feedback(1, ALICE, UP)
    await log.record_feedback(1, BOB, DOWN)
    clock.advance(days=1)
    await log.record_feedback(2, ALICE, UP)
    await log.record_feedback(2, BOB, UP, position=1)
    await log.record_feedback(1, ASKER, UP, position=3)
    await log.record_feedback(2, ASKER, DOWN)
    await log.retract_feedback(2, ASKER, DOWN)
    assert await log.feedback_over_time(GUILD) == [
        FeedbackDay("2024-05-01", "v1", 1, 1),
        FeedbackDay("2024-05-02", "v1", 1, 0),
        FeedbackDay("2024-05-02", "v2", 2, 0),
    ]
    assert await log.feedback_over_time(OTHER_GUILD) == []
    await answer(log, 3, version="v2", guild=OTHER_GUILD)
    await log.record_feedback(3, BOB, DOWN)
    assert await log.feedback_over_time(OTHER_GUILD) == [FeedbackDay("2024-05-02", "v2", 0, 1)]
    assert await log.feedback_over_time() == [
        FeedbackDay("2024-05-01", "v1", 1, 1),
        FeedbackDay("2024-05-02", "v1", 1, 0),
        FeedbackDay("2024-05-02", "v2", 2, 1),
    ]


# -- concurrency -----------------------------------------------------------------------------


async def test_concurrent_writes_land_in_the_right_rows(log: FeedbackLog, db_path: Path):
    messages = [10_000 + index for index in range(20)]
    query_of = {}
    for index, message_id in enumerate(messages):
        query_of[message_id] = await answer(log, message_id, [f"s{index}-{p}" for p in range(5)])
    shuffle = random.Random(7)
    expected_feedback = set()
    expected_answers = {}

    async def rate(number: int) -> bool:
        message_id = messages[number % len(messages)]
        member = 50_000 + number
        position = number % 6 or None  # 0 -> whole message, else suggestion 1..5
        value = UP if number % 3 else DOWN
        expected_feedback.add((query_of[message_id], message_id, member, position, value))
        for _ in range(shuffle.randrange(4)):
            await asyncio.sleep(0)  # let other writers get ahead
        return await log.record_feedback(message_id, member, value, position)

    async def ask(number: int) -> int:
        for _ in range(shuffle.randrange(4)):
            await asyncio.sleep(0)
        items = [f"new{number}-{p}" for p in range(3)]
        query_id = await answer(log, 20_000 + number, items, user=60_000 + number)
        expected_answers[query_id] = (20_000 + number, 60_000 + number, items)
        return query_id

    async def read(number: int) -> list[str]:
        await asyncio.sleep(0)
        return await log.liked_items(GUILD, 50_000 + number)

    results = await asyncio.wait_for(
        asyncio.gather(
            *(rate(number) for number in range(200)),
            *(ask(number) for number in range(20)),
            *(read(number) for number in range(20)),
        ),
        timeout=60,
    )
    assert all(results[:200])
    rows = table_rows(db_path)
    assert {row[1:6] for row in rows["feedback"]} == expected_feedback
    assert len(rows["feedback"]) == 200
    for query_id, (message_id, member, items) in expected_answers.items():
        logged = await log.query_for_message(message_id)
        assert (logged.id, logged.user_id) == (query_id, member)
        assert [suggestion.item_id for suggestion in logged.suggestions] == items


# -- forgetting a member ---------------------------------------------------------------------


async def test_forget_user_removes_everything_about_them_and_nothing_else(log, db_path: Path):
    secret_title = "Alice's very own search 7f3c"
    alice_query = await answer(log, 1, ("a", "b"), user=ALICE, title=secret_title)
    bob_query = await answer(log, 2, ("c", "d"), user=BOB)
    await log.record_feedback(2, ALICE, UP, position=1)  # Alice on Bob's answer
    await log.record_feedback(1, BOB, UP)  # Bob on Alice's answer
    await log.record_feedback(2, BOB, DOWN, position=2)
    await log.record_feedback(2, ASKER, UP)
    await log.block(GUILD, "zz", by=ALICE)
    await log.block(GUILD, "yy", by=BOB)
    assert await log.claim_turn(GUILD, ALICE, 60) == 0.0  # her cooldown names her too
    assert await log.claim_turn(GUILD, BOB, 60) == 0.0
    before = table_rows(db_path)

    counts = await log.forget_user(ALICE)

    assert counts == {
        "feedback": 1,
        "feedback_on_their_answers": 1,
        "suggestions": 2,
        "queries": 1,
        "blocks_unnamed": 1,
        "linked_accounts": 0,
        "turns": 1,
    }
    after = table_rows(db_path)
    assert after["queries"] == [row for row in before["queries"] if row[0] != alice_query]
    assert after["suggestions"] == [row for row in before["suggestions"] if row[0] != alice_query]
    assert after["feedback"] == [row for row in before["feedback"] if row[3] != ALICE and row[1] != alice_query]
    assert {row[1] for row in after["feedback"]} == {bob_query}
    assert sorted(row[:3] for row in after["blocks"]) == [(GUILD, "yy", BOB), (GUILD, "zz", None)]
    assert await log.query_for_message(1) is None
    assert await log.liked_items(GUILD, ALICE) == []
    assert await log.liked_items(GUILD, ASKER) == ["c", "d"]
    if isinstance(db_path, Path):
        # Nothing readable is left in the file or its WAL either.
        leftovers = b"".join(
            path.read_bytes() for path in db_path.parent.iterdir() if path.name.startswith(db_path.name)
        )
        assert secret_title.encode() not in leftovers
    else:
        # PostgreSQL has no secure_delete: the tables were vacuumed, so the erased rows' space
        # is free to be overwritten (the README says so).
        vacuumed = rows(
            db_path,
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() AND last_vacuum IS NOT NULL",
        )
        assert {name for (name,) in vacuumed} >= {"queries", "suggestions", "feedback", "blocks"}
    assert await log.forget_user(ALICE) == dict.fromkeys(counts, 0)
    assert await log.claim_turn(GUILD, BOB, 60) == 60.0, "his turn stays"
    assert await log.claim_turn(GUILD, ALICE, 60) == 0.0, "hers went with the rest"


# -- retention -------------------------------------------------------------------------------


async def test_expire_erases_old_questions_with_their_answers_and_ratings_only(log, db_path: Path, clock):
    await answer(log, 1, ["old-a", "old-b"])
    await log.record_feedback(1, ALICE, UP, position=1)
    clock.advance(days=30)
    await answer(log, 2, ["new-a"])
    # A rating made today on the old answer goes with the old question.
    await log.record_feedback(1, BOB, UP)
    await log.record_feedback(2, ALICE, UP)
    clock.advance(days=10)
    assert await log.expire(0) == {}, "0 keeps everything"
    counts = await log.expire(35)
    assert counts == {"feedback": 2, "suggestions": 2, "queries": 1}
    assert await log.query_for_message(1) is None
    assert (await log.query_for_message(2)).suggestions[0].item_id == "new-a"
    assert rows(db_path, "SELECT count(*) FROM feedback") == [(1,)]
    assert rows(db_path, "SELECT count(*) FROM suggestions") == [(1,)]
    assert await log.expire(35) == {"feedback": 0, "suggestions": 0, "queries": 0}


# -- write errors ----------------------------------------------------------------------------


async def test_a_refused_write_is_a_clear_error_and_leaves_no_partial_rows(sqlite_log, sqlite_path: Path):
    log, db_path = sqlite_log, sqlite_path
    await answer(log, 1)
    # query_only makes SQLite refuse every write as for a read-only file (works as root too).
    await log._backend.writer.execute("PRAGMA query_only = ON")
    with pytest.raises(LogWriteError) as caught:
        await answer(log, 2, ("x", "y"))
    assert str(db_path) in str(caught.value)
    assert "read-only" in str(caught.value)
    assert isinstance(caught.value, SoundalikeError)
    await log._backend.writer.execute("PRAGMA query_only = OFF")
    # The failed transaction was rolled back and the log still works.
    assert await log.record_feedback(1, ALICE, UP) is True
    assert len(table_rows(db_path)["queries"]) == 1


async def test_a_write_failing_halfway_leaves_no_partial_rows(log, db_path: Path | str):
    """The query row is written, then a suggestion is refused: the whole answer is rolled back,
    the error names the log, and the log keeps working."""
    await answer(log, 1)
    if isinstance(db_path, Path):  # SQLite cannot add a CHECK to a table: a trigger refuses instead
        rows(
            db_path,
            "CREATE TRIGGER no_x BEFORE INSERT ON suggestions WHEN NEW.item_id = 'x' "
            "BEGIN SELECT RAISE(ABORT, 'no x'); END",
        )
    else:
        rows(db_path, "ALTER TABLE suggestions ADD CONSTRAINT no_x CHECK (item_id <> 'x')")
    with pytest.raises(LogWriteError, match="could not record a query") as caught:
        await answer(log, 2, ("y", "x"))
    assert str(log.location) in str(caught.value)
    assert await log.query_for_message(2) is None
    assert len(table_rows(db_path)["queries"]) == 1 and len(table_rows(db_path)["suggestions"]) == 3
    assert await log.record_feedback(1, ALICE, UP) is True


async def test_a_full_disk_is_a_clear_error(sqlite_log, sqlite_path: Path):
    log, db_path = sqlite_log, sqlite_path
    (pages,) = (await log._backend.writer.execute_fetchall("PRAGMA page_count"))[0]
    await log._backend.writer.execute("PRAGMA max_page_count = " + str(pages))  # the file cannot grow
    big_answer = [f"song-with-a-long-identifier-{index:05d}" * 4 for index in range(500)]
    with pytest.raises(LogWriteError, match="disk is full") as caught:
        await answer(log, 1, big_answer)
    assert str(db_path) in str(caught.value)
    assert await log.query_for_message(1) is None


async def write_one_answer(db_path: Path) -> None:
    async with FeedbackLog.open(db_path) as log:
        await answer(log, 1)


def test_a_read_only_file_opens_and_its_writes_fail_clearly(sqlite_path: Path):
    """Another process opens a log whose file is read-only to it (chmod 444; run as root, the
    helper first gives up root's power to ignore permissions): reads work, a write is refused
    with a message naming the file, and the file is left as it was."""
    db_path = sqlite_path
    asyncio.run(write_one_answer(db_path))
    before = table_rows(db_path)
    db_path.chmod(0o444)
    try:
        finished = subprocess.run(
            [sys.executable, str(HELPERS / "read_only_log.py"), str(db_path), "1"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        db_path.chmod(0o644)
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    assert report["answer_found"] is True
    assert report["write_error"] is not None, "the write went through: the file was not read-only to the helper"
    assert "read-only" in report["write_error"]
    assert str(db_path) in report["write_error"]
    assert table_rows(db_path) == before


# -- SQL hygiene -----------------------------------------------------------------------------

SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|PRAGMA|WHERE)\b")
EXECUTING_CALLS = {"execute", "executemany", "execute_fetchall", "executescript", "fetch"}
# Functions of the package that pass a statement given to them on to execute().
PASS_THROUGH = {"_fetch": 0, "_read_only_rows": 1, "_single_value": 1}


def statement_name(node: ast.expr) -> str | None:
    """``NAME`` for ``NAME`` or ``queries.NAME``; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "queries":
        return node.attr
    return None


def test_sql_is_never_built_by_string_formatting():
    """In every module of recommender/feedback (its backends too): statements are named string
    constants (of any of its modules), never f-strings, operators or str.format on SQL."""
    package = Path(feedback_schema.__file__).parent
    trees = {str(path.relative_to(package)): ast.parse(path.read_text()) for path in sorted(package.rglob("*.py"))}
    assert {"log.py", "offline.py", "queries.py", "schema.py", "backends/sqlite.py", "backends/postgres.py"} <= set(
        trees
    )
    constants = {
        target.id
        for tree in trees.values()
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    problems = []
    executed = 0
    for module, tree in trees.items():
        for node in ast.walk(tree):
            where = f"{module} line {getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.JoinedStr):
                literal = "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
                if SQL_WORDS.search(literal):
                    problems.append(f"{where}: f-string with SQL")
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.left, ast.Constant)
                and isinstance(node.left.value, str)
                and SQL_WORDS.search(node.left.value)
            ):
                problems.append(f"{where}: SQL built with an operator")
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "format" and isinstance(node.func, ast.Attribute):
                problems.append(f"{where}: str.format call")
            if name in EXECUTING_CALLS:
                executed += 1
                # A named constant, or a variable that only ever holds one (checked below/above).
                if statement_name(node.args[0]) not in constants | {"sql", "statement"}:
                    problems.append(f"{where}: {name}() is not given a named constant")
            if name in PASS_THROUGH and statement_name(node.args[PASS_THROUGH[name]]) not in constants:
                problems.append(f"{where}: {name}() is not given a named constant")
    assert executed > 20  # the check looked at the real statements
    assert problems == []
    # The loop variables `statement` walk tuples of constants only.
    for migration in feedback_schema.MIGRATIONS:
        assert all(isinstance(statement, str) for statement in migration.sqlite)
        assert all(isinstance(statement, str) for statement in migration.postgres_statements())


async def test_a_postgres_log_outlives_losing_its_connections(postgres_server):
    """The server drops every connection of the log (a restart, an administrator): each write
    after that either lands or fails with a clear error (never acknowledged without landing),
    and the log reconnects rather than staying broken."""
    url = postgres_server.fresh_url()
    async with FeedbackLog.open(url) as log:
        await answer(log, 1)
        drop = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'soundalike'"
        outcomes = []
        for member in (ALICE, BOB, ASKER):
            assert rows(url, drop)  # the log had a connection to drop
            await asyncio.sleep(0.1)
            try:
                outcomes.append(await log.record_feedback(1, member, UP))
            except LogWriteError as error:
                assert "could not record a rating" in str(error) and url in str(error)
                outcomes.append(False)
        assert await log.liked_items(GUILD, ALICE) in (["a", "b", "c"], [])  # reads reconnect too
        assert await log.record_feedback(1, ALICE, DOWN, position=1) is True
    stored = {row[3] for row in table_rows(url)["feedback"]}
    acknowledged = {member for member, landed in zip((ALICE, BOB, ASKER), outcomes) if landed}
    assert acknowledged <= stored and ALICE in stored
