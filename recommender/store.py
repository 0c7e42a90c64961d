"""ModelStore: versioned model folders with checksums and an atomic ``current`` pointer.

One store per dataset, rooted at ``config.models_dir / <dataset>`` (``ModelStore.for_dataset``)::

    <models_dir>/<dataset>/
      v1/ v2/ ...          one folder per published model
        item_factors.npy   (factor models) or similarity.npz (kNN models)
        manifest.json      algorithm, parameters, dataset name + fingerprint, metrics,
                           created, library versions, parent version, array file names
        checksums.json     sha256 of every other file in the folder
      current              text file naming the served version ("v2")

Publishing writes a hidden temporary folder, fsyncs it, then renames it to the next
``vN`` and moves ``current`` with ``os.replace``: a reader sees the old model or the new
one, never half of one. Temporary folders left by a killed process are removed by the
next publish. Nothing is unpickled: arrays are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import time
from pathlib import Path
from typing import Mapping

import numpy as np
import scipy.sparse as sp

from .errors import ModelError
from .model import LoadedModel

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHECKSUMS = "checksums.json"
CURRENT = "current"
TEMP_PREFIX = ".tmp-"
_VERSION = re.compile(r"^v([1-9][0-9]*)$")
_ARRAY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_USE_CURRENT = object()


def version_number(version: str) -> int:
    match = _VERSION.match(version)
    if not match:
        raise ModelError(f"{version!r} is not a model version (expected v1, v2, ...)")
    return int(match.group(1))


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (used for stale temp folders and locks)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def library_versions() -> dict[str, str]:
    import implicit
    import scipy

    return {"implicit": implicit.__version__, "numpy": np.__version__, "scipy": scipy.__version__}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fingerprint_of(dataset: object, fingerprint: str | None) -> str | None:
    """The fingerprint to check: the explicit one, else the Dataset's, else None (no check)."""
    if fingerprint is not None or dataset is None:
        return fingerprint
    value = getattr(dataset, "fingerprint", None)
    if not isinstance(value, str):
        raise TypeError(f"expected a Dataset (with a fingerprint), got {type(dataset).__name__}")
    return value


