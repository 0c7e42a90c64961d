"""The spark engine's settings: no Java needed. The mapping of implicit's parameters onto Spark's,
the [training] keys, and that nothing but --engine spark imports pyspark."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from environment import write_config
from paths import PROJECT_ROOT

from recommender.cli.main import main as cli_main
from recommender.config import TrainParams
from recommender.errors import ConfigError
from recommender.spark.session import check_master
from recommender.spark.training import MIN_RATING, als_settings


def test_spark_confidence_is_implicits_confidence():
    """Spark weighs a play 1 + alpha * rating; implicit alpha * weight. The rating we pass makes them equal."""
    alpha = 0.5
    weights = np.array([2.0001, 3.0, 10.0, 250.0])  # alpha * weight > 1
    ratings = np.maximum(weights - 1.0 / alpha, MIN_RATING)
    assert np.allclose(1.0 + alpha * ratings, alpha * weights)
    # Below that, the play still counts as a preference (rating > 0) with confidence just above 1.
    assert (np.maximum(np.array([0.5, 2.0]) - 1.0 / alpha, MIN_RATING) > 0).all()


def test_regularization_keeps_the_total_penalty_of_all_rows():
    """ALS-WR multiplies regParam by each row's plays: regParam * (sum of plays over user and item rows)
    = lambda * rows, implicit's total."""
    params = TrainParams(regularization=1.0, factors=8, iterations=3)
    settings = als_settings(params, rows_with_plays=1000, plays=20_000, blocks=2)
    assert settings.reg_param * (2 * 20_000) == pytest.approx(1.0 * 1000)
    assert (settings.rank, settings.max_iter, settings.alpha) == (8, 3, params.alpha)


def test_engine_keys_are_checked():
    assert TrainParams(engine="spark").describe().startswith("als on spark (")
    with pytest.raises(ConfigError, match="engine 'hadoop' is not one of implicit, spark"):
        TrainParams(engine="hadoop")
    with pytest.raises(ConfigError, match="spark engine trains als only, not 'bpr'"):
        TrainParams(engine="spark", algorithm="bpr")
    with pytest.raises(ConfigError, match="spark_master is empty"):
        TrainParams(spark_master=" ")
    with pytest.raises(ConfigError, match="use local"):
        check_master("mesos://x")
    # Where it ran is not a parameter of the model: the manifest's "training" records it.
    values = TrainParams(engine="spark", spark_master="yarn").to_dict()
    assert values["engine"] == "spark" and "spark_master" not in values


def test_the_library_and_the_bot_do_not_import_pyspark():
    code = (
        "import sys, recommender.service, recommender.training, recommender.cli.main, bot.app;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_java_the_spark_engine_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on it
    monkeypatch.delenv("JAVA_HOME", raising=False)
    config = write_config(tmp_path)
    assert cli_main(["--config", str(config), "data", "demo", "--users", "50"]) == 0
    assert cli_main(["--config", str(config), "train", "--engine", "spark", "--no-eval", "--no-calibrate"]) == 2
    assert (
        "Java is not installed (pyspark needs Java 17+: apt-get install openjdk-17-jre-headless"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "data" / "models" / "demo").exists() or not any(
        (tmp_path / "data" / "models" / "demo").iterdir()
    )
