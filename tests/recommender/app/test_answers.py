"""The shared answer steps (bot/answers.py) on a real feedback log and a tiny fake service."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from bot_mocks import FakeService
from hypothesis import given
from hypothesis import strategies as st

from recommender.app.answers import (
    BadNovelty,
    BlockOutcome,
    MixNeedsTwoSongs,
    Rated,
    Request,
    UnknownMixSong,
    block_song,
    check_novelty,
    clamp_cap,
    compute_answer,
    log_answer,
    look_up,
    mix_seeds,
    rate_suggestion,
    unblock_song,
)
from recommender.app.limits import ComputePool
from recommender.feedback.log import FeedbackLog, LoggedQuery
from recommender.service import NotEnoughHistory

GUILD, OTHER_GUILD = 10, 20
ALICE, BOB = 1, 2
HEY_YA = "s-heyya"


@pytest.fixture
async def feedback_log(tmp_path):
    async with FeedbackLog.open(tmp_path / "log.sqlite3") as log:
        yield log


@pytest.fixture
def pool():
    pool = ComputePool(per_guild=2, max_queue=4, workers=1)
    yield pool
    pool.close()


async def answer_ids(service, feedback_log, pool, request, guild=GUILD, user=ALICE) -> list[str]:
    answer = await compute_answer(service, feedback_log, pool, request, guild_id=guild, user_id=user, pool_key=guild)
    return [s.item_id for s in answer.suggestions]


async def logged_answer(service, feedback_log, pool, request, guild=GUILD, user=ALICE) -> int:
    answer = await compute_answer(service, feedback_log, pool, request, guild_id=guild, user_id=user, pool_key=guild)
    return await log_answer(
        feedback_log,
        answer,
        command=request.command,
        guild_id=guild,
        user_id=user,
        channel_id=None,
        typed_title="typed",
        typed_artist=None,
        started=0.0,
        request=request,
    )


def logged(command: str, params: dict, resolved: str | None = None) -> LoggedQuery:
    return LoggedQuery(1, "2026-01-01", GUILD, None, ALICE, command, None, None, resolved, "v1", 1.0, 5, params, ())


def test_a_request_survives_the_log_and_old_answers_can_still_be_continued():
    request = Request("mix", ("a", "b"), 4, 8, "deep", False, 1)
    assert Request.from_logged(logged("mix", request.params())) == request
    # Logged before params held everything: a /soundalike answer with its count only.
    assert Request.from_logged(logged("soundalike", {"count": 3}, resolved=HEY_YA)) == Request(
        "soundalike", (HEY_YA,), 3
    )
    assert Request.from_logged(logged("soundalike", {"count": 3})) is None  # no seed to ask about
    assert Request.from_logged(logged("retrain", {})) is None
    assert Request.from_logged(logged("soundalike", {"count": "many"}, resolved=HEY_YA)) is None
    assert Request.from_logged(logged("foryou", {"novelty": "sideways"})) is None
    assert request.next_page().offset == 12 and request.next_page().seeds == ("a", "b")


@given(
    st.dictionaries(
        st.sampled_from(["count", "offset", "novelty", "seeds", "per_artist_cap", "exclude_seed_artist"]),
        st.one_of(
            st.none(), st.integers(), st.text(max_size=5), st.booleans(), st.lists(st.text(max_size=3), max_size=3)
        ),
    ),
    st.sampled_from(["soundalike", "mix", "foryou", "other"]),
)
def test_any_logged_params_give_a_valid_request_or_none(params, command):
    request = Request.from_logged(logged(command, params, resolved=HEY_YA))
    if request is not None:
        assert 1 <= request.count <= 25 and request.offset >= 0 and request.novelty in ("popular", "balanced", "deep")
        assert request.per_artist_cap is None or 0 <= request.per_artist_cap <= 25
        assert request.command != "soundalike" or len(request.seeds) >= 1


def test_novelty_and_cap_values():
    assert check_novelty(None) == "balanced" and check_novelty("Deep cuts") == "deep"
    with pytest.raises(BadNovelty, match="novelty must be one of popular, balanced, deep, not 'loud'"):
        check_novelty("loud")
    assert (clamp_cap(None), clamp_cap(-3), clamp_cap(0), clamp_cap(10**9)) == (None, 0, 0, 25)


def test_mix_seeds_take_the_best_match_and_name_what_matched_nothing():
    service = FakeService()
    seeds = mix_seeds(service, [("s-heyya", None), ("Hello", None), ("", None), ("Hey Jude", None)])
    assert [s.item_id for s in seeds] == ["s-heyya", "s-hello-a", "s-jude"]
    with pytest.raises(MixNeedsTwoSongs):
        mix_seeds(service, [("Hey Ya!", None), ("s-heyya", None)])
    with pytest.raises(UnknownMixSong, match="No song matches “Qwerty”"):
        mix_seeds(service, [("Hey Ya!", None), ("Qwerty", None)])


def test_look_up_takes_only_a_confident_match_as_the_song():
    service = FakeService()
    assert look_up(service, "Hey Ya!").seed.item_id == HEY_YA
    # One candidate, far from what was typed: offered ("did you mean?"), never the answer.
    far = look_up(service, "Hey Yaa")
    assert far.seed is None and [c.item_id for c in far.choices] == [HEY_YA]
    assert not far.close_call and far.kind == "song"
    hello = look_up(service, "Hello")  # two songs with that title: a close call
    assert hello.seed is None and hello.close_call and [c.item_id for c in hello.choices] == ["s-hello-a", "s-hello-l"]


def test_look_up_of_an_artist_offers_their_songs():
    found = look_up(FakeService(), "outkast")
    assert found.seed is None and found.kind == "artist" and found.artist == "OutKast"
    assert [c.item_id for c in found.choices] == [HEY_YA, "s-msjackson", "s-roses"]  # most listened first
    assert found.note == "" and not found.closest


def test_look_up_says_what_the_data_know_when_nothing_matches_well():
    service = FakeService()
    service.note = "These are demo data: they know only the 6 songs of the shipped demo catalog."
    nothing = look_up(service, "Qwerty")
    assert nothing.seed is None and not nothing.choices and nothing.note == service.note
    assert look_up(service, "Hey Yaa").note == service.note  # a far match
    assert look_up(service, "Hello").note == ""  # good matches, only too many of them
    assert look_up(service, "OutKast").note == ""
    assert look_up(service, "Hey Ya!").note == ""
    service.note = None  # other data: nothing to add
    assert look_up(service, "Qwerty").note == ""


def test_mix_seeds_never_take_a_far_match_or_an_artist():
    service = FakeService()
    service.note = "(demo note)"
    with pytest.raises(
        UnknownMixSong,
        match="No song matches “Hey Yaa”. Closest titles: Hey Ya! — OutKast "
        r"\(demo note\)",
    ):
        mix_seeds(service, [("Hey Jude", None), ("Hey Yaa", None)])
    with pytest.raises(
        UnknownMixSong,
        match="“OutKast” is an artist, not a song: name one of their songs. "
        "Most listened: Hey Ya! — OutKast; Ms. Jackson — OutKast",
    ):
        mix_seeds(service, [("Hey Jude", None), ("OutKast", None)])


async def test_blocks_are_per_server_and_dislikes_per_member_and_seed(feedback_log, pool):
    service = FakeService()
    request = Request("soundalike", (HEY_YA,), 5)
    usual = await answer_ids(service, feedback_log, pool, request)
    assert usual[0] == "s-hello-a"
    await feedback_log.block(GUILD, "s-hello-a", by=BOB)
    assert "s-hello-a" not in await answer_ids(service, feedback_log, pool, request)
    assert "s-hello-a" in await answer_ids(service, feedback_log, pool, request, guild=OTHER_GUILD)

    query = await logged_answer(service, feedback_log, pool, request)  # shows s-hello-l first now
    assert (
        await rate_suggestion(
            feedback_log, guild_id=GUILD, user_id=ALICE, value=-1, position=1, item_id="s-hello-l", query_id=query
        )
        is Rated.RECORDED
    )
    assert "s-hello-l" not in await answer_ids(service, feedback_log, pool, request)
    assert "s-hello-l" in await answer_ids(service, feedback_log, pool, request, user=BOB)
    # Another seed's answers still hold it; a mix and /foryou leave it out.
    assert "s-hello-l" in await answer_ids(service, feedback_log, pool, Request("soundalike", ("s-jude",), 5))
    assert "s-hello-l" not in await answer_ids(service, feedback_log, pool, Request("mix", (HEY_YA, "s-jude"), 5))
    # The same press again takes it back.
    assert (
        await rate_suggestion(
            feedback_log, guild_id=GUILD, user_id=ALICE, value=-1, position=1, item_id="s-hello-l", query_id=query
        )
        is Rated.TAKEN_BACK
    )
    assert "s-hello-l" in await answer_ids(service, feedback_log, pool, request)
    assert (
        await rate_suggestion(
            feedback_log, guild_id=GUILD, user_id=ALICE, value=1, position=9, item_id=None, query_id=query
        )
        is Rated.NOT_FOUND
    )


async def presses_on_a_fresh_log(path, standing: int | None, presses: tuple[int, ...], order) -> tuple:
    """Alice presses ``presses`` on suggestion 1 (Hey Ya!) of one answer, after a ``standing``
    rating of it (None: none). ``order`` None presses all at once; else one after another in
    that order. Returns each press's outcome (in ``presses`` order) and what she likes and
    dislikes afterwards."""
    async with FeedbackLog.open(path) as log:
        await log.record_answer(
            guild_id=GUILD, user_id=BOB, command="soundalike", suggestions=[(1, HEY_YA, 0.9)], message_id=77
        )
        if standing is not None:
            assert await log.record_feedback(77, ALICE, standing, 1)

        async def press(value: int) -> Rated:
            return await rate_suggestion(
                log, guild_id=GUILD, user_id=ALICE, value=value, position=1, item_id=HEY_YA, message_id=77
            )

        if order is None:
            outcomes = await asyncio.wait_for(asyncio.gather(*(press(value) for value in presses)), 30)
        else:
            outcomes = [None] * len(presses)
            for index in order:
                outcomes[index] = await press(presses[index])
        return tuple(outcomes), await log.liked_items(GUILD, ALICE), await log.disliked_items(GUILD, ALICE)


@pytest.mark.parametrize("standing", [None, 1, -1], ids=["unrated", "liked", "disliked"])
@pytest.mark.parametrize("presses", [(-1, -1), (1, 1), (1, -1)], ids=["two-downs", "two-ups", "up-and-down"])
async def test_two_quick_presses_end_as_if_one_came_after_the_other(tmp_path, standing, presses):
    serial = [
        await presses_on_a_fresh_log(tmp_path / f"serial-{number}.sqlite3", standing, presses, order)
        for number, order in enumerate(itertools.permutations(range(len(presses))))
    ]
    together = await presses_on_a_fresh_log(tmp_path / "together.sqlite3", standing, presses, None)
    assert together in serial


async def test_foryou_folds_in_the_members_likes_in_this_server_and_leaves_out_rated_and_blocked(feedback_log, pool):
    service = FakeService()
    request = Request("foryou", (), 5, novelty="deep")
    with pytest.raises(NotEnoughHistory):
        await answer_ids(service, feedback_log, pool, request)
    query = await logged_answer(service, feedback_log, pool, Request("soundalike", (HEY_YA,), 5))
    for position, value in ((1, 1), (2, 1), (3, 1), (4, -1)):
        await rate_suggestion(
            feedback_log, guild_id=GUILD, user_id=ALICE, value=value, position=position, item_id=None, query_id=query
        )
    await feedback_log.block(GUILD, "s-heyya", by=BOB)
    await answer_ids(service, feedback_log, pool, request)
    name, liked, count, excluded = [call for call in service.calls if call[0] == "for_you"][-1]
    assert name == "for_you" and set(liked) == {"s-hello-a", "s-hello-l", "s-msjackson"} and count == 5
    assert set(excluded) == {"s-roses", "s-heyya"} and service.options[-1]["novelty"] == "deep"
    with pytest.raises(NotEnoughHistory):  # likes count per server
        await answer_ids(service, feedback_log, pool, request, guild=OTHER_GUILD)


async def test_block_and_unblock_by_title_or_id(feedback_log, pool):
    service = FakeService()

    async def block(song):
        return await block_song(service, feedback_log, pool, guild_id=GUILD, user_id=BOB, song=song, pool_key=None)

    async def unblock(song):
        return await unblock_song(service, feedback_log, pool, guild_id=GUILD, song=song, pool_key=None)

    assert (await block("Hey Ya!")).outcome is BlockOutcome.BLOCKED
    assert (await block("s-heyya")).outcome is BlockOutcome.ALREADY_BLOCKED
    assert (await block("Hello")).outcome is BlockOutcome.AMBIGUOUS
    assert (await block("Qwerty")).outcome is BlockOutcome.NOT_FOUND
    far = await block("Hey Yaa")  # one far match: asked about, not blocked
    assert far.outcome is BlockOutcome.AMBIGUOUS and far.song is None
    assert (await block("s-hello-l")).outcome is BlockOutcome.BLOCKED
    # "Hello" names two songs, but only one of them is blocked: that one is meant.
    result = await unblock("Hello")
    assert result.outcome is BlockOutcome.UNBLOCKED and result.song.item_id == "s-hello-l"
    assert (await unblock("Hey Jude")).outcome is BlockOutcome.NOT_BLOCKED
    assert (await unblock("s-heyya")).outcome is BlockOutcome.UNBLOCKED
    assert await feedback_log.blocked_items(GUILD) == set()
