"""Shared fixtures.

``demo_env`` builds the demo dataset and trains a model once per test session into a
temporary data root, through the same CLI a person uses, and returns its config. Tests
that need a real service on real (small) data use it; it never touches ./data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from environment import IN_CI, write_config
from hypothesis import HealthCheck, settings
from postgres_server import PostgresServer, require_postgres

from recommender.cli.main import main as cli_main
from recommender.config import Config, load_config

# Hypothesis settings for the whole suite, in one place. Its Unicode tables are built on first
# use (a fresh clone has no .hypothesis/ cache), and CI shares two cores with other jobs: input
# generation speed and per-example time say nothing about correctness there, so neither the
# too_slow health check nor a deadline applies. In CI the examples are derandomized (a red run
# reproduces) and nothing is written to a .hypothesis/ database. Tests set only max_examples.
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("dev"), derandomize=True, database=None, print_blob=True)
settings.load_profile("ci" if IN_CI else "dev")

# Fewer synthetic listeners than `make run` uses: enough structure, a few seconds to build.
DEMO_TEST_USERS = 2000


@dataclass
class DemoEnv:
    root: Path
    config_path: Path
    config: Config

    def cli(self, *argv: str) -> int:
        return cli_main(["--config", str(self.config_path), *argv])


@pytest.fixture(scope="session")
def demo_env(tmp_path_factory) -> DemoEnv:
    root = tmp_path_factory.mktemp("demo-env")
    config_path = write_config(root)
    env = DemoEnv(root=root, config_path=config_path, config=load_config(config_path))
    assert env.cli("data", "demo", "--users", str(DEMO_TEST_USERS)) == 0
    assert env.cli("train", "--dataset", "demo") == 0
    return env


@pytest.fixture(scope="session")
def demo_service(demo_env):
    from recommender.service import SoundalikeService

    return SoundalikeService.open(demo_env.config)


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the whole session, started on first use and always
    stopped at the end; tests take a schema of their own from it (``fresh_url()``). Skips
    (fails in CI) where PostgreSQL is not installed."""
    require_postgres()
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()
