"""MemberListening: links checked on ListenBrainz, listens held in memory for cache_seconds
only, dropped at unlink, one fetch for two questions at once, and problems said not raised."""

from __future__ import annotations

import asyncio
import dataclasses
from types import SimpleNamespace

import pytest
from fake_listenbrainz import FakeListenBrainz, listen, running
from title_catalog import CATALOG, make_dataset

from recommender.app.limits import ComputePool
from recommender.app.listening import LISTENBRAINZ, MemberListening
from recommender.config import Config, ListenBrainzConfig
from recommender.feedback.log import FeedbackLog
from recommender.listenbrainz.client import BadUsername, ListenBrainzClient, UnknownListenBrainzUser
from recommender.search.resolver import TitleResolver

USER = 42


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    dataset = make_dataset(tmp_path_factory.mktemp("catalog"), CATALOG)
    return SimpleNamespace(dataset=dataset, resolver=TitleResolver.build(dataset, cache=False))


@pytest.fixture
async def world(tmp_path, service):
    fake = FakeListenBrainz(users={"rob": [listen("Wonderwall", "Oasis"), listen("Roses", "OutKast")] * 2})
    pool = ComputePool(per_guild=2, max_queue=8, workers=1)
    async with running(fake), FeedbackLog.open(tmp_path / "log.sqlite3") as feedback_log:
        settings = ListenBrainzConfig(api_url=fake.url, min_interval_seconds=0.0, cache_seconds=60.0, listens=50)
        config = dataclasses.replace(Config(), listenbrainz=settings)
        clock = Clock()
        listening = MemberListening(
            config, service, feedback_log, pool, client=ListenBrainzClient(settings), clock=clock
        )
        try:
            yield SimpleNamespace(fake=fake, log=feedback_log, listening=listening, clock=clock)
        finally:
            await listening.close()
            pool.close()


def listens_calls(fake: FakeListenBrainz) -> int:
    return sum(call.path.endswith("/listens") for call in fake.calls)


async def test_nothing_linked_means_no_listening_and_no_call(world):
    assert await world.listening.for_member(USER) is None
    assert world.fake.calls == []


async def test_a_link_is_checked_first_and_bad_names_never_reach_the_log(world):
    with pytest.raises(UnknownListenBrainzUser):
        await world.listening.link(USER, "ghost")
    with pytest.raises(BadUsername):
        await world.listening.link(USER, " rob")
    assert await world.log.linked_account(USER, LISTENBRAINZ) is None
    linked = await world.listening.link(USER, "rob")
    assert (linked.account.username, linked.listens) == ("rob", 4)


async def test_listens_are_held_for_cache_seconds_then_read_again(world):
    await world.listening.link(USER, "rob")
    first = await world.listening.for_member(USER)
    assert first is not None and first.matched is not None
    assert (first.matched.listens, first.matched.matched, len(first.songs)) == (4, 4, 2)
    assert first.note() == "ListenBrainz rob: 4 of your 4 latest listens matched the catalog, 2 songs."
    world.clock.now += 59
    await world.listening.for_member(USER)
    assert listens_calls(world.fake) == 1
    world.clock.now += 2
    await world.listening.for_member(USER)
    assert listens_calls(world.fake) == 2
    assert world.fake.calls[-1].query == {"count": "50"}


async def test_unlink_drops_the_listens_held(world):
    await world.listening.link(USER, "rob")
    await world.listening.for_member(USER)
    assert (await world.listening.unlink(USER)).username == "rob"
    assert await world.listening.for_member(USER) is None
    await world.listening.link(USER, "rob")
    await world.listening.for_member(USER)
    assert listens_calls(world.fake) == 2  # read again, not served from before the unlink


async def test_two_questions_at_once_share_one_fetch(world):
    await world.listening.link(USER, "rob")
    world.fake.delay = 0.3
    both = await asyncio.gather(world.listening.for_member(USER), world.listening.for_member(USER))
    assert both[0] == both[1] and listens_calls(world.fake) == 1


async def test_listenbrainz_down_is_a_problem_to_say_not_an_error(world):
    await world.listening.link(USER, "rob")
    world.fake.fail_next.extend([(500, {})] * 3)
    got = await world.listening.for_member(USER)
    assert got is not None and got.matched is None and got.songs == ()
    assert got.note().startswith("ListenBrainz rob: your listens could not be read: ListenBrainz answered 500")
    world.fake.users.pop("rob")  # the account was deleted on ListenBrainz
    gone = await world.listening.for_member(USER)
    assert gone is not None and "no longer knows that user" in gone.note()
