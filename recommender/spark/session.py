"""One SparkSession per process, for the master the configuration names.

pyspark starts a JVM the first time a session is asked for (about 5 s), so a process keeps
one: asking again for the same master returns it, asking for another master stops it and
starts a new one (Spark allows one SparkContext per process). Nothing here is imported by
the library core at start: ``import pyspark`` happens inside :func:`spark_session`, so the
bot and the implicit engine need neither pyspark's import time nor Java.

Settings beyond the master (memory, executors, a YARN queue) are Spark's own business:
``spark-defaults.conf`` in ``SPARK_CONF_DIR``, or ``conf`` here. Defaults chosen for this
project's data: few shuffle partitions (a local[2] run of the demo spends most of its time
scheduling 200 empty tasks otherwise), the web UI off unless asked for, the driver on
127.0.0.1 for local masters and masters on this machine.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recommender.errors import ConfigError, SoundalikeError

_lock = threading.Lock()
_current: dict[str, Any] = {}


class SparkUnavailable(SoundalikeError):
    """pyspark or Java is missing, or the master cannot be reached."""


def java_problem() -> str | None:
    """Why Spark cannot start a JVM here, or None: pyspark needs ``java`` on PATH or JAVA_HOME."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return None
    if shutil.which("java"):
        return None
    return "Java is not installed (pyspark needs Java 17+: apt-get install openjdk-17-jre-headless, or set JAVA_HOME)"


def package_zip(folder: str) -> str:
    """A zip of the ``recommender`` package's Python files in ``folder``, for executors' sys.path."""
    package = Path(__file__).resolve().parents[1]
    target = os.path.join(folder, "recommender.zip")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for source in sorted(package.rglob("*.py")):
            archive.write(source, source.relative_to(package.parent).as_posix())
    return target


def check_master(master: str) -> str:
    master = master.strip()
    if not (master.startswith(("local", "spark://", "yarn", "k8s://"))):
        raise ConfigError(f"spark master {master!r}: use local[N], spark://host:port, yarn or k8s://...")
    return master


def _on_this_machine(master: str) -> bool:
    return master.startswith(("local", "spark://127.0.0.1:", "spark://localhost:"))


def spark_session(master: str, *, app_name: str = "soundalike", conf: Mapping[str, str] | None = None) -> Any:
    """The process's SparkSession for ``master`` (started on first use, reused after)."""
    master = check_master(master)
    settings = dict(conf or {})
    key = repr((master, sorted(settings.items())))
    with _lock:
        session = _current.get("session")
        if session is not None and _current.get("key") == key:
            return session
        problem = java_problem()
        if problem is not None:
            raise SparkUnavailable(problem)
        _stop_locked()
        try:
            from pyspark.sql import SparkSession
        except ImportError as error:
            raise SparkUnavailable(f"pyspark is not installed ({error}); pip install -r requirements.txt") from None
        scratch = tempfile.mkdtemp(prefix="soundalike-spark-")
        builder = SparkSession.builder.master(master).appName(app_name)
        defaults = {
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": "8",
            "spark.local.dir": scratch,
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.sql.session.timeZone": "UTC",
        }
        if _on_this_machine(master):
            # Executors here run this interpreter (the project's virtualenv), not whatever python3 is first on PATH.
            defaults.update(
                {
                    "spark.driver.host": "127.0.0.1",
                    "spark.driver.bindAddress": "127.0.0.1",
                    "spark.pyspark.python": sys.executable,
                }
            )
            # pyspark's driver reads only the environment for the interpreter of Python functions
            # run on RDDs (a ListenBrainz import parses listens so), not spark.pyspark.python.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        for name, value in {**defaults, **settings}.items():
            builder = builder.config(name, value)
        try:
            with warnings.catch_warnings():  # pyspark 4.3 says it does not "fully support" pandas 3 (tests check ours)
                warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark\.")
                session = builder.getOrCreate()
        except Exception as error:  # py4j and the JVM raise many kinds; say which master failed
            shutil.rmtree(scratch, ignore_errors=True)
            raise SparkUnavailable(f"cannot start Spark on {master}: {error}") from error
        session.sparkContext.setLogLevel("ERROR")
        session.sparkContext.setCheckpointDir(os.path.join(scratch, "checkpoints"))
        if not master.startswith("local"):
            # Executors import recommender (a ListenBrainz import parses listens with its
            # functions): the job carries the package, so a cluster's workers need only its
            # dependencies (pyspark's own --py-files, done here for every job).
            session.sparkContext.addPyFile(package_zip(scratch))
        _current.update(session=session, key=key, scratch=scratch)
        return session


def _stop_locked() -> None:
    session = _current.pop("session", None)
    scratch = _current.pop("scratch", None)
    _current.pop("key", None)
    if session is not None:
        session.stop()
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


def stop_spark() -> None:
    """Stop the process's session and its JVM's work (the JVM itself exits with the process)."""
    with _lock:
        _stop_locked()


atexit.register(stop_spark)
