"""``python tests/helpers/retrain_with_faults.py [python -m recommender args]``: the CLI with one fault.

For tests only (tests/test_reliability.py). It runs exactly ``python -m recommender ...``
after patching, in this process only, what the environment asks for:

SOUNDALIKE_TEST_PAUSE_AT=<point>
    Stop at that point, print ``{"stage": "paused", "at": <point>, "pid": ...}`` (flushed) and
    sleep until killed, so a test can SIGKILL the retrain exactly there. A point is a progress
    stage the retrain reports (load, feedback, evaluate, decide, train, publish: the pause
    comes right after its first line is printed), or a spot inside publishing:
    ``arrays-written`` (arrays in the temporary folder, no manifest yet), ``before-pointer``
    (the new version folder is in place, ``current`` not moved yet), ``after-pointer``
    (``current`` moved, the final ``done`` line not printed yet).
SOUNDALIKE_TEST_PUBLISH_FAULT=enospc|eacces
    Writing the model fails: every ``np.save`` raises OSError(ENOSPC) (disk full), or creating
    the temporary model folder raises PermissionError(EACCES).
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import sys
import time
from pathlib import Path

# Runnable as a plain script from anywhere: the project root holds the `recommender` package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from recommender import store as store_module
from recommender.cli import retrain as cli_retrain
from recommender.cli.main import main

PAUSE_AT = os.environ.get("SOUNDALIKE_TEST_PAUSE_AT", "")
PUBLISH_FAULT = os.environ.get("SOUNDALIKE_TEST_PUBLISH_FAULT", "")
PAUSE_LIMIT_S = 120  # a test that forgets to kill us does not leave us behind for long


def pause(point: str) -> None:
    sys.stdout.write(
        json.dumps({"stage": "paused", "at": point, "pid": os.getpid(), "message": f"paused at {point}"}) + "\n"
    )
    sys.stdout.flush()
    time.sleep(PAUSE_LIMIT_S)
    raise SystemExit(f"paused at {point} for {PAUSE_LIMIT_S} s and nobody killed this process")


def pause_after_stage() -> None:
    real_retrain = cli_retrain.retrain

    def retrain(*args, report=None, **kwargs):
        def reporting(stage: str, progress: float, message: str) -> None:
            report(stage, progress, message)
            if stage == PAUSE_AT:
                pause(stage)

        return real_retrain(*args, report=reporting, **kwargs)

    cli_retrain.retrain = retrain  # the name the command calls


def pause_inside_publish() -> None:
    store = store_module.ModelStore
    if PAUSE_AT == "arrays-written":
        real_write = store._write_manifest_and_checksums

        def write_manifest_and_checksums(temp, record):
            pause(PAUSE_AT)
            real_write(temp, record)

        store._write_manifest_and_checksums = staticmethod(write_manifest_and_checksums)
    else:
        real_set_current = store.set_current

        def set_current(self, version):
            if PAUSE_AT == "before-pointer":
                pause(PAUSE_AT)
            real_set_current(self, version)
            if PAUSE_AT == "after-pointer":
                pause(PAUSE_AT)

        store.set_current = set_current


def fail_publishing() -> None:
    if PUBLISH_FAULT == "enospc":

        def save(*args, **kwargs):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        np.save = save  # the store calls np.save for every dense array
    elif PUBLISH_FAULT == "eacces":
        real_mkdir = pathlib.Path.mkdir

        def mkdir(self, *args, **kwargs):
            if self.name.startswith(store_module.TEMP_PREFIX):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
            return real_mkdir(self, *args, **kwargs)

        pathlib.Path.mkdir = mkdir
    else:
        raise SystemExit(f"unknown SOUNDALIKE_TEST_PUBLISH_FAULT {PUBLISH_FAULT!r}")


if PAUSE_AT in ("arrays-written", "before-pointer", "after-pointer"):
    pause_inside_publish()
elif PAUSE_AT:
    pause_after_stage()
if PUBLISH_FAULT:
    fail_publishing()

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
