"""The application object (recommender/app/core.py): everything a member or an admin can do,
on a real feedback log, a real compute pool and a tiny fake service."""

from __future__ import annotations

import dataclasses
import sqlite3
from unittest import mock

import pytest
from bot_mocks import FakeService

from recommender.app.answers import ArtistDidNotMatch, BlockOutcome, Member, Rated, Request
from recommender.app.core import Erased, NextPage, NoNextPage, Rollback, Soundalike
from recommender.app.limits import ComputePool
from recommender.app.retrainer import Retrainer, RetrainOutcome
from recommender.config import Config
from recommender.errors import ModelError
from recommender.feedback.log import FeedbackLog
from recommender.service import NotEnoughHistory

GUILD, OTHER_GUILD = 10, 20
ALICE, BOB = Member(GUILD, 1), Member(GUILD, 2)
HEY_YA = "s-heyya"


@pytest.fixture
async def app(tmp_path):
    pool = ComputePool(per_guild=2, max_queue=4, workers=1)
    retrainer = mock.create_autospec(Retrainer, instance=True, spec_set=True)
    retrainer.running = False
    async with FeedbackLog.open(tmp_path / "log.sqlite3") as feedback_log:
        yield Soundalike(Config(), FakeService(), feedback_log, pool, retrainer)
    pool.close()


async def answer_ids(app: Soundalike, request: Request, member: Member = ALICE) -> list[str]:
    answer = await app.answer(request, member, pool_key=member.guild_id)
    return [s.item_id for s in answer.suggestions]


async def logged_answer(app: Soundalike, request: Request, member: Member = ALICE, **logging) -> int:
    answer = await app.answer(request, member)
    return await app.log_answer(answer, request, member, started=0.0, typed_title="typed", **logging)


async def test_blocks_are_per_server_and_dislikes_per_member_and_seed(app):
    request = Request("soundalike", (HEY_YA,), 5)
    assert (await answer_ids(app, request))[0] == "s-hello-a"
    await app.feedback_log.block(GUILD, "s-hello-a", by=BOB.user_id)
    assert "s-hello-a" not in await answer_ids(app, request)
    assert "s-hello-a" in await answer_ids(app, request, Member(OTHER_GUILD, ALICE.user_id))

    query = await logged_answer(app, request)  # shows s-hello-l first now
    turn_down = {"value": -1, "position": 1, "item_id": "s-hello-l", "query_id": query}
    assert await app.rate(ALICE, **turn_down) is Rated.RECORDED
    assert "s-hello-l" not in await answer_ids(app, request)
    assert "s-hello-l" in await answer_ids(app, request, BOB)
    # Another seed's answers still hold it; a mix and /foryou leave it out.
    assert "s-hello-l" in await answer_ids(app, Request("soundalike", ("s-jude",), 5))
    assert "s-hello-l" not in await answer_ids(app, Request("mix", (HEY_YA, "s-jude"), 5))
    # The same press again takes it back.
    assert await app.rate(ALICE, **turn_down) is Rated.TAKEN_BACK
    assert "s-hello-l" in await answer_ids(app, request)
    assert await app.rate(ALICE, value=1, position=9, item_id=None, query_id=query) is Rated.NOT_FOUND


async def test_foryou_folds_in_the_members_likes_in_this_server_and_leaves_out_rated_and_blocked(app):
    request = Request("foryou", (), 5, novelty="deep")
    with pytest.raises(NotEnoughHistory):
        await answer_ids(app, request)
    query = await logged_answer(app, Request("soundalike", (HEY_YA,), 5))
    for position, value in ((1, 1), (2, 1), (3, 1), (4, -1)):
        await app.rate(ALICE, value=value, position=position, item_id=None, query_id=query)
    await app.feedback_log.block(GUILD, "s-heyya", by=BOB.user_id)
    await answer_ids(app, request)
    name, liked, count, excluded = [call for call in app.service.calls if call[0] == "for_you"][-1]
    assert name == "for_you" and set(liked) == {"s-hello-a", "s-hello-l", "s-msjackson"} and count == 5
    assert set(excluded) == {"s-roses", "s-heyya"} and app.service.options[-1]["novelty"] == "deep"
    with pytest.raises(NotEnoughHistory):  # likes count per server
        await answer_ids(app, request, Member(OTHER_GUILD, ALICE.user_id))


