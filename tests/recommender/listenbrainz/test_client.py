"""The ListenBrainz client against the fake API on 127.0.0.1: answers, rate limits, 429, 5xx,
slow answers, unknown and empty users, and the bounds on every question."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from fake_listenbrainz import FakeListenBrainz, listen, running
from hypothesis import example, given
from hypothesis import settings as settings_of_hypothesis
from hypothesis import strategies as st

from recommender.config import ListenBrainzConfig
from recommender.listenbrainz.client import (
    BadUsername,
    ListenBrainzClient,
    ListenBrainzError,
    ListenBrainzUnavailable,
    UnknownListenBrainzUser,
    check_username,
    parse_listens,
)

FAST = ListenBrainzConfig(timeout_seconds=1.0, total_seconds=3.0, attempts=3, min_interval_seconds=0.0)


def settings(fake: FakeListenBrainz, **changes) -> ListenBrainzConfig:
    return dataclasses.replace(FAST, api_url=fake.url, **changes)


async def test_listens_come_back_newest_first_with_their_mbids():
    listens = [listen("Hey Ya!", "OutKast", mbid="AAAA-1"), listen("Hello", "Adele", at=1_600_000_000)]
    fake = FakeListenBrainz(users={"rob": listens})
    async with running(fake), ListenBrainzClient(settings(fake, contact="ops@example.org")) as client:
        got = await client.recent_listens("rob", 10)
        assert await client.listen_count("rob") == 2
    assert [(one.title, one.artist, one.recording_mbid) for one in got] == [
        ("Hey Ya!", "OutKast", "aaaa-1"),
        ("Hello", "Adele", None),
    ]
    assert fake.calls[0].path == "/1/user/rob/listens" and fake.calls[0].query == {"count": "10"}
    assert fake.calls[0].user_agent == "Soundalike/1.0 ( ops@example.org )"


async def test_the_configured_count_is_asked_and_capped_at_the_api_limit():
    fake = FakeListenBrainz(users={"rob": []})
    async with running(fake), ListenBrainzClient(settings(fake, listens=37)) as client:
        assert await client.recent_listens("rob") == []
        await client.recent_listens("rob", 5000)
    assert [call.query["count"] for call in fake.calls] == ["37", "1000"]


async def test_a_username_is_quoted_into_one_path_segment():
    fake = FakeListenBrainz(users={"a/b c": [listen("x", "y")]})
    async with running(fake), ListenBrainzClient(settings(fake)) as client:
        assert len(await client.recent_listens("a/b c")) == 1


async def test_an_unknown_user_is_said_by_name():
    async with running(FakeListenBrainz()) as fake, ListenBrainzClient(settings(fake)) as client:
        with pytest.raises(UnknownListenBrainzUser, match="nobody-here"):
            await client.listen_count("nobody-here")
    assert len(fake.calls) == 1  # a 404 is an answer, not tried again


async def test_a_429_waits_the_reset_in_it_names_then_answers():
    fake = FakeListenBrainz(users={"rob": [listen("x", "y")]})
    fake.fail_next.append((429, {"X-RateLimit-Reset-In": "0.4", "X-RateLimit-Remaining": "0"}))
    async with running(fake), ListenBrainzClient(settings(fake)) as client:
        assert len(await client.recent_listens("rob")) == 1
    assert len(fake.calls) == 2
    assert fake.calls[1].at - fake.calls[0].at >= 0.4


async def test_a_429_whose_wait_does_not_fit_says_when_to_try_again():
    fake = FakeListenBrainz(users={"rob": []})
    fake.fail_next.append((429, {"X-RateLimit-Reset-In": "42"}))
    async with running(fake), ListenBrainzClient(settings(fake)) as client:
        started = time.monotonic()
        with pytest.raises(ListenBrainzUnavailable, match="try again in 42 seconds"):
            await client.recent_listens("rob")
        assert time.monotonic() - started < 2.0  # it did not sit out the 42 s
        # The window is remembered: the next question does not call before it ends.
        with pytest.raises(ListenBrainzUnavailable, match="try again in"):
            await client.listen_count("rob")
    assert len(fake.calls) == 1


async def test_remaining_zero_holds_the_next_call_until_the_window_resets():
    fake = FakeListenBrainz(users={"rob": []}, remaining=0, reset_in=0.5)
    async with running(fake), ListenBrainzClient(settings(fake)) as client:
        await client.listen_count("rob")
        await client.listen_count("rob")
    assert fake.calls[1].at - fake.calls[0].at >= 0.5


async def test_calls_are_at_least_min_interval_apart():
    fake = FakeListenBrainz(users={"rob": []})
    async with running(fake), ListenBrainzClient(settings(fake, min_interval_seconds=0.3)) as client:
        for _ in range(3):
            await client.listen_count("rob")
    gaps = [later.at - earlier.at for earlier, later in zip(fake.calls, fake.calls[1:], strict=False)]
    assert len(gaps) == 2 and min(gaps) >= 0.3


async def test_questions_queued_behind_others_give_up_at_their_own_deadline():
    fake = FakeListenBrainz(users={"rob": []}, delay=0.4)
    async with running(fake), ListenBrainzClient(settings(fake, total_seconds=0.6, timeout_seconds=0.5)) as client:
        started = time.monotonic()
        outcomes = await asyncio.gather(*(client.listen_count("rob") for _ in range(4)), return_exceptions=True)
        took = time.monotonic() - started
    assert outcomes[0] == 0
    refused = [o for o in outcomes if isinstance(o, ListenBrainzUnavailable)]
    assert refused and all("try again" in str(o) for o in refused)
    assert took < 1.2  # not 4 x 0.4 s one after another
    assert len(fake.calls) < 4


async def test_a_5xx_is_tried_again_and_then_answers():
    fake = FakeListenBrainz(users={"rob": [listen("x", "y")]})
    fake.fail_next.append((503, {}))
    async with running(fake), ListenBrainzClient(settings(fake)) as client:
        assert len(await client.recent_listens("rob")) == 1
    assert len(fake.calls) == 2


async def test_ListenBrainz_down_is_said_after_the_configured_tries():
    fake = FakeListenBrainz(users={"rob": []})
    fake.fail_next.extend([(500, {})] * 5)
    async with running(fake), ListenBrainzClient(settings(fake, attempts=3)) as client:
        with pytest.raises(ListenBrainzUnavailable, match="answered 500"):
            await client.recent_listens("rob")
    assert len(fake.calls) == 3


async def test_a_slow_answer_times_out_within_the_total_bound():
    fake = FakeListenBrainz(users={"rob": []}, delay=5.0)
    async with running(fake), ListenBrainzClient(settings(fake, timeout_seconds=0.3, total_seconds=1.0)) as client:
        started = time.monotonic()
        with pytest.raises(ListenBrainzUnavailable, match=r"longer than 0\.3 s"):
            await client.recent_listens("rob")
        took = time.monotonic() - started
    assert took < 1.5
    assert 2 <= len(fake.calls) <= 3


async def test_a_server_that_is_not_there_is_said_clearly():
    async with running(FakeListenBrainz()) as fake:
        url = fake.url
    async with ListenBrainzClient(dataclasses.replace(FAST, api_url=url, attempts=2)) as client:
        with pytest.raises(ListenBrainzUnavailable, match="could not be reached"):
            await client.listen_count("rob")


async def test_a_user_with_no_listens_gets_an_empty_list():
    async with running(FakeListenBrainz(users={"quiet": []})) as fake, ListenBrainzClient(settings(fake)) as client:
        assert await client.recent_listens("quiet") == []
        assert await client.listen_count("quiet") == 0


def test_listens_without_title_or_artist_are_left_out_and_odd_documents_refused():
    document = {
        "payload": {
            "listens": [
                listen("", "Nobody"),
                {"track_metadata": "not a dict"},
                listen("Song", "Artist", mbid="  ABC  "),
                {"listened_at": True, "track_metadata": {"track_name": "T", "artist_name": "A"}},
            ]
        }
    }
    got = parse_listens(document)
    assert [(one.title, one.recording_mbid, one.listened_at) for one in got] == [
        ("Song", "abc", 1_700_000_000),
        ("T", None, None),
    ]
    with pytest.raises(ListenBrainzUnavailable):
        parse_listens({"payload": {"listens": "nope"}})


@pytest.mark.parametrize("typed", ["", "   ", " rob", "rob ", "x" * 65, "a\nb", ".", ".."])
def test_usernames_that_cannot_be_are_refused_not_changed(typed):
    with pytest.raises(BadUsername):
        check_username(typed)
    assert check_username("Rob_the-listener.2") == "Rob_the-listener.2"


async def test_a_user_whose_listens_are_not_shared_is_said_so():
    fake = FakeListenBrainz(users={"hidden": []})
    fake.fail_next.append((403, {}))
    async with running(fake), ListenBrainzClient(settings(fake)) as client:
        with pytest.raises(ListenBrainzError, match="does not share the listens of “hidden”"):
            await client.recent_listens("hidden")
    assert len(fake.calls) == 1


@settings_of_hypothesis(max_examples=60)
@given(typed=st.text(max_size=80))
@example(typed="..")
@example(typed="a/../b?c=d#e%2F")
async def test_any_typed_name_is_refused_or_asked_about_as_exactly_that_one_user(typed):
    """Whatever is typed: a clear refusal without a call, or one call whose path names exactly
    that user (one path segment, nothing added, nothing dropped)."""
    fake = FakeListenBrainz()
    async with running(fake), ListenBrainzClient(dataclasses.replace(FAST, attempts=1)) as client:
        client.settings = dataclasses.replace(client.settings, api_url=fake.url)
        try:
            check_username(typed)
        except BadUsername:
            with pytest.raises(BadUsername):
                await client.listen_count(typed)
            assert fake.calls == []
            return
        with pytest.raises(UnknownListenBrainzUser) as caught:
            await client.listen_count(typed)
    assert caught.value.username == typed
    assert len(fake.calls) == 1 and fake.calls[0].path == f"/1/user/{typed}/listen-count"
