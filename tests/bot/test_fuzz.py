"""Any text in any command argument: an answer or a clear message, never a crash or a ping.

Drives the real bot (through discord.py and the fake Discord) with arbitrary titles, artists,
counts and autocomplete input. One bot serves all examples: it runs on an event loop in a
background thread, and each example waits (bounded) for the bot's reply.
"""

from __future__ import annotations

import logging
import re

import pytest
from bot_harness import WAIT, LoopThread, bot_world
from fake_discord import option
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import render

NASTY = [
    "",
    " ",
    "x" * 10_000,
    "🎸" * 3000,
    "@everyone",
    "@here hey ya",
    "<@123456789012345678>",
    "<@&123456789012345678> <#123> <@!42>",
    "**Hey** _Ya_ ~~!~~ `code` ||spoiler|| > quote",
    "[click](https://example.com) https://evil.example",
    "Hey\u200bYa\u200d!",
    "\u202eaY yeH",  # right-to-left override
    "مرحبا بالعالم",
    "\x00\x01\x07\x1b[31mred\r\nnew line\ttab",
    "'; DROP TABLE queries; --",
    "Robert'); DELETE FROM feedback WHERE ('1'='1",
    "%s %d {0} {title}",
    "\\",
    "Hey Ya!",
    "OutKast",
]
GENERIC_FAILURE = "Something went wrong on my side"
PINGS = re.compile(r"@everyone|@here|<@[!&]?\d+>")


def texts():
    return st.one_of(
        st.sampled_from(NASTY),
        st.text(max_size=200),
        st.builds(lambda piece, times: piece * times, st.text(min_size=1, max_size=4), st.integers(500, 3000)),
    )


class ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory, demo_env, demo_service):
    errors = ErrorRecords()
    logging.getLogger().addHandler(errors)
    runner = LoopThread()
    world_context = bot_world(tmp_path_factory.mktemp("fuzz"), demo_env.config, demo_service)
    world = runner.run(world_context.__aenter__())
    try:
        yield runner, world, errors
    finally:
        runner.run(world_context.__aexit__(None, None, None))
        runner.close()
        logging.getLogger().removeHandler(errors)


def message_bodies(world, token: str, since: int) -> list[dict]:
    """Every message the bot sent or edited for the interaction with ``token``."""
    bodies = []
    for recorded in world.fake.requests[since:]:
        if token not in recorded.path or not isinstance(recorded.body, dict):
            continue
        body = recorded.body.get("data", recorded.body) if "/callback" in recorded.path else recorded.body
        if isinstance(body, dict) and ("content" in body or "embeds" in body):
            bodies.append(body)
    return bodies


async def settled_replies(world, interaction, since: int) -> list[dict]:
    """Wait until the bot has finished answering ``interaction``; return its message bodies."""
    token = interaction.token
    callback = await world.fake.wait_for(
        "POST", rf"/interactions/{interaction.id}/{token}/callback", since=since, timeout=WAIT
    )
    if callback.body["type"] == 5:  # deferred: then an edit of the placeholder, or an ephemeral followup
        await world.fake.wait_until(
            lambda: (
                world.fake.sent("PATCH", rf"/webhooks/\d+/{token}/messages/@original", since=since)
                or world.fake.sent("POST", rf"/webhooks/\d+/{token}", since=since)
            ),
            timeout=WAIT,
        )
    return message_bodies(world, token, since)


def embed_size(embed: dict) -> int:
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    size += len((embed.get("footer") or {}).get("text", ""))
    size += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    return size


def check_reply(bodies: list[dict]) -> None:
    assert bodies, "the bot never answered"
    for body in bodies:
        assert body.get("allowed_mentions") == {"parse": []}, body.get("allowed_mentions")
        content = body.get("content") or ""
        assert GENERIC_FAILURE not in content
        assert not PINGS.search(content), content
        assert len(content) <= render.MESSAGE_CONTENT
        for embed in body.get("embeds") or []:
            assert len(embed.get("title", "")) <= render.EMBED_TITLE
            assert len(embed.get("description", "")) <= render.EMBED_DESCRIPTION
            assert len((embed.get("footer") or {}).get("text", "")) <= render.EMBED_FOOTER
            assert all(len(f["value"]) <= render.EMBED_FIELD_VALUE for f in embed.get("fields", []))
            assert embed_size(embed) <= render.EMBED_TOTAL
            assert not PINGS.search(embed.get("title", "") + embed.get("description", ""))
        for row in body.get("components") or []:
            for component in row["components"]:
                for choice in component.get("options", []):
                    assert 1 <= len(choice["label"]) <= render.LABEL and len(choice["value"]) <= render.LABEL
    final = bodies[-1]
    assert (final.get("content") or "").strip() or final.get("embeds"), "an empty reply is no answer"


@settings(max_examples=60)
@given(title=texts(), artist=st.none() | texts(), count=st.none() | st.integers(-(2**53), 2**53))
def test_soundalike_any_arguments_answer_or_explain(fuzz, title, artist, count):
    runner, world, errors = fuzz

    async def ask():
        since = len(world.fake.requests)
        interaction = await world.soundalike(title, artist=artist, count=count)
        return await settled_replies(world, interaction, since)

    check_reply(runner.run(ask()))
    assert not errors.records, [r.getMessage() for r in errors.records]


