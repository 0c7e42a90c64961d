"""One JVM for the Spark tests: the local[2] tests run first (test_local.py), then the ones on
the standalone cluster this fixture starts once per session (test_standalone_cluster.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from spark_cluster import SparkCluster, require_java


@pytest.fixture(scope="session")
def spark_local() -> Iterator[str]:
    require_java()
    from recommender.spark.session import stop_spark

    yield "local[2]"
    stop_spark()


@pytest.fixture(scope="session")
def spark_cluster() -> Iterator[SparkCluster]:
    require_java()
    from recommender.spark.session import stop_spark

    cluster = SparkCluster.start(workers=2, cores=1, memory="1g")
    try:
        yield cluster
    finally:
        stop_spark()  # the application first, then the cluster it runs on
        cluster.stop()
