"""(i) the title resolver at the scale's title count (1 M titles at scale 1): bench/resolver_bench.py."""

from __future__ import annotations

from bench import resolver_bench
from bench.steps.context import Context, jsonable

FULL_TITLES = 1_000_000


def resolver(ctx: Context) -> dict:
    n_titles = max(1000, round(FULL_TITLES * ctx.scale))
    figures = resolver_bench.run(n_titles, ctx.queries, ctx.seed)
    return {"n_titles": n_titles, "n_queries": ctx.queries, **jsonable(figures)}
