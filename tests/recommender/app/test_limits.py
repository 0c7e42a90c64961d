"""Cooldowns and the compute pool: a burst waits its turn (servers take turns); only a full
queue is refused at once."""

from __future__ import annotations

import asyncio
import threading

import pytest

from recommender.app.limits import Busy, ComputePool, Cooldowns


def test_cooldown_per_member_with_a_clock():
    now = [0.0]
    cooldowns = Cooldowns(3.0, clock=lambda: now[0])
    assert cooldowns.retry_after("ann") == 0.0
    assert cooldowns.retry_after("ann") == 3.0
    assert cooldowns.retry_after("bob") == 0.0  # members do not share a cooldown
    now[0] = 2.0
    assert cooldowns.retry_after("ann") == pytest.approx(1.0)
    now[0] = 3.0
    assert cooldowns.retry_after("ann") == 0.0
    cooldowns.reset("ann")
    assert cooldowns.retry_after("ann") == 0.0


def test_zero_cooldown_never_refuses():
    cooldowns = Cooldowns(0.0)
    assert all(cooldowns.retry_after("ann") == 0.0 for _ in range(3))


def test_busy_message_rounds_up_to_whole_seconds():
    assert str(Busy(0.01)) == "Busy, try again in 1 s."
    assert Busy(4.2).retry_after == 5


async def test_work_runs_on_a_worker_thread_not_the_event_loop():
    pool = ComputePool(per_guild=2, max_queue=2, workers=1)
    try:
        name = await pool.run(1, lambda: threading.current_thread().name)
        assert name.startswith("soundalike-compute") and name != threading.current_thread().name
    finally:
        pool.close()


async def test_per_guild_limit_makes_that_guild_wait_its_turn_not_refused():
    pool = ComputePool(per_guild=1, max_queue=5, workers=2)
    gate = threading.Event()
    try:
        first = asyncio.create_task(pool.run("guild-a", gate.wait, 5))
        await asyncio.sleep(0)
        assert pool.would_wait("guild-a") and not pool.would_wait("guild-b")
        second = asyncio.create_task(pool.run("guild-a", lambda: "waited its turn"))
        await asyncio.sleep(0)
        assert pool.waiting == 1, "the second request of guild-a waits: a worker is free, its server's share is not"
        assert await pool.run("guild-b", lambda: "other guild") == "other guild"
        assert not second.done()
        gate.set()
        assert await first is True
        assert await second == "waited its turn"
        assert pool.in_flight == 0 and pool.waiting == 0
    finally:
        gate.set()
        pool.close()


async def test_servers_take_turns_so_a_burst_in_one_does_not_hold_up_another():
    pool = ComputePool(per_guild=4, max_queue=100, workers=1)
    gate = threading.Event()
    order: list[str] = []
    try:
        holder = asyncio.create_task(pool.run("busy", gate.wait, 5))
        await asyncio.sleep(0)
        burst = [asyncio.create_task(pool.run("busy", order.append, f"busy-{n}")) for n in range(5)]
        await asyncio.sleep(0)
        quiet = asyncio.create_task(pool.run("quiet", order.append, "quiet"))
        await asyncio.sleep(0)
        assert pool.waiting == 6
        gate.set()
        await asyncio.gather(holder, *burst, quiet)
        assert order.index("quiet") <= 1, f"the quiet server waited behind the whole burst: {order}"
        assert [name for name in order if name != "quiet"] == [f"busy-{n}" for n in range(5)], "in order per server"
    finally:
        gate.set()
        pool.close()


async def test_a_request_cancelled_while_waiting_leaves_the_line():
    pool = ComputePool(per_guild=4, max_queue=100, workers=1)
    gate = threading.Event()
    try:
        holder = asyncio.create_task(pool.run("g", gate.wait, 5))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(pool.run("g", lambda: "never"))
        await asyncio.sleep(0)
        assert pool.waiting == 1
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert pool.waiting == 0
        gate.set()
        await holder
        assert await pool.run("g", lambda: "next") == "next"
        assert pool.in_flight == 0
    finally:
        gate.set()
        pool.close()


async def test_queue_bound_refuses_beyond_workers_plus_queue():
    pool = ComputePool(per_guild=10, max_queue=1, workers=1)
    gate = threading.Event()
    try:
        running = asyncio.create_task(pool.run(None, gate.wait, 5))
        waiting = asyncio.create_task(pool.run(None, gate.wait, 5))
        await asyncio.sleep(0)
        assert pool.in_flight == 2 and pool.waiting == 1
        with pytest.raises(Busy) as busy:
            await pool.run(None, lambda: "never")
        assert busy.value.retry_after >= 1
        gate.set()
        assert await running and await waiting
    finally:
        gate.set()
        pool.close()


async def test_a_failing_job_frees_its_slot():
    pool = ComputePool(per_guild=1, max_queue=0, workers=1)
    try:
        with pytest.raises(ZeroDivisionError):
            await pool.run("g", lambda: 1 / 0)
        assert await pool.run("g", lambda: 2) == 2
    finally:
        pool.close()


async def test_the_next_step_of_a_request_under_way_goes_ahead_of_new_requests():
    pool = ComputePool(per_guild=4, max_queue=100, workers=1)
    gate = threading.Event()
    order: list[str] = []
    try:
        holder = asyncio.create_task(pool.run("g", gate.wait, 5))
        await asyncio.sleep(0)
        new = [asyncio.create_task(pool.run("g", order.append, f"new-{n}")) for n in range(3)]
        await asyncio.sleep(0)
        resumed = [asyncio.create_task(pool.run("g", order.append, f"answer-{n}", resume=True)) for n in range(2)]
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(holder, *new, *resumed)
        assert order == ["answer-0", "answer-1", "new-0", "new-1", "new-2"]
    finally:
        gate.set()
        pool.close()
