"""(g) autocomplete: ``service.complete`` on partly typed titles beside a rapidfuzz WRatio scan."""

from __future__ import annotations

import time

from rapidfuzz import fuzz, process

from bench.steps.context import Context, percentiles
from bench.steps.serving import as_typed, open_service, query_songs, titles_and_listeners


def autocomplete(ctx: Context) -> dict:
    service = open_service()
    titles, listeners, _ = titles_and_listeners(service)
    rng = ctx.rng(5)
    partials = []
    for item in query_songs(ctx, titles, listeners, ctx.queries, 6).tolist():
        title = as_typed(titles[item], rng)
        partials.append(title[: int(rng.integers(2, max(3, min(len(title), 14) + 1)))])
    service.complete(partials[0])
    latencies = []
    deadline = time.perf_counter() + 60
    for partial in partials:
        started = time.perf_counter()
        service.complete(partial, limit=25)
        latencies.append(time.perf_counter() - started)
        if time.perf_counter() > deadline:
            break
    choices = titles.tolist()
    anchor = []
    for partial in partials[:5]:
        started = time.perf_counter()
        process.extract(partial, choices, scorer=fuzz.WRatio, limit=25)
        anchor.append(time.perf_counter() - started)
    return {"ours": percentiles(latencies), "titles": len(choices), "wratio_full_scan": percentiles(anchor)}