class ModelStore:
    """The model versions of one dataset, in ``models_dir / <dataset>``."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.dataset_name = self.folder.name

    @classmethod
    def for_dataset(cls, models_dir: str | Path, dataset: str) -> "ModelStore":
        if not dataset or "/" in dataset or dataset.startswith("."):
            raise ModelError(f"{dataset!r} is not a dataset name")
        return cls(Path(models_dir) / dataset)

    def _where(self, version: str) -> str:
        return f"model {self.dataset_name}/{version}"

    # -- reading -----------------------------------------------------------------------
    def versions(self) -> list[str]:
        """Published versions, oldest first (damaged ones included)."""
        if not self.folder.is_dir():
            return []
        found = [p.name for p in self.folder.iterdir() if p.is_dir() and _VERSION.match(p.name)]
        return sorted(found, key=version_number)

    def current_version(self) -> str | None:
        """The version ``current`` names, or None when there is no pointer."""
        pointer = self.folder / CURRENT
        try:
            text = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise ModelError(f"{pointer}: cannot read the current-model pointer: {error}") from error
        if not _VERSION.match(text):
            raise ModelError(f"{pointer}: holds {text[:40]!r}, not a model version")
        return text

    def read_manifest(self, version: str) -> dict:
        path = self.folder / version / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{self._where(version)}: {MANIFEST} is missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ModelError(f"{self._where(version)}: {MANIFEST} is unreadable ({error})") from None
        if not isinstance(manifest, dict):
            raise ModelError(f"{self._where(version)}: {MANIFEST} is not a JSON object")
        return manifest

    def verify(self, version: str) -> dict:
        """Check every file against checksums.json; return the manifest or raise ModelError."""
        version_number(version)
        folder = self.folder / version
        where = self._where(version)
        if not folder.is_dir():
            raise ModelError(f"{where}: folder {folder} is missing")
        try:
            checksums = json.loads((folder / CHECKSUMS).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{where}: {CHECKSUMS} is missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ModelError(f"{where}: {CHECKSUMS} is unreadable ({error})") from None
        if not isinstance(checksums, dict) or MANIFEST not in checksums:
            raise ModelError(f"{where}: {CHECKSUMS} does not list {MANIFEST}")
        for name, expected in sorted(checksums.items()):
            path = folder / name
            if "/" in name or not path.is_file():
                raise ModelError(f"{where}: {name} is missing")
            if _sha256(path) != expected:
                raise ModelError(f"{where}: {name} fails its checksum (altered or truncated)")
        manifest = self.read_manifest(version)
        arrays = manifest.get("arrays")
        if not isinstance(arrays, dict) or not arrays:
            raise ModelError(f"{where}: manifest lists no arrays")
        unlisted = sorted(set(arrays.values()) - set(checksums))
        if unlisted:
            raise ModelError(f"{where}: {', '.join(unlisted)} not covered by {CHECKSUMS}")
        return manifest

    def load(
        self, dataset: object = None, version: str | None = None, *, fingerprint: str | None = None
    ) -> LoadedModel:
        """Load one version (default: current), verified.

        Pass the Dataset (or ``fingerprint=``) to refuse a model trained on other data.
        """
        if isinstance(dataset, str) and version is None and _VERSION.match(dataset):
            dataset, version = None, dataset  # store.load("v3")
        fingerprint = _fingerprint_of(dataset, fingerprint)
        if version is None:
            version = self.current_version()
            if version is None:
                raise ModelError(
                    f"no current model for dataset {self.dataset_name!r}; train one with "
                    f"`python -m recommender train --dataset {self.dataset_name}`"
                )
        manifest = self.verify(version)
        trained_on = (manifest.get("dataset") or {}).get("fingerprint")
        if fingerprint is not None and trained_on != fingerprint:
            raise ModelError(
                f"{self._where(version)} was trained on dataset fingerprint {trained_on}, but the dataset "
                f"now has fingerprint {fingerprint}: retrain with "
                f"`python -m recommender train --dataset {self.dataset_name}`"
            )
        arrays: dict[str, object] = {}
        for key, file_name in manifest["arrays"].items():
            path = self.folder / version / file_name
            try:
                if file_name.endswith(".npz"):
                    arrays[key] = sp.load_npz(path).tocsr()  # np.load(allow_pickle=False) inside
                else:
                    arrays[key] = np.load(path, allow_pickle=False)
            except (OSError, ValueError, EOFError) as error:
                raise ModelError(f"{self._where(version)}: {file_name} is unreadable ({error})") from None
        return LoadedModel.from_arrays(arrays, manifest, version=version)

    def load_serving(self, dataset: object = None, fingerprint: str | None = None) -> LoadedModel:
        """Load ``current``; if it is missing or damaged, warn once and serve the newest good older one."""
        fingerprint = _fingerprint_of(dataset, fingerprint)
        versions = self.versions()
        if not versions:
            raise ModelError(
                f"no model for dataset {self.dataset_name!r} in {self.folder}; train one with "
                f"`python -m recommender train --dataset {self.dataset_name}`"
            )
        problems: list[str] = []
        try:
            current = self.current_version()
        except ModelError as error:
            current, problems = None, [str(error)]
        if current is None:
            if not problems:
                problems.append(f"dataset {self.dataset_name!r} has no current-model pointer")
            candidates = list(reversed(versions))
        else:
            if current not in versions:
                problems.append(f"current {self._where(current)} is missing")
            older = [v for v in reversed(versions) if version_number(v) < version_number(current)]
            candidates = ([current] if current in versions else []) + older
        for version in candidates:
            try:
                model = self.load(version=version, fingerprint=fingerprint)
            except ModelError as error:
                problems.append(str(error))
                continue
            if problems:
                log.warning("%s; serving %s instead", "; ".join(problems), self._where(version))
            return model
        raise ModelError(f"no usable model for dataset {self.dataset_name!r}: " + "; ".join(problems))

    # -- writing -----------------------------------------------------------------------
    def set_current(self, version: str) -> None:
        """Point ``current`` at ``version`` (temp file + os.replace: readers never see half)."""
        if not (self.folder / version).is_dir():
            raise ModelError(f"{self._where(version)} does not exist")
        temp = self.folder / f"{TEMP_PREFIX}current-{os.getpid()}-{time.time_ns()}"
        try:
            with temp.open("w", encoding="utf-8") as handle:
                handle.write(version + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.folder / CURRENT)
        except OSError as error:
            temp.unlink(missing_ok=True)
            raise ModelError(f"could not move {self.folder / CURRENT} to {version}: {error}") from error

    def rollback(self) -> str:
        """Move ``current`` to the newest good version older than it; return that version."""
        current = self.current_version()
        if current is None:
            raise ModelError(f"dataset {self.dataset_name!r} has no current model to roll back from")
        problems = []
        for version in reversed(self.versions()):
            if version_number(version) >= version_number(current):
                continue
            try:
                self.verify(version)
            except ModelError as error:
                problems.append(str(error))
                continue
            self.set_current(version)
            log.info("rolled back %s from %s to %s", self.dataset_name, current, version)
            return version
        detail = f" ({'; '.join(problems)})" if problems else ""
        raise ModelError(
            f"no good version of {self.dataset_name!r} older than {current} to roll back to{detail}"
        )

    def publish(
        self,
        arrays: Mapping[str, object],
        manifest: Mapping,
        *,
        make_current: bool = True,
        parent: object = _USE_CURRENT,
    ) -> str:
        """Write a new version atomically and (by default) make it current; return its name.

        ``arrays`` maps names to dense arrays (saved .npy) or sparse matrices (.npz).
        ``manifest`` holds the training facts; the store adds version, created, libraries,
        parent and the array file names. Any OSError (disk full, permissions) becomes a
        ModelError and leaves ``current`` and every existing version untouched.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ModelError(f"cannot create model folder {self.folder}: {error}") from error
        self._remove_stale_temporaries()
        try:
            current = self.current_version()
        except ModelError:
            current = None  # an unreadable pointer is replaced by this publish
        temp = self.folder / f"{TEMP_PREFIX}{os.getpid()}-{time.time_ns()}"
        try:
            temp.mkdir()
            files = self._write_arrays(temp, arrays)
            record = dict(manifest)
            record.update(
                format_version=FORMAT_VERSION,
                arrays=files,
                created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                libraries=library_versions(),
                parent=current if parent is _USE_CURRENT else parent,
            )
            # Another process may take the number we picked; then pick the next one.
            for _ in range(1000):
                existing = self.versions()
                version = f"v{version_number(existing[-1]) + 1 if existing else 1}"
                record["version"] = version
                self._write_manifest_and_checksums(temp, record)
                try:
                    os.rename(temp, self.folder / version)
                except OSError as error:
                    if error.errno in (errno.EEXIST, errno.ENOTEMPTY) and (self.folder / version).exists():
                        continue
                    raise
                break
            else:
                raise ModelError(f"could not find a free version number in {self.folder}")
            _fsync(self.folder)
        except OSError as error:
            shutil.rmtree(temp, ignore_errors=True)
            raise ModelError(
                f"could not publish a model for {self.dataset_name!r} in {self.folder}: {error}; "
                f"current stays {current or 'unset'}"
            ) from error
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        if make_current:
            try:
                self.set_current(version)
            except ModelError:
                # A version that never became current is removed, so nothing half-done stays.
                shutil.rmtree(self.folder / version, ignore_errors=True)
                raise
        return version

    @staticmethod
    def _write_arrays(temp: Path, arrays: Mapping[str, object]) -> dict[str, str]:
        files: dict[str, str] = {}
        for key, value in arrays.items():
            if not _ARRAY_NAME.match(key):
                raise ValueError(f"array name {key!r} must be lower-case letters, digits, _")
            if sp.issparse(value):
                file_name = f"{key}.npz"
                sp.save_npz(temp / file_name, sp.csr_matrix(value), compressed=False)
            else:
                array = np.asarray(value)
                if array.dtype == object:
                    raise ValueError(f"array {key!r} has dtype object (would need pickle)")
                file_name = f"{key}.npy"
                np.save(temp / file_name, array, allow_pickle=False)
            _fsync(temp / file_name)
            files[key] = file_name
        return files

    @staticmethod
    def _write_manifest_and_checksums(temp: Path, record: Mapping) -> None:
        with (temp / MANIFEST).open("w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        checksums = {
            path.name: _sha256(path)
            for path in sorted(temp.iterdir())
            if path.is_file() and path.name != CHECKSUMS
        }
        with (temp / CHECKSUMS).open("w", encoding="utf-8") as handle:
            json.dump(checksums, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        _fsync(temp)

    def _remove_stale_temporaries(self) -> None:
        """Remove temp folders/files whose writer process is gone (a killed publish)."""
        for path in self.folder.glob(f"{TEMP_PREFIX}*"):
            match = re.match(rf"^{re.escape(TEMP_PREFIX)}(?:current-)?(\d+)-", path.name)
            pid = int(match.group(1)) if match else -1
            if pid == os.getpid() or pid_alive(pid):
                continue
            log.info("removing %s left by an interrupted publish", path)
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
