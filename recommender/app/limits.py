"""Keeping the bot responsive: per-member cooldowns and a bounded compute pool.

Service calls (resolve, similar, ...) are CPU work, so they run on a small thread pool and
never on the event loop. A burst is not overload: Discord lets an acknowledged interaction be
answered within 15 minutes, so requests wait their turn (servers take turns, and at most
``per_guild`` of one server compute at once). Only real overload, ``max_queue`` requests
already waiting, is refused at once with :class:`Busy` ("try again in N s"); abuse by one
member is the cooldown's (:class:`Cooldowns`, shared between processes through the log).
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# Compute threads: enough to overlap a few requests; the heavy lifting inside (numpy,
# implicit) releases the GIL, and more threads would only fight over the cores.
DEFAULT_WORKERS = max(1, min(4, os.cpu_count() or 1))
# Until a request has been timed, assume this many seconds per request.
INITIAL_ESTIMATE_S = 0.2
_NOBODY = object()  # no server may take a free worker now


class Busy(Exception):
    """Too many requests right now; ``retry_after`` is a rough wait in seconds."""

    def __init__(self, retry_after: float):
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"Busy, try again in {self.retry_after} s.")


class Cooldowns:
    """One request per ``seconds`` per key (a member). ``clock`` is injectable for tests."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._next_allowed: dict[Hashable, float] = {}

    def retry_after(self, key: Hashable) -> float:
        """0.0 and start the member's cooldown if allowed now, else the seconds left."""
        if self.seconds <= 0:
            return 0.0
        now = self._clock()
        if len(self._next_allowed) > 10_000:  # forget members whose cooldown is over
            self._next_allowed = {k: t for k, t in self._next_allowed.items() if t > now}
        allowed_at = self._next_allowed.get(key, 0.0)
        if now < allowed_at:
            return allowed_at - now
        self._next_allowed[key] = now + self.seconds
        return 0.0

    def reset(self, key: Hashable) -> None:
        """Give back a member's turn (e.g. when their request was refused as busy)."""
        self._next_allowed.pop(key, None)


class ComputePool:
    """A small thread pool with admission control and fair turns between servers.

    ``await pool.run(guild_id, fn, *args)`` runs ``fn`` on a worker thread. When no worker is
    free, the request waits its turn: servers take turns (round robin), and one server has at
    most ``per_guild`` requests computing at once, so a burst in one server never holds up the
    others. Only when ``max_queue`` requests are already waiting is a new one refused at once
    with :class:`Busy` (real overload). ``guild_id=None`` (console, autocomplete) waits in a
    line of its own, with no per-server cap. ``resume=True`` marks the next step of a request
    already under way (the answer after its look-up): it goes ahead of its server's new
    requests, so requests are finished before more are started.
    """

    def __init__(self, *, per_guild: int, max_queue: int, workers: int = DEFAULT_WORKERS):
        if workers < 1:
            raise ValueError("a compute pool needs at least one worker")
        self.workers = workers
        self.per_guild = max(1, per_guild)
        self.max_queue = max(0, max_queue)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="soundalike-compute")
        self._free = workers
        self._running: dict[Hashable, int] = {}
        # Waiting requests per server, servers in the order their turn comes.
        self._lines: OrderedDict[Hashable, deque[tuple[bool, asyncio.Future[None]]]] = OrderedDict()
        self._waiting = 0
        self._mean_seconds = INITIAL_ESTIMATE_S

    @property
    def in_flight(self) -> int:
        """Requests computing or waiting."""
        return self.workers - self._free + self._waiting

    @property
    def waiting(self) -> int:
        return self._waiting

    def retry_after(self) -> float:
        """A rough wait: the queue ahead of a new request, drained by all workers."""
        return self._mean_seconds * (self._waiting + 1) / self.workers

    def estimated_wait(self) -> float:
        """Seconds a request arriving now would wait for a worker (0 when one is free)."""
        return 0.0 if self._free > 0 and not self._waiting else self.retry_after()

    def would_wait(self, guild_id: Hashable | None) -> bool:
        """Whether a request for ``guild_id`` would wait for its turn rather than start now."""
        return self._free <= 0 or (guild_id is not None and self._running.get(guild_id, 0) >= self.per_guild)

    def check(self, guild_id: Hashable | None) -> None:
        """Raise Busy if a request would be refused right now: the queue is full."""
        if self.would_wait(guild_id) and self._waiting >= self.max_queue:
            raise Busy(self.retry_after())

    async def run(self, guild_id: Hashable | None, fn: Callable[..., T], *args, resume: bool = False, **kwargs) -> T:
        self.check(guild_id)
        await self._take_turn(guild_id, resume)
        try:
            started = time.perf_counter()
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
            elapsed = time.perf_counter() - started
            self._mean_seconds = 0.8 * self._mean_seconds + 0.2 * elapsed
            return result
        finally:
            self._release(guild_id)

    async def _take_turn(self, guild_id: Hashable | None, resume: bool) -> None:
        if not self.would_wait(guild_id):
            self._start(guild_id)
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        line = self._lines.setdefault(guild_id, deque())
        if resume:  # behind the other resumed steps, ahead of new requests
            ahead = next((i for i, (resumed, _) in enumerate(line) if not resumed), len(line))
            line.insert(ahead, (True, turn))
        else:
            line.append((False, turn))
        self._waiting += 1
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # given a worker just as it was cancelled
                self._release(guild_id)
            else:
                self._leave_line(guild_id, turn)
            raise

    def _start(self, guild_id: Hashable | None) -> None:
        self._free -= 1
        if guild_id is not None:
            self._running[guild_id] = self._running.get(guild_id, 0) + 1

    def _leave_line(self, guild_id: Hashable | None, turn: asyncio.Future[None]) -> None:
        line = self._lines.get(guild_id)
        entry = next((entry for entry in line if entry[1] is turn), None) if line is not None else None
        if line is not None and entry is not None:
            line.remove(entry)
            self._waiting -= 1
            if not line:
                del self._lines[guild_id]

    def _release(self, guild_id: Hashable | None) -> None:
        self._free += 1
        if guild_id is not None:
            left = self._running[guild_id] - 1
            if left:
                self._running[guild_id] = left
            else:
                del self._running[guild_id]
        self._hand_out()

    def _hand_out(self) -> None:
        """Give free workers to waiting requests, one server after the other."""
        while self._free > 0:
            chosen = next(
                (key for key in self._lines if key is None or self._running.get(key, 0) < self.per_guild),
                _NOBODY,
            )
            if chosen is _NOBODY:
                return
            line = self._lines.pop(chosen)
            _, turn = line.popleft()
            if line:
                self._lines[chosen] = line  # back of the round
            self._waiting -= 1
            self._start(chosen)
            turn.set_result(None)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