async def test_an_answer_is_logged_with_its_request_and_what_was_shown(app):
    request = Request("soundalike", (HEY_YA,), 3, offset=2, novelty="deep", per_artist_cap=1)
    query = await logged_answer(app, request, channel_id=7, message_id=42, extra_params={"console": True})
    logged = await app.feedback_log.query_for_message(42)
    assert logged is not None and logged.id == query and logged.resolved_item_id == HEY_YA
    assert logged.params == {**request.params(), "console": True} and logged.typed_title == "typed"
    assert [s.position for s in logged.suggestions] == [3, 4, 5]  # numbered from the page's offset
    assert Request.from_logged(logged) == request


async def test_more_goes_on_from_a_logged_answer_or_says_why_not(app):
    assert await app.next_page(404, ALICE.user_id) is NoNextPage.NO_RECORD
    await logged_answer(app, Request("soundalike", (HEY_YA,), 3), message_id=1)
    page = await app.next_page(1, BOB.user_id)  # anyone may go on with a /soundalike answer
    assert page == NextPage(Request("soundalike", (HEY_YA,), 3, offset=3), "typed", None)
    rated = [("s-hello-a", 1), ("s-hello-l", 2), ("s-msjackson", 3)]
    query = await logged_answer(app, Request("soundalike", (HEY_YA,), 3), message_id=2)
    for item_id, position in rated:
        await app.rate(ALICE, value=1, position=position, item_id=item_id, query_id=query)
    await logged_answer(app, Request("foryou", (), 5), message_id=3)
    assert await app.next_page(3, BOB.user_id) is NoNextPage.NOT_YOURS
    assert isinstance(await app.next_page(3, ALICE.user_id), NextPage)
    await logged_answer(app, Request("soundalike", (HEY_YA,), 5, offset=195), message_id=4)
    assert await app.next_page(4, ALICE.user_id) is NoNextPage.AS_FAR_AS_I_GO


async def test_a_rating_button_rates_the_song_its_position_showed(app):
    await logged_answer(app, Request("soundalike", (HEY_YA,), 3), message_id=5)
    assert (await app.rate_shown(404, ALICE.user_id, value=-1, position=1)).outcome is Rated.NOT_FOUND
    assert (await app.rate_shown(5, ALICE.user_id, value=-1, position=9)).outcome is Rated.NOT_FOUND
    rating = await app.rate_shown(5, ALICE.user_id, value=-1, position=1)
    assert rating.outcome is Rated.RECORDED and rating.per_seed
    assert await app.feedback_log.disliked_items(GUILD, ALICE.user_id, HEY_YA) == {"s-hello-a"}
    assert (await app.rate_shown(5, ALICE.user_id, value=-1, position=1)).outcome is Rated.TAKEN_BACK
    await logged_answer(app, Request("mix", (HEY_YA, "s-jude"), 3), message_id=6)
    assert not (await app.rate_shown(6, ALICE.user_id, value=-1, position=1)).per_seed


async def test_block_and_unblock_by_title_or_id(app):
    async def block(song, artist=None):
        return await app.block(BOB, song, artist)

    async def unblock(song):
        return await app.unblock(BOB, song)

    assert (await block("Hey Ya!")).outcome is BlockOutcome.BLOCKED
    assert (await block("s-heyya")).outcome is BlockOutcome.ALREADY_BLOCKED
    assert (await block("Hello")).outcome is BlockOutcome.AMBIGUOUS
    assert (await block("Qwerty")).outcome is BlockOutcome.NOT_FOUND
    far = await block("Hey Yaa")  # one far match: asked about, not blocked
    assert far.outcome is BlockOutcome.AMBIGUOUS and far.song is None
    assert (await block("Hello", "Lionel Richie")).song.item_id == "s-hello-l"  # the artist narrows
    with pytest.raises(ArtistDidNotMatch, match=r"^No song by “Adele” matches “Hey Jude”\.$"):
        await block("Hey Jude", "Adele")  # nothing blocked in its place
    # "Hello" names two songs, but only one of them is blocked: that one is meant.
    result = await unblock("Hello")
    assert result.outcome is BlockOutcome.UNBLOCKED and result.song.item_id == "s-hello-l"
    assert (await unblock("Hey Jude")).outcome is BlockOutcome.NOT_BLOCKED
    assert [song.item_id for song in await app.blocked_songs(GUILD)] == ["s-heyya"]
    assert (await unblock("s-heyya")).outcome is BlockOutcome.UNBLOCKED
    assert await app.blocked_songs(GUILD) == []


