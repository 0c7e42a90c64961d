"""Shards: ``python -m bot --shards 0-1 --shard-count 4`` and the fake Discord's shard rule.

The bot runs as discord.py's AutoShardedBot against the fake Discord, which delivers a
server's events only to the connection of its shard, as Discord does.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from bot_harness import TEST_TOKEN, WAIT, bot_config
from fake_discord import FakeDiscord, FakeMember, FakeUser, option, pointed_at, shard_of, snowflake_on_shard

from bot.__main__ import main, parse_args
from bot.app import ShardedSoundalikeBot
from bot.shards import ShardSpecError, parse_shard_ids, shard_options
from recommender.app.core import Soundalike
from recommender.app.limits import ComputePool
from recommender.feedback.log import FeedbackLog


@pytest.mark.parametrize(
    ("text", "count", "ids"),
    [("0-1", 4, [0, 1]), ("3", 4, [3]), ("0,2,5-7", 8, [0, 2, 5, 6, 7]), (" 1 - 2 , 0 ", 3, [0, 1, 2])],
)
def test_shard_ids_are_numbers_and_ranges(text, count, ids):
    assert parse_shard_ids(text, count) == ids


@pytest.mark.parametrize(
    ("shards", "count", "says"),
    [
        ("0-4", 4, "shard 4 does not exist with --shard-count 4 (shard ids go from 0 to 3)"),
        ("2-1", 4, "the range 2-1 runs backwards; write 1-2"),
        ("0,0", 4, "shard 0 is named twice"),
        ("a", 4, "'a' is not a shard id or a range"),
        ("-1", 4, "'-1' is not a shard id or a range"),
        ("", 4, "'' is not a shard id or a range"),
        ("0-1", None, "--shards needs --shard-count"),
        ("0", 0, "--shard-count 0: give a number of shards from 1"),
    ],
)
def test_bad_shard_flags_say_what_was_wrong(shards, count, says):
    with pytest.raises(ShardSpecError) as refused:
        shard_options(shards, count)
    assert says in str(refused.value)


def test_without_the_flags_the_bot_is_one_plain_connection_and_count_alone_runs_every_shard():
    assert parse_args([]).shard_options == {}
    assert parse_args(["--shards", "0-1", "--shard-count", "4"]).shard_options == {
        "shard_ids": [0, 1],
        "shard_count": 4,
    }
    assert parse_args(["--shard-count", "3"]).shard_options == {"shard_ids": [0, 1, 2], "shard_count": 3}


def test_python_m_bot_refuses_bad_shard_flags_in_one_line(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--shards", "2", "--shard-count", "2"])
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: --shards '2': shard 2 does not exist with --shard-count 2")
    assert "\n" not in error
    with pytest.raises(SystemExit):
        main(["--console", "--shard-count", "2"])
    assert "not --console" in capsys.readouterr().err


def test_shard_ids_the_fake_hands_out_follow_discords_rule():
    for count in (1, 2, 4, 7):
        for shard in range(count):
            guild_id = snowflake_on_shard(shard, count)
            assert shard_of(guild_id, count) == shard == (guild_id >> 22) % count


@contextlib.asynccontextmanager
async def sharded_bot(tmp_path, config, service, fake: FakeDiscord, guild, **options):
    """A ShardedSoundalikeBot on the fake, connected on every shard it runs."""
    config = bot_config(config, guild, database=str(tmp_path / "feedback.sqlite3"))
    pool = ComputePool(per_guild=4, max_queue=100, workers=2)
    with pointed_at(fake):
        async with FeedbackLog.open(config.database_path) as feedback_log:
            app = Soundalike(config, service, feedback_log, pool, retrainer=None)  # type: ignore[arg-type]
            bot = ShardedSoundalikeBot(app=app, guild_ready_timeout=0.01, **options)
            task = None
            try:
                async with asyncio.timeout(WAIT):
                    await bot.login(TEST_TOKEN)
                    task = asyncio.create_task(bot.connect(reconnect=False))
                    await bot.wait_until_ready()
                yield bot
            finally:
                await bot.close()
                if task is not None:
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.wait_for(task, WAIT)
                pool.close()


async def answered(fake: FakeDiscord, pending) -> dict:
    app = fake.application_id
    await fake.wait_for("PATCH", rf"/webhooks/{app}/{pending.token}/messages/@original", timeout=WAIT)
    return fake.message(pending.original_message_id)


async def test_a_process_running_one_shard_gets_only_its_servers_events(tmp_path, demo_env, demo_service):
    async with FakeDiscord(shard_count=2) as fake:
        member = FakeMember(FakeUser(1234, "listener"))
        mine = fake.add_guild("On shard 1", [member], shard=(1, 2))
        other = fake.add_guild("On shard 0", [member], shard=(0, 2))
        async with sharded_bot(
            tmp_path, demo_env.config, demo_service, fake, mine, shard_ids=[1], shard_count=2
        ) as bot:
            assert fake.connected_shards() == [(1, 2)]
            assert fake.identify_payloads[-1]["shard"] == [1, 2]
            assert bot.shard_count == 2 and sorted(bot.shards) == [1]
            assert [guild.id for guild in bot.guilds] == [mine.id], "READY names only shard 1's servers"
            pending = await fake.slash_command("soundalike", [option("title", "Hey Ya!")], member=member, guild=mine)
            message = await answered(fake, pending)
            assert message["embeds"][0]["title"] == "Songs like Hey Ya! — OutKast"
            with pytest.raises(AssertionError, match="no bot is connected for the shard of server"):
                await fake.slash_command("soundalike", [option("title", "Hey Ya!")], member=member, guild=other)
        assert {shard for _, guild_id, shard in fake.delivered if guild_id == mine.id} == {1}
        assert not [event for event, guild_id, _ in fake.delivered if guild_id == other.id]


async def test_without_a_count_the_bot_asks_gateway_bot_and_runs_every_shard(tmp_path, demo_env, demo_service):
    """Two shards in one process (discord.py waits 5 s between their IDENTIFYs, as Discord asks)."""
    async with FakeDiscord(shard_count=2) as fake:
        member = FakeMember(FakeUser(4321, "listener"))
        guilds = [fake.add_guild(f"On shard {shard}", [member], shard=(shard, 2)) for shard in (0, 1)]
        async with sharded_bot(tmp_path, demo_env.config, demo_service, fake, guilds[0]) as bot:
            assert fake.sent("GET", "/gateway/bot"), "the shard count came from GET /gateway/bot"
            assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
            assert sorted(fake.connected_shards()) == [(0, 2), (1, 2)]
            assert sorted(guild.id for guild in bot.guilds) == sorted(guild.id for guild in guilds)
            for guild in guilds:  # each server's command reaches its own shard, and is answered
                pending = await fake.slash_command(
                    "soundalike", [option("title", "Jolene")], member=member, guild=guild
                )
                assert (await answered(fake, pending))["embeds"][0]["title"].startswith("Songs like Jolene")
                shards = {shard for event, guild_id, shard in fake.delivered if guild_id == guild.id}
                assert shards == {shard_of(guild.id, 2)}


async def test_the_fake_closes_a_connection_identifying_as_a_shard_that_does_not_exist():
    import aiohttp

    async with (
        FakeDiscord() as fake,
        aiohttp.ClientSession() as session,
        session.ws_connect(fake.gateway_url) as socket,
    ):
        await socket.receive_json()  # HELLO
        await socket.send_json({"op": 2, "d": {"token": "t", "intents": 0, "properties": {}, "shard": [2, 2]}})
        closed = await socket.receive(timeout=WAIT)
        assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4010


def test_a_shard_that_cannot_connect_is_one_line_not_a_traceback():
    import logging

    from bot.__main__ import OneLineReconnects

    try:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)")
    except ConnectionRefusedError:
        import sys

        record = logging.LogRecord(
            "discord.shard",
            logging.ERROR,
            __file__,
            1,
            "Failed to connect for shard_id: %s. Retrying...",
            (1,),
            sys.exc_info(),
        )
    assert OneLineReconnects().filter(record)
    assert record.exc_info is None
    assert record.getMessage() == (
        "shard 1 cannot reach Discord (ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 9)); "
        "trying again in 5 s"
    )
