"""bench.steps.burst: the burst goes through the whole bot and a fake Discord in its own process."""

from __future__ import annotations

from bench.steps.burst import burst
from bench.steps.context import Context


def test_a_small_burst_is_answered_whole_and_its_figures_say_so(demo_env, monkeypatch, tmp_path):
    monkeypatch.setenv("SOUNDALIKE_DATA__ROOT", str(demo_env.config.data_root))
    figures = burst(Context(0.0, tmp_path, 1, 10), requests=30, servers=3)
    assert (figures["answered"], figures["busy"], figures["other"]) == (30, 0, [])
    assert figures["acknowledgement"]["count"] == figures["answer"]["count"] == 30
    assert figures["acknowledgement"]["p50_ms"] <= figures["answer"]["p50_ms"], "acknowledged before answered"
    assert figures["met"]["every_one_answered"] and figures["met"]["none_busy"]
    assert figures["limits"]["max_queue"] == demo_env.config.bot.max_queue


def test_a_burst_against_two_bot_processes_is_answered_whole_by_both_shards(demo_env, monkeypatch, tmp_path):
    monkeypatch.setenv("SOUNDALIKE_DATA__ROOT", str(demo_env.config.data_root))
    figures = burst(Context(0.0, tmp_path, 1, 10), requests=40, servers=4, processes=2)
    assert (figures["answered"], figures["busy"], figures["other"]) == (40, 0, [])
    assert figures["answer"]["count"] == 40 and figures["limits"]["processes"] == 2
    # Each process answered its own shard's servers: two of the four servers each.
    assert sorted(figures["answered_by_shard"].values()) == [20, 20], figures["answered_by_shard"]