async def test_stats_name_the_asked_for_songs_and_forgetting_erases_a_member(app):
    query = await logged_answer(app, Request("soundalike", (HEY_YA,), 3))
    await app.rate(ALICE, value=1, position=1, item_id="s-hello-a", query_id=query)
    stats = await app.stats(GUILD, top_songs=5)
    assert [(row.model_version, row.answers, row.up, row.down) for row in stats.versions] == [("v1", 1, 1, 0)]
    assert stats.top_songs == [("Hey Ya! — OutKast", 1)] and stats.days
    assert await app.forget(ALICE.user_id) == Erased(questions=1, ratings=1)
    assert (await app.stats(GUILD, top_songs=5)).versions == []


async def test_questions_past_the_retention_are_erased(app, tmp_path):
    await logged_answer(app, Request("soundalike", (HEY_YA,), 3))
    with sqlite3.connect(tmp_path / "log.sqlite3") as db:
        db.execute("UPDATE queries SET created_at = '2000-01-01T00:00:00+00:00'")
    assert await app.expire_old_questions() == Erased(questions=1, ratings=0)
    app.config = dataclasses.replace(app.config, bot=dataclasses.replace(app.config.bot, retention_days=0))
    await logged_answer(app, Request("soundalike", (HEY_YA,), 3))
    with sqlite3.connect(tmp_path / "log.sqlite3") as db:
        db.execute("UPDATE queries SET created_at = '2000-01-01T00:00:00+00:00'")
    assert await app.expire_old_questions() == Erased(questions=0, ratings=0)  # 0 days keeps them


async def test_a_retrain_serves_what_it_promoted_and_says_what_could_not_be_loaded(app):
    async def no_progress(progress):
        pass

    app.retrainer.run.return_value = RetrainOutcome(False, None, "not better")
    kept = await app.retrain(no_progress, started_by="admin")
    assert kept.serving == "v1" and ("reload", None) not in app.service.calls
    app.retrainer.run.return_value = RetrainOutcome(True, "v2", "better")
    promoted = await app.retrain(no_progress, started_by="admin")
    assert promoted.serving == "v2" and promoted.not_loaded is None and app.serving_version == "v2"

    class Unloadable(FakeService):
        def reload(self, version=None):
            raise ModelError("model tiny/v3: item_factors.npy fails its checksum")

    app.service = Unloadable()
    failed = await app.retrain(no_progress, started_by="admin")
    assert isinstance(failed.not_loaded, ModelError) and failed.serving == "v1"


async def test_model_report_and_rollback(app):
    await logged_answer(app, Request("soundalike", (HEY_YA,), 3))
    report = await app.model_report(GUILD)
    assert report.info["version"] == "v1" and report.feedback is not None and report.feedback.answers == 1
    assert (await app.model_report()).feedback is None  # no server asked about
    assert (await app.model_report(OTHER_GUILD)).feedback is None  # nothing logged there
    assert await app.rollback() == Rollback("v1", "v0")


async def test_open_builds_everything_in_one_place_and_closes_it(tmp_path):
    config = Config()
    config = dataclasses.replace(config, bot=dataclasses.replace(config.bot, database=str(tmp_path / "log.sqlite3")))
    async with Soundalike.open(config, service=FakeService(), workers=1) as app:
        assert app.pool.workers == 1 and app.retrainer.config is config
        assert (await app.look_up("Hey Ya!")).seed.item_id == HEY_YA
        await logged_answer(app, Request("soundalike", (HEY_YA,), 3))
    assert (tmp_path / "log.sqlite3").exists()
    with pytest.raises(RuntimeError):  # the pool is shut down with the rest
        await app.pool.run(None, int)
