"""(h) serving during a retrain: /soundalike latency and event-loop lag while the bot's retrain
command runs beside it, and the same with nothing running."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bench.steps.answering import ComputePath, compute_pool
from bench.steps.context import DATASET_NAME, Context, percentiles, product_env
from bench.steps.serving import as_typed, open_service, query_songs, steady, titles_and_listeners
from recommender.app.limits import ComputePool
from recommender.app.retrainer import Retrainer
from recommender.config import load_config


def retrain_argv() -> list[str]:
    """The retrain command exactly as the bot starts it."""
    return Retrainer(load_config(), dataset=DATASET_NAME).argv()


def retrain(
    ctx: Context, quiet_s: float = 3.0, max_retrain_s: float = 1800.0, requesters: int = 2, pause_s: float = 0.05
) -> dict:
    """/soundalike p99 and event-loop lag while `retrain` runs beside the bot."""
    argv = retrain_argv()
    service = open_service()
    steady(service)
    titles, listeners, _ = titles_and_listeners(service)
    rng = ctx.rng(7)
    typed = [as_typed(titles[i], rng) for i in query_songs(ctx, titles, listeners, 2000, 8)]
    path = ComputePath(service)
    path(typed[0])

    async def main() -> dict:
        pool, pool_name = compute_pool()  # made inside the loop its semaphore belongs to

        def observe(until: Callable[[], bool], limit_s: float):
            return observe_serving(pool, path, typed, until, limit_s, requesters, pause_s)

        try:
            quiet = await observe(lambda: False, quiet_s)
            with (ctx.work / "retrain.log").open("wb") as log:
                started = time.perf_counter()
                # A separate process, as the bot starts it (recommender.app.retrainer); its output kept in a log.
                child = await asyncio.create_subprocess_exec(
                    *argv, env=product_env(ctx.work), stdout=log, stderr=asyncio.subprocess.STDOUT
                )
                try:
                    busy = await observe(lambda: child.returncode is not None, max_retrain_s)
                finally:
                    if child.returncode is None:
                        child.kill()
                    await child.wait()
                retrain_seconds = time.perf_counter() - started
        finally:
            pool.close()
        return {
            "command": " ".join(argv[2:]),
            "pool": pool_name,
            "retrain_seconds": round(retrain_seconds, 2),
            "retrain_returncode": child.returncode,
            "quiet": quiet,
            "during_retrain": busy,
        }

    return asyncio.run(main())


async def observe_serving(
    pool: ComputePool,
    path: ComputePath,
    typed: list[str],
    until: Callable[[], bool],
    limit_s: float,
    requesters: int,
    pause_s: float,
) -> dict:
    """``requesters`` members asking in turn (``pause_s`` apart) beside a 10 ms heartbeat, until
    ``until()`` or ``limit_s``: the answers' latencies and how late the heartbeat woke."""
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    latencies: list[float] = []
    stop_at = time.perf_counter() + limit_s

    def done() -> bool:
        return until() or time.perf_counter() > stop_at

    async def heartbeat() -> None:  # stands in for discord.py's gateway heartbeat
        while not done():
            started = loop.time()
            await asyncio.sleep(0.010)
            lags.append(max(0.0, loop.time() - started - 0.010))

    async def requester(offset: int) -> None:
        index = offset
        while not done():
            started = time.perf_counter()
            await pool.run(None, path, typed[index % len(typed)])
            latencies.append(time.perf_counter() - started)
            index += requesters
            await asyncio.sleep(pause_s)

    await asyncio.gather(heartbeat(), *(requester(i) for i in range(requesters)))
    return {"compute": percentiles(latencies), "loop_lag": percentiles(lags)}