@settings(max_examples=60)
@given(typed=texts(), focus=st.sampled_from(["title", "artist"]), other=st.none() | texts())
def test_autocomplete_any_input_gives_valid_choices(fuzz, typed, focus, other):
    runner, world, errors = fuzz

    async def ask():
        since = len(world.fake.requests)
        options = [option(focus, typed, focused=True)]
        if other is not None:
            options.append(option("artist" if focus == "title" else "title", other))
        interaction = await world.fake.autocomplete("soundalike", options, member=world.member, guild=world.guild)
        return await world.fake.wait_for(
            "POST", rf"/interactions/{interaction.id}/{interaction.token}/callback", since=since, timeout=WAIT
        )

    recorded = runner.run(ask())
    assert recorded.body["type"] == 8
    choices = recorded.body["data"]["choices"]
    assert len(choices) <= 25
    for choice in choices:
        assert 1 <= len(choice["name"]) <= render.LABEL and 1 <= len(choice["value"]) <= render.LABEL
    assert not errors.records, [r.getMessage() for r in errors.records]


NOVELTIES = st.one_of(st.none(), st.sampled_from(["popular", "balanced", "deep"]), texts())
COUNTS = st.none() | st.integers(-(2**53), 2**53)


def ask_and_check(runner, world, errors, command: str, options: list[dict], who=None) -> list[dict]:
    async def ask():
        since = len(world.fake.requests)
        interaction = await world.fake.slash_command(command, options, member=who or world.member, guild=world.guild)
        return await settled_replies(world, interaction, since)

    bodies = runner.run(ask())
    check_reply(bodies)
    assert not errors.records, [r.getMessage() for r in errors.records]
    return bodies


def optional(name: str, value, **kwargs) -> list[dict]:
    return [] if value is None else [option(name, value, **kwargs)]


@settings(max_examples=40)
@given(
    title=texts(),
    novelty=NOVELTIES,
    leave_out_artist=st.none() | st.booleans(),
    per_artist=st.none() | st.integers(-(2**53), 2**53),
)
def test_soundalike_knobs_any_values_answer_or_explain(fuzz, title, novelty, leave_out_artist, per_artist):
    runner, world, errors = fuzz
    ask_and_check(
        runner,
        world,
        errors,
        "soundalike",
        [
            option("title", title),
            *optional("novelty", novelty),
            *optional("leave_out_artist", leave_out_artist, kind=5),
            *optional("per_artist", per_artist),
        ],
    )


@settings(max_examples=40)
@given(
    songs=st.lists(st.one_of(texts(), st.sampled_from(["Hey Ya!", "Hey Jude", "Hello"])), min_size=2, max_size=5),
    count=COUNTS,
    novelty=NOVELTIES,
)
def test_mix_any_songs_answer_or_explain(fuzz, songs, count, novelty):
    runner, world, errors = fuzz
    ask_and_check(
        runner,
        world,
        errors,
        "mix",
        [
            *(option(f"song{n}", song) for n, song in enumerate(songs, start=1)),
            *optional("count", count),
            *optional("novelty", novelty),
        ],
    )


@pytest.fixture(scope="module")
def member_with_likes(fuzz):
    """The dj likes three songs, so that /foryou answers rather than explains."""
    runner, world, _ = fuzz

    async def like_three():
        ids = [world.service.resolve(title).best.item_id for title in ("Ms. Jackson", "Lose Yourself", "Juicy")]
        query = await world.feedback_log.record_answer(
            guild_id=world.guild.id,
            user_id=world.dj.user.id,
            command="soundalike",
            suggestions=[(n, item_id, 0.5) for n, item_id in enumerate(ids, start=1)],
        )
        for position in (1, 2, 3):
            await world.feedback_log.record_feedback(None, world.dj.user.id, 1, position, query_id=query)

    runner.run(like_three())
    return world.dj


@settings(max_examples=40)
@given(count=COUNTS, novelty=NOVELTIES, with_likes=st.booleans())
def test_foryou_any_arguments_answer_or_explain(fuzz, member_with_likes, count, novelty, with_likes):
    runner, world, errors = fuzz
    who = member_with_likes if with_likes else world.member
    bodies = ask_and_check(
        runner, world, errors, "foryou", [*optional("count", count), *optional("novelty", novelty)], who=who
    )
    maximum = world.config.bot.max_results
    valid_novelty = novelty in (None, "popular", "balanced", "deep")  # else Discord's choice check answers
    if valid_novelty and count is not None and not 1 <= count <= maximum:  # Discord offers 1..max: no clamping
        assert bodies[-1]["content"].startswith(f"count takes a whole number from 1 to {maximum}, not ")
    elif valid_novelty:
        final = bodies[-1]
        if with_likes:
            assert final.get("embeds") and final["embeds"][0]["title"] == "Songs for dj", final
        else:
            assert final["content"].startswith("You have liked 0 suggestions so far")


@settings(max_examples=40)
@given(song=texts(), command=st.sampled_from(["block", "unblock"]), admin=st.booleans())
def test_block_and_unblock_any_song_answer_or_explain(fuzz, song, command, admin):
    runner, world, errors = fuzz
    bodies = ask_and_check(
        runner, world, errors, command, [option("song", song)], who=world.dj if admin else world.member
    )
    assert all((body.get("flags") or 0) & 64 for body in bodies)  # an admin's business: private replies
    if not admin:
        assert bodies[-1]["content"].startswith("Only this server's Soundalike admins")
