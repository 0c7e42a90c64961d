"""(c) training on Spark: the product's spark engine (``pyspark.ml`` ALS, implicitPrefs) at
``local[2]`` on the same imported dataset and in the same run as implicit's anchor
(``train-implicit``), 64 factors as there.

Seconds per iteration: Spark reports no per-iteration times, so the step fits twice, with 1 and
with ``ITERATIONS`` iterations, and divides the difference by ``ITERATIONS - 1``: set-up (moving
the ratings into Spark, blocking them, collecting the factors) cancels out. Memory: this
process (the Python driver: the matrix, weighting, the factors collected) and the JVM that
``local[2]`` runs the driver and both executor threads in, sampled every 0.2 s with psutil
(Spark's own executor metrics need its web UI); the peak of each is reported.
"""

from __future__ import annotations

import threading
import time

from bench.steps.context import RSS_MB, Context
from recommender.config import TrainParams
from recommender.dataset import Dataset

MASTER = "local[2]"
ITERATIONS = 5
FACTORS = 64
# local mode runs executors inside the driver JVM: its heap is spark.driver.memory.
DRIVER_MEMORY = "6g"


class PeakMemory:
    """Peak resident memory of this process and of its Java children, sampled in a thread."""

    def __init__(self, interval: float = 0.2):
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.python_mb = 0.0
        self.jvm_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        self.python_mb = max(self.python_mb, self.process.memory_info().rss / RSS_MB)
        jvm = 0
        for child in self.process.children(recursive=True):
            try:
                if "java" in child.name():
                    jvm += child.memory_info().rss
            except psutil.Error:
                continue
        self.jvm_mb = max(self.jvm_mb, jvm / RSS_MB)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()


def train_spark(ctx: Context) -> dict:
    from recommender.spark.session import spark_session, stop_spark
    from recommender.spark.training import fit_matrix
    from recommender.training import training_matrix

    dataset = Dataset.load(ctx.dataset_dir)
    base = TrainParams(factors=FACTORS, engine="spark", spark_master=MASTER, random_state=ctx.seed)
    conf = {"spark.driver.memory": DRIVER_MEMORY}
    with PeakMemory() as memory:
        started = time.perf_counter()
        session = spark_session(MASTER, conf=conf)
        start_s = time.perf_counter() - started
        weighted = training_matrix(dataset.interactions, base)
        seconds = {}
        for iterations in (1, ITERATIONS):
            _, seconds[iterations], details = fit_matrix(base.replace(iterations=iterations), weighted, conf=conf)
        version = session.version
        stop_spark()
    per_iteration = (seconds[ITERATIONS] - seconds[1]) / (ITERATIONS - 1)
    return {
        "master": MASTER,
        "spark_version": version,
        "session_start_s": round(start_s, 3),
        "fit_1_iteration_s": round(seconds[1], 3),
        f"fit_{ITERATIONS}_iterations_s": round(seconds[ITERATIONS], 3),
        "per_iteration_s": round(per_iteration, 4),
        "setup_s": round(seconds[1] - per_iteration, 3),
        "interactions": int(weighted.nnz),
        "als": details["als"],
        "peak_python_driver_mb": round(memory.python_mb, 1),
        "peak_jvm_mb": round(memory.jvm_mb, 1),
        "driver_memory": DRIVER_MEMORY,
    }
