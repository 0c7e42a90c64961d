"""bench.resolver_bench: step i's figures add up (every query counted once, by kind)."""

from __future__ import annotations

from bench import resolver_bench


def test_every_query_is_counted_once_and_the_figures_agree():
    figures = resolver_bench.run(400, 80, seed=3, scan_queries=20)
    by_kind = figures["resolve_by_kind"]
    assert sum(kind["n"] for kind in by_kind.values()) == figures["queries"] == figures["resolve"]["n"]
    resolve = figures["resolve"]
    assert 0 < resolve["top1"] <= resolve["top1_or_offered"] <= 1
    assert resolve["top1"] <= resolve["top1_unambiguous"]
    scan = figures["scan_baseline"]
    assert scan["queries"] == 20 and scan["determinable_queries"] <= 20
    assert figures["saved_index"]["same_answers"] is True
    assert figures["confidence"]["rule_cost"]["n"] == figures["queries"]
    assert figures["confidence"]["held_out_queries"] > 0
    assert figures["complete"]["n"] > 0
