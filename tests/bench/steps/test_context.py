"""bench.steps.context: where the steps work and how their latencies are summarised."""

from __future__ import annotations

from bench.steps.context import DATASET_NAME, Context, percentiles, product_env
from recommender.config import load_config


def test_percentiles_are_in_milliseconds_and_say_how_many():
    figures = percentiles([0.001] * 98 + [0.050, 0.100])
    assert figures["count"] == 100 and figures["p50_ms"] == 1.0 and figures["max_ms"] == 100.0
    assert figures["p99_ms"] > figures["p95_ms"] >= figures["p50_ms"]
    assert percentiles([]) == {"count": 0}


def test_the_product_runs_on_the_bench_data_root_with_als_64_by_15(tmp_path, monkeypatch):
    env = product_env(tmp_path)
    for key in [key for key in env if key.startswith("SOUNDALIKE_")]:
        monkeypatch.setenv(key, env[key])
    config = load_config()
    assert config.datasets_dir == tmp_path / "data" / "datasets"
    assert config.data.default_dataset == DATASET_NAME
    assert (config.training.algorithm, config.training.factors, config.training.iterations) == ("als", 64, 15)
    ctx = Context(0.01, tmp_path, seed=1, queries=10)
    assert ctx.dataset_dir == config.datasets_dir / DATASET_NAME and ctx.anchor.is_dir()
