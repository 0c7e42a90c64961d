"""(f) throughput: many /soundalike at once through asyncio and the bot's compute pool."""

from __future__ import annotations

import asyncio
import time

from bench.steps.answering import ComputePath, compute_pool
from bench.steps.context import Context, percentiles
from bench.steps.serving import as_typed, open_service, query_songs, steady, titles_and_listeners


def throughput(ctx: Context, in_flight: int = 64) -> dict:
    """Many /soundalike at once through asyncio + a thread pool, as the bot runs them."""
    service = open_service()
    steady(service)
    titles, listeners, _ = titles_and_listeners(service)
    rng = ctx.rng(3)
    typed = [as_typed(titles[i], rng) for i in query_songs(ctx, titles, listeners, ctx.queries, 4)]
    path = ComputePath(service)
    path(typed[0])

    async def run() -> tuple[float, list[float], str, int]:
        pool, pool_name = compute_pool()
        # Stay inside the pool's queue bound, as a busy bot would by answering "busy" beyond it.
        gate = asyncio.Semaphore(in_flight)
        latencies: list[float] = []

        async def one(title: str) -> None:
            async with gate:
                started = time.perf_counter()
                await pool.run(None, path, title)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.gather(*(one(t) for t in typed)), timeout=300)
        finally:
            pool.close()
        return time.perf_counter() - started, latencies, pool_name, pool.workers

    seconds, latencies, pool_name, workers = asyncio.run(run())
    return {
        "answers_per_s": round(len(latencies) / seconds, 1),
        "requests": len(latencies),
        "pool": pool_name,
        "workers": workers,
        "in_flight": in_flight,
        "latency_under_load": percentiles(latencies),
    }
