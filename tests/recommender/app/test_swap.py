"""Every process serves what the store calls current: the model watcher (recommender.app.swap).

Two services opened on one copy of the demo data stand for two bot processes sharing a model
store: a model published through one store (or any other way) is served by the other after
its watcher looks, and a bad publish leaves it serving what it served.
"""

from __future__ import annotations

import asyncio
import logging

from demo_copies import alter_one_byte, copy_demo, republish

from recommender.app.swap import RETRY_REFUSED_S, ModelWatcher
from recommender.service import SoundalikeService
from recommender.store import ModelStore

HEY_YA = ("Hey Ya!", "OutKast")


def answer_version(service: SoundalikeService) -> str:
    seed = service.resolve(*HEY_YA).best
    assert seed is not None
    return service.similar(seed.item_id, count=3).model_version


async def test_a_model_published_elsewhere_is_served_after_one_look(tmp_path, demo_env, caplog):
    _, config = copy_demo(tmp_path, demo_env)
    here = SoundalikeService.open(config)
    elsewhere_store = ModelStore.for_dataset(config.models_dir, "demo")  # another process's view of the store
    watcher = ModelWatcher(here, 1.0)
    assert await watcher.check() is None, "nothing published yet"
    published = republish(elsewhere_store)
    assert answer_version(here) == "v1", "not before it looks"
    with caplog.at_level(logging.INFO, logger="recommender.app.swap"):
        assert await watcher.check() == published == "v2"
    assert answer_version(here) == "v2"
    assert any("swapped to model v2" in r.getMessage() and "(was v1)" in r.getMessage() for r in caplog.records)
    assert await watcher.check() is None, "one swap per publish"
    elsewhere_store.set_current("v1")  # a rollback elsewhere is followed too
    assert await watcher.check() == "v1" and answer_version(here) == "v1"


async def test_a_damaged_publish_is_reported_once_and_the_served_model_stays(tmp_path, demo_env, caplog):
    _, config = copy_demo(tmp_path, demo_env)
    here = SoundalikeService.open(config)
    store = ModelStore.for_dataset(config.models_dir, "demo")
    now = [0.0]
    watcher = ModelWatcher(here, 1.0, clock=lambda: now[0])
    bad = republish(store)
    alter_one_byte(store.folder / bad / "item_factors.npy")
    with caplog.at_level(logging.WARNING, logger="recommender.app.swap"):
        assert await watcher.check() is None
        assert await watcher.check() is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert (
        warnings[0].startswith(f"model {bad} was published but cannot be served (")
        and "still serving model v1" in warnings[0]
    )
    assert answer_version(here) == "v1"
    good = republish(store, "v1")  # the next publish is fine: served
    assert await watcher.check() == good and answer_version(here) == good


async def test_a_refused_version_is_tried_again_later(tmp_path, demo_env):
    _, config = copy_demo(tmp_path, demo_env)
    here = SoundalikeService.open(config)
    store = ModelStore.for_dataset(config.models_dir, "demo")
    now = [0.0]
    watcher = ModelWatcher(here, 1.0, clock=lambda: now[0])
    late = republish(store)
    factors = store.folder / late / "item_factors.npy"
    whole = factors.read_bytes()
    factors.write_bytes(whole[:100])  # a shared folder that shows the file late, say
    assert await watcher.check() is None
    factors.write_bytes(whole)
    assert await watcher.check() is None, "not tried again at once"
    now[0] += RETRY_REFUSED_S
    assert await watcher.check() == late


async def test_an_unreadable_pointer_is_reported_once_and_nothing_changes(tmp_path, demo_env, caplog):
    _, config = copy_demo(tmp_path, demo_env)
    here = SoundalikeService.open(config)
    pointer = config.models_dir / "demo" / "current"
    pointer.unlink()
    pointer.mkdir()  # reading it fails
    watcher = ModelWatcher(here, 1.0)
    with caplog.at_level(logging.WARNING, logger="recommender.app.swap"):
        assert await watcher.check() is None
        assert await watcher.check() is None
    assert len([r for r in caplog.records if "current-model pointer" in r.getMessage()]) == 1
    assert answer_version(here) == "v1"


async def test_the_watcher_runs_on_its_interval_until_cancelled(tmp_path, demo_env):
    _, config = copy_demo(tmp_path, demo_env)
    here = SoundalikeService.open(config)
    running = asyncio.create_task(ModelWatcher(here, 0.05).run())
    try:
        published = republish(ModelStore.for_dataset(config.models_dir, "demo"))
        for _ in range(600):  # bounded: 30 s
            if here.model.version == published:
                break
            await asyncio.sleep(0.05)
    finally:
        running.cancel()
    assert answer_version(here) == published
