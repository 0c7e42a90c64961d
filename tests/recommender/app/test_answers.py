"""The steps of answering (recommender/app/answers.py): what was asked (Request), and a typed
title turned into a song, a pick list or the closest titles, resolved once per request."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from bot_mocks import FakeService
from feedback_logs import LOG_KINDS, log_location
from hypothesis import given
from hypothesis import strategies as st

from recommender.app.answers import Rated, Request, UnknownMixSong, look_up, mix_seeds, rate_suggestion
from recommender.feedback.log import FeedbackLog, LoggedQuery
from recommender.service import MixNeedsTwoSongs

GUILD = 10
ALICE, BOB = 1, 2
HEY_YA = "s-heyya"


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
        match=r"“OutKast” is an artist, not a song: name one of their songs\. "
        r"Most listened: Hey Ya! — OutKast; Ms\. Jackson — OutKast",
    ):
        mix_seeds(service, [("Hey Jude", None), ("OutKast", None)])


class ResolverPasses:
    """Counts, on a real resolver, the calls to ``resolve`` and the ranking passes over the
    title index (``_ranked``: one per look at the catalog, the expensive part)."""

    def __init__(self, monkeypatch, resolver):
        self.resolves = self.passes = 0
        real_resolve, real_ranked = resolver.resolve, resolver._ranked

        def resolve(*args, **kwargs):
            self.resolves += 1
            return real_resolve(*args, **kwargs)

        def ranked(*args, **kwargs):
            self.passes += 1
            return real_ranked(*args, **kwargs)

        monkeypatch.setattr(resolver, "resolve", resolve)
        monkeypatch.setattr(resolver, "_ranked", ranked)


def test_a_typed_title_is_resolved_once_per_request(demo_service, monkeypatch):
    # The shared service keeps what other tests resolved (SoundalikeService.resolve's cache):
    # start from none, so that each request's own resolving is counted.
    demo_service._resolve_cached.cache_clear()
    counted = ResolverPasses(monkeypatch, demo_service.resolver)
    unknown = look_up(demo_service, "Everlastingly Blorp")
    # Nothing matched: one resolve, whose one wider look names the closest titles (before:
    # resolve, then seed() resolving again, then a third pass for the closest titles).
    assert unknown.seed is None and not unknown.choices and unknown.closest[0] == "Everlong — Foo Fighters"
    assert (counted.resolves, counted.passes) == (1, 2)
    counted.resolves = counted.passes = 0
    assert look_up(demo_service, "Hey Ya!", "OutKast").seed is not None
    assert (counted.resolves, counted.passes) == (1, 1)
    counted.resolves = counted.passes = 0
    seeds = mix_seeds(demo_service, [("Hey Ya!", None), ("Hey Jude", None)])
    assert len(seeds) == 2 and (counted.resolves, counted.passes) == (2, 2)  # one per song


async def presses_on_a_fresh_log(path, standing: int | None, presses: tuple[int, ...], order) -> tuple:
    """Alice presses ``presses`` on suggestion 1 (Hey Ya!) of one answer, after a ``standing``
    rating of it (None: none). ``order`` None presses all at once; "apart" all at once through
    two logs opened separately on the same database (as two bot processes would); else one
    after another in that order. Returns each press's outcome (in ``presses`` order) and what
    she likes and dislikes afterwards."""
    async with FeedbackLog.open(path) as log, FeedbackLog.open(path) as other_log:
        await log.record_answer(
            guild_id=GUILD, user_id=BOB, command="soundalike", suggestions=[(1, HEY_YA, 0.9)], message_id=77
        )
        if standing is not None:
            assert await log.record_feedback(77, ALICE, standing, 1)

        async def press(value: int, through: FeedbackLog = log) -> Rated:
            return await rate_suggestion(
                through, guild_id=GUILD, user_id=ALICE, value=value, position=1, item_id=HEY_YA, message_id=77
            )

        if order is None:
            outcomes = await asyncio.wait_for(asyncio.gather(*(press(value) for value in presses)), 30)
        elif order == "apart":
            logs = itertools.cycle((log, other_log))
            outcomes = await asyncio.wait_for(asyncio.gather(*(press(value, next(logs)) for value in presses)), 30)
        else:
            outcomes = [None] * len(presses)
            for index in order:
                outcomes[index] = await press(presses[index])
        return tuple(outcomes), await log.liked_items(GUILD, ALICE), await log.disliked_items(GUILD, ALICE)


@pytest.mark.parametrize("kind", LOG_KINDS)
@pytest.mark.parametrize("standing", [None, 1, -1], ids=["unrated", "liked", "disliked"])
@pytest.mark.parametrize("presses", [(-1, -1), (1, 1), (1, -1)], ids=["two-downs", "two-ups", "up-and-down"])
async def test_two_quick_presses_end_as_if_one_came_after_the_other(request, tmp_path, kind, standing, presses):
    def fresh(name: str):
        return log_location(request, kind, tmp_path, name)

    serial = [
        await presses_on_a_fresh_log(fresh(f"serial-{number}"), standing, presses, order)
        for number, order in enumerate(itertools.permutations(range(len(presses))))
    ]
    together = await presses_on_a_fresh_log(fresh("together"), standing, presses, None)
    assert together in serial
    apart = await presses_on_a_fresh_log(fresh("apart"), standing, presses, "apart")
    assert apart in serial
