"""A Spark standalone cluster for tests: one master and N workers started from pyspark's own
launcher (``bin/spark-class ...deploy.master.Master`` / ``...deploy.worker.Worker``), bound to
127.0.0.1, logging and working inside a temporary folder, always stopped afterwards.

:func:`require_java` is the skip rule: without Java the Spark tests skip and say why, except
in CI (``CI=true``), where a missing Java fails them (CI must run them)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from environment import IN_CI

from recommender.spark.session import java_problem

# pyspark's own launch classes (deploy/compose.yaml runs the same ones).
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def require_java() -> None:
    problem = java_problem()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(problem)
    pytest.skip(problem)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


@dataclass
class SparkCluster:
    folder: Path
    port: int
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, workers: int = 2, cores: int = 1, memory: str = "1g", timeout: float = 180) -> SparkCluster:
        folder = Path(tempfile.mkdtemp(prefix="soundalike-spark-cluster-"))
        cluster = cls(folder, free_port())
        try:
            home = spark_home()
            env = dict(
                os.environ,
                SPARK_HOME=str(home),
                SPARK_LOCAL_IP="127.0.0.1",
                SPARK_LOG_DIR=str(folder),
                SPARK_WORKER_DIR=str(folder / "work"),
                SPARK_DAEMON_MEMORY="256m",
            )
            cluster._launch(
                env,
                "master",
                MASTER_CLASS,
                "--host",
                "127.0.0.1",
                "--port",
                str(cluster.port),
                "--webui-port",
                str(free_port()),
            )
            cluster._wait_for_log("master", "I have been elected leader", timeout)
            for n in range(workers):
                cluster._launch(
                    env,
                    f"worker{n}",
                    WORKER_CLASS,
                    cluster.master_url,
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    str(cores),
                    "--memory",
                    memory,
                    "--webui-port",
                    str(free_port()),
                    "--work-dir",
                    str(folder / f"work{n}"),
                )
            for n in range(workers):
                cluster._wait_for_log(f"worker{n}", "Successfully registered with master", timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _launch(self, env: dict[str, str], name: str, *args: str) -> None:
        launcher = str(spark_home() / "bin" / "spark-class")
        with open(self.folder / f"{name}.log", "wb") as log:
            self.processes.append(
                subprocess.Popen(
                    [launcher, *args], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )

    def _wait_for_log(self, name: str, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        log = self.folder / f"{name}.log"
        while time.monotonic() < deadline:
            if text in log.read_text(errors="replace"):
                return
            if any(process.poll() is not None for process in self.processes):
                break
            time.sleep(0.2)
        tail = log.read_text(errors="replace")[-2000:]
        raise TimeoutError(f"spark {name} did not say {text!r} within {timeout} s:\n{tail}")

    def stop(self) -> None:
        """Stop every process this cluster started (each is its own process group: spark-class
        runs java under bash), then remove its folder."""
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)
