"""Keeping the bot responsive: per-member cooldowns and a bounded compute pool.

Service calls (resolve, similar, ...) are CPU work, so they run on a small thread pool and
never on the event loop. Requests that cannot start soon are refused at once with
:class:`Busy` ("try again in N s") instead of piling up: at most ``per_guild`` requests of
one server are computing or waiting, and at most ``max_queue`` wait over all servers.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# Compute threads: enough to overlap a few requests; the heavy lifting inside (numpy,
# implicit) releases the GIL, and more threads would only fight over the cores.
DEFAULT_WORKERS = max(1, min(4, os.cpu_count() or 1))
# Until a request has been timed, assume this many seconds per request.
INITIAL_ESTIMATE_S = 0.2


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
    """A small thread pool with admission control.

    ``await pool.run(guild_id, fn, *args)`` runs ``fn`` on a worker thread, or raises
    :class:`Busy` at once when the server already has ``per_guild`` requests in flight or
    ``max_queue`` requests are already waiting for a worker. ``guild_id=None`` (console,
    autocomplete) skips the per-server limit but not the global queue bound.
    """

    def __init__(self, *, per_guild: int, max_queue: int, workers: int = DEFAULT_WORKERS):
        if workers < 1:
            raise ValueError("a compute pool needs at least one worker")
        self.workers = workers
        self.per_guild = max(1, per_guild)
        self.max_queue = max(0, max_queue)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="soundalike-compute")
        self._slots = asyncio.Semaphore(workers)
        self._in_flight = 0  # waiting + running
        self._per_guild: dict[Hashable, int] = {}
        self._mean_seconds = INITIAL_ESTIMATE_S

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return max(0, self._in_flight - self.workers)

    def retry_after(self) -> float:
        """A rough wait: the queue ahead of a new request, drained by all workers."""
        return self._mean_seconds * (self.waiting + 1) / self.workers

    def check(self, guild_id: Hashable | None) -> None:
        """Raise Busy if a request for ``guild_id`` would be refused right now."""
        if guild_id is not None and self._per_guild.get(guild_id, 0) >= self.per_guild:
            raise Busy(self.retry_after())
        if self._in_flight >= self.workers + self.max_queue:
            raise Busy(self.retry_after())

    async def run(self, guild_id: Hashable | None, fn: Callable[..., T], *args, **kwargs) -> T:
        self.check(guild_id)
        self._in_flight += 1
        if guild_id is not None:
            self._per_guild[guild_id] = self._per_guild.get(guild_id, 0) + 1
        try:
            async with self._slots:
                started = time.perf_counter()
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
                elapsed = time.perf_counter() - started
                self._mean_seconds = 0.8 * self._mean_seconds + 0.2 * elapsed
                return result
        finally:
            self._in_flight -= 1
            if guild_id is not None:
                left = self._per_guild[guild_id] - 1
                if left:
                    self._per_guild[guild_id] = left
                else:
                    del self._per_guild[guild_id]

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
