"""/retrain with linked members' listens: only for servers that opted in, each matched song
weighted like a 👍 in the member's one listener row, accounts ListenBrainz cannot give skipped."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from fake_listenbrainz import FakeListenBrainz, listen, running
from planted_data import ITEMS_PER_GENRE, write_config, write_planted_dataset

from recommender.cli.main import main as cli_main
from recommender.config import load_config
from recommender.feedback.log import FeedbackLog
from recommender.listenbrainz.training import _run, linked_listening
from recommender.retrain import retrain
from recommender.store import ModelStore

GUILD, OTHER_GUILD = 111, 222
FAN, ELSEWHERE, GONE = 7, 8, 9


@pytest.fixture
def env(tmp_path):
    config_path = write_config(tmp_path, "[evaluation]\nk = 5\n")
    config = load_config(config_path)
    dataset = write_planted_dataset(config.datasets_dir)
    return config_path, config, dataset


def genre_listens(genre: int, songs: int = 4) -> list[dict]:
    """Listens of one genre's songs (planted titles "Song i" by "Artist g"), twice each, and one
    song the catalog does not have."""
    played = [listen(f"Song {genre * ITEMS_PER_GENRE + i}", f"Artist {genre}") for i in range(songs)]
    return [*played, *played, listen("Not In The Catalog", "Nobody")]


async def linked_log(config) -> None:
    async with FeedbackLog.open(config.database_path) as log:
        for user, guild, name in ((FAN, GUILD, "fan"), (ELSEWHERE, OTHER_GUILD, "elsewhere"), (GONE, GUILD, "gone")):
            await log.record_answer(guild_id=guild, user_id=user, command="soundalike", suggestions=[(1, "song0", 1.0)])
            await log.link_account(user, "listenbrainz", name)


def opted_in(config, url: str, guilds: list[int]):
    settings = dataclasses.replace(
        config.listenbrainz, api_url=url, train_from_linked=guilds, min_interval_seconds=0.0, total_seconds=3.0
    )
    return dataclasses.replace(config, listenbrainz=settings)


async def test_only_opted_in_servers_linked_members_are_read(env):
    _, config, dataset = env
    await linked_log(config)
    fake = FakeListenBrainz(users={"fan": genre_listens(0), "elsewhere": genre_listens(1)})
    async with running(fake):
        pairs, summary = await asyncio.to_thread(
            linked_listening, opted_in(config, fake.url, [GUILD]), dataset, config.database_path
        )
        assert {call.path for call in fake.calls} == {"/1/user/fan/listens", "/1/user/gone/listens"}
        fake.calls.clear()
        nothing, none = await asyncio.to_thread(
            linked_listening, opted_in(config, fake.url, []), dataset, config.database_path
        )
        assert fake.calls == [] and nothing == [] and none.members == 0
    assert sorted(pairs) == [(f"discord:{FAN}", f"song{i}") for i in range(4)]
    assert summary.to_dict() == {"members": 2, "read": 1, "unavailable": 1, "listens": 9, "matched": 8, "songs": 4}


async def test_a_retrain_learns_the_listens_weighted_like_a_like(env):
    config_path, config, dataset = env
    assert cli_main(["--config", str(config_path), "train", "--dataset", "planted", "--no-eval", "--quiet"]) == 0
    await linked_log(config)
    fake = FakeListenBrainz(users={"fan": genre_listens(0), "elsewhere": genre_listens(1)})
    async with running(fake):
        config = opted_in(config, fake.url, [GUILD])
        likes = [(f"discord:{FAN}", "song5"), ("discord:99", "song6")]
        result = await asyncio.to_thread(retrain, config, "planted", read_feedback=lambda path: likes, tolerance=1.0)
    assert result["promoted"] is True
    assert result["listening"]["matched"] == 8 and result["listening"]["members"] == 2
    # The fan's 👍 and listens make one row; the other member's 👍 another: 2 rows, 4 + 1 + 1 songs.
    assert result["feedback"]["members"] == 2 and result["feedback"]["likes"] == 6
    manifest = ModelStore.for_dataset(config.models_dir, "planted").read_manifest(result["version"])
    assert manifest["training"]["users"] == dataset.n_users + 2
    assert manifest["feedback"]["listening"]["songs"] == 4


async def test_reading_from_inside_a_running_event_loop_runs_on_a_thread_of_its_own():
    # asyncio.run would refuse here ("cannot be called from a running event loop").
    assert _run(asyncio.sleep(0, result="read")) == "read"
    assert await asyncio.to_thread(_run, asyncio.sleep(0, result="plain")) == "plain"
