"""Members' turns in the log: the cooldown every bot process shares (portable SQL)."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

from feedback_logs import SteppingClock, rows

from recommender.feedback.log import FeedbackLog

GUILD, OTHER_GUILD, ANN, BOB = 11, 12, 101, 102


async def test_a_turn_is_taken_once_per_cooldown_per_member_and_server(db_path: Path, clock: SteppingClock):
    async with FeedbackLog.open(db_path, clock=clock) as log:
        assert await log.claim_turn(GUILD, ANN, 3.0) == 0.0
        assert await log.claim_turn(GUILD, ANN, 3.0) == 3.0
        assert await log.claim_turn(GUILD, BOB, 3.0) == 0.0, "members do not share a turn"
        assert await log.claim_turn(OTHER_GUILD, ANN, 3.0) == 0.0, "nor do servers"
        clock.advance(seconds=2)
        assert await log.claim_turn(GUILD, ANN, 3.0) == 1.0
        clock.advance(seconds=1)
        assert await log.claim_turn(GUILD, ANN, 3.0) == 0.0, "the turn is over at its end"


async def test_a_turn_given_back_may_be_taken_again_at_once(db_path: Path, clock: SteppingClock):
    async with FeedbackLog.open(db_path, clock=clock) as log:
        assert await log.claim_turn(GUILD, ANN, 60.0) == 0.0
        assert await log.give_back_turn(GUILD, ANN) is True
        assert await log.give_back_turn(GUILD, ANN) is False, "nothing left to give back"
        assert await log.claim_turn(GUILD, ANN, 60.0) == 0.0


async def test_past_turns_are_dropped_and_running_ones_kept(db_path: Path, clock: SteppingClock):
    async with FeedbackLog.open(db_path, clock=clock) as log:
        await log.claim_turn(GUILD, ANN, 5.0)
        await log.claim_turn(GUILD, BOB, 60.0)
        clock.advance(seconds=10)
        assert await log.forget_past_turns() == 1
        assert await log.claim_turn(GUILD, BOB, 60.0) == 50.0
    assert rows(db_path, "SELECT user_id FROM member_turns") == [(BOB,)]


def _claim_in_a_process(path: str, start, results) -> None:
    async def claim() -> float:
        async with FeedbackLog.open(path) as log:
            start.wait(30)
            return await log.claim_turn(GUILD, ANN, 60.0)

    results.put(asyncio.run(claim()))


def test_of_processes_claiming_at_once_exactly_one_gets_the_turn(db_path: Path):
    """Four processes on one log file, each asking for the same member's turn at the same moment."""

    async def make() -> None:
        async with FeedbackLog.open(db_path):
            pass

    asyncio.run(make())  # created and migrated once, before the race
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=_claim_in_a_process, args=(str(db_path), start, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        start.set()
        waits = sorted(results.get(timeout=60) for _ in workers)
    finally:
        for worker in workers:
            worker.join(30)
    assert waits[0] == 0.0, "one process got the turn"
    # The others were refused, each told to wait what is left of the winner's minute (how much
    # is left depends on how quickly a loaded machine ran the processes, so only its bounds).
    assert all(0 < wait <= 60 for wait in waits[1:]), waits


async def test_a_burst_of_claims_is_decided_one_by_one_in_few_commits(db_path: Path, clock: SteppingClock):
    async with FeedbackLog.open(db_path, clock=clock) as log:
        commits = []
        real_write = log._write

        def counting(action: str):
            commits.append(action)
            return real_write(action)

        log._write = counting  # type: ignore[method-assign]
        members = [*range(200), 7, 7]  # member 7 asks three times in the burst
        waits = await asyncio.gather(*(log.claim_turn(GUILD, 1000 + member, 5.0) for member in members))
    assert waits.count(0.0) == 200, "every member's first claim wins"
    assert sorted(waits)[-2:] == [5.0, 5.0], "member 7's later claims wait"
    assert len(commits) < 20, f"{len(commits)} transactions for a burst of {len(members)} claims"
