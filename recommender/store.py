"""ModelStore: versioned model folders with checksums and an atomic ``current`` pointer.

One store per dataset, rooted at ``config.models_dir / <dataset>`` (``ModelStore.for_dataset``)::

    <models_dir>/<dataset>/
      v1/ v2/ ...          one folder per published model
        item_factors.npy   (factor models) or similarity.npz (kNN models)
        manifest.json      algorithm, parameters, dataset name + fingerprint, metrics,
                           created, library versions, parent version, array file names
        checksums.json     sha256 of every other file in the folder
      current              text file naming the served version ("v2")
      served.json          the versions ``current`` has named, oldest first: what ``rollback``
                           goes back along

Publishing writes a hidden temporary folder, fsyncs it, then renames it to the next
``vN`` and moves ``current`` with ``os.replace``: a reader sees the old model or the new
one, never half of one. Temporary folders left by a killed process are removed by the
next publish. Nothing is unpickled: arrays are read with ``allow_pickle=False``.

A version is served only when its files match their checksums *and* what they hold is a
model of this catalog (manifest fields of the right types, one factor row or similarity row
per catalog song, no NaN): a file replaced together with its checksum is refused like a
damaged one. When ``current`` cannot be served, the version served before it is, else the
newest good one, whichever way it lies.
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
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .atomic import fsync_path, scratch_folder, write_text_atomically
from .dataset import dataset_name_problem
from .errors import ModelDamaged, ModelError, ModelForOtherData
from .model import FACTOR_ALGORITHMS, NEIGHBOUR_ALGORITHMS, LoadedModel

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHECKSUMS = "checksums.json"
CURRENT = "current"
HISTORY = "served.json"
# Entries kept in the serving history (one per move of `current`).
MAX_HISTORY = 1000
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


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def check_manifest(manifest: Mapping, where: str) -> None:
    """Raise ModelDamaged unless the fields serving reads have the types it needs.

    Fields this code does not read are left alone (a newer trainer may add some)."""

    def wrong(field: str, what: str) -> ModelDamaged:
        value: object = manifest
        for part in field.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        shown = repr(value)[:40]
        return ModelDamaged(f"{where}: {MANIFEST} field {field!r} is {shown} ({type(value).__name__}), not {what}")

    algorithm = manifest.get("algorithm")
    if algorithm not in FACTOR_ALGORITHMS | NEIGHBOUR_ALGORITHMS:
        raise wrong("algorithm", "one of " + ", ".join(sorted(FACTOR_ALGORITHMS | NEIGHBOUR_ALGORITHMS)))
    arrays = manifest.get("arrays")
    if not isinstance(arrays, Mapping) or not arrays:
        raise wrong("arrays", "a mapping of array names to file names")
    for key, file_name in arrays.items():
        if not (isinstance(key, str) and _ARRAY_NAME.match(key) and file_name in (f"{key}.npy", f"{key}.npz")):
            raise wrong("arrays", "a mapping of array names to their .npy/.npz files")
    wanted = "item_factors" if algorithm in FACTOR_ALGORITHMS else "similarity"
    if wanted not in arrays:
        raise ModelDamaged(f"{where}: a {algorithm} model needs {wanted}, but {MANIFEST} lists {sorted(arrays)}")
    parameters = manifest.get("parameters", {})
    if not isinstance(parameters, Mapping):
        raise wrong("parameters", "a mapping")
    for name in ("regularization", "alpha"):
        if name in parameters and not _is_number(parameters[name]):
            raise wrong(f"parameters.{name}", "a finite number")
    if "typical_weight" in manifest and not _is_number(manifest["typical_weight"]):
        raise wrong("typical_weight", "a finite number")
    n_items = manifest.get("n_items")
    if n_items is not None and (not isinstance(n_items, int) or isinstance(n_items, bool) or n_items < 0):
        raise wrong("n_items", "a count of songs")
    dataset = manifest.get("dataset", {})
    if not isinstance(dataset, Mapping):
        raise wrong("dataset", "a mapping")
    if dataset.get("fingerprint") is not None and not isinstance(dataset["fingerprint"], str):
        raise wrong("dataset.fingerprint", "a fingerprint string")


def check_model(model: LoadedModel, manifest: Mapping, where: str, n_items: int | None) -> None:
    """Raise ModelDamaged unless the arrays are a usable model of a catalog of ``n_items``
    songs (and of the manifest's own count): one row per song, every value finite."""
    for count, of_what in ((manifest.get("n_items"), MANIFEST), (n_items, "the catalog")):
        if count is not None and model.n_items != count:
            raise ModelDamaged(f"{where}: the model has {model.n_items:,} rows but {of_what} has {count:,} songs")
    if not model.all_finite:
        raise ModelDamaged(f"{where}: the model holds NaN or infinite values")


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
    def for_dataset(cls, models_dir: str | Path, dataset: str) -> ModelStore:
        problem = dataset_name_problem(dataset)
        if problem is not None:
            raise ModelError(f"{str(dataset)[:60]!r} is not a dataset name: it {problem}")
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
            raise ModelDamaged(f"{where}: folder {folder} is missing")
        try:
            checksums = json.loads((folder / CHECKSUMS).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelDamaged(f"{where}: {CHECKSUMS} is missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ModelDamaged(f"{where}: {CHECKSUMS} is unreadable ({error})") from None
        if not isinstance(checksums, dict) or MANIFEST not in checksums:
            raise ModelDamaged(f"{where}: {CHECKSUMS} does not list {MANIFEST}")
        for name, expected in sorted(checksums.items()):
            path = folder / name
            if "/" in name or not path.is_file():
                raise ModelDamaged(f"{where}: {name} is missing")
            if _sha256(path) != expected:
                raise ModelDamaged(f"{where}: {name} fails its checksum (altered or truncated)")
        try:
            manifest = self.read_manifest(version)
        except ModelError as error:
            raise ModelDamaged(str(error)) from None
        check_manifest(manifest, where)
        unlisted = sorted(set(manifest["arrays"].values()) - set(checksums))
        if unlisted:
            raise ModelDamaged(f"{where}: {', '.join(unlisted)} not covered by {CHECKSUMS}")
        return manifest

    def load(
        self, dataset: object = None, version: str | None = None, *, fingerprint: str | None = None
    ) -> LoadedModel:
        """Load one version (default: current), verified: checksums, manifest, contents.

        Pass the Dataset (or ``fingerprint=``) to refuse a model trained on other data; with
        the Dataset the model must also have one row per catalog song. Raises ModelDamaged or
        ModelForOtherData (both ModelError).
        """
        if isinstance(dataset, str) and version is None and _VERSION.match(dataset):
            dataset, version = None, dataset  # store.load("v3")
        n_items = getattr(dataset, "n_items", None) if dataset is not None else None
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
            raise ModelForOtherData(
                f"{self._where(version)} was trained on dataset fingerprint {trained_on}, but the dataset "
                f"now has fingerprint {fingerprint}: retrain with "
                f"`python -m recommender train --dataset {self.dataset_name}`"
            )
        where = self._where(version)
        arrays: dict[str, object] = {}
        for key, file_name in manifest["arrays"].items():
            path = self.folder / version / file_name
            try:
                if file_name.endswith(".npz"):
                    loaded = sp.load_npz(path).tocsr()  # np.load(allow_pickle=False) inside
                    loaded.check_format(full_check=True)  # indices in range: nothing reads past the arrays
                else:
                    loaded = np.load(path, allow_pickle=False)
            except (OSError, ValueError, EOFError) as error:
                raise ModelDamaged(f"{where}: {file_name} is unreadable ({error})") from None
            if loaded.dtype.kind not in "fiu":
                raise ModelDamaged(f"{where}: {file_name} holds {loaded.dtype} values, not numbers")
            arrays[key] = loaded
        factors = arrays.get("item_factors")
        if isinstance(factors, np.ndarray) and (factors.ndim != 2 or factors.shape[1] == 0):
            raise ModelDamaged(f"{where}: item_factors.npy has shape {factors.shape}, not songs x factors")
        try:
            model = LoadedModel.from_arrays(arrays, manifest, version=version)
        except ModelError as error:
            raise ModelDamaged(f"{where}: {error}") from None
        check_model(model, manifest, where, n_items)
        return model

    def served_history(self, current: str | object | None = _USE_CURRENT) -> list[str]:
        """The versions ``current`` has named, oldest first, ending with the current one.

        Kept in ``served.json``. A store from before it was kept (or with an unreadable one)
        counts its versions up to the current one, in order. ``current`` moves before the
        history is written, so after a crash between the two the history is mended here: a
        current version it lacks is added, one it holds ends it (a rollback that was not
        written down yet).
        """
        if current is _USE_CURRENT:
            try:
                current = self.current_version()
            except ModelError:
                current = None
        named = current if isinstance(current, str) else None
        history: list[str] | None = None
        path = self.folder / HISTORY
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            served = record.get("served") if isinstance(record, dict) else None
            if isinstance(served, list) and all(isinstance(v, str) and _VERSION.match(v) for v in served):
                history = served
            else:
                log.warning("%s does not hold a list of versions; going by the version numbers", path)
        except FileNotFoundError:
            pass
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            log.warning("%s is unreadable (%s); going by the version numbers", path, error)
        if history is None:
            history = [v for v in self.versions() if named is None or version_number(v) <= version_number(named)]
        if named is not None and (not history or history[-1] != named):
            # A current version the history holds ends it; one it lacks is added.
            history = history[: len(history) - history[::-1].index(named)] if named in history else [*history, named]
        return history

    def serving_order(self) -> tuple[list[str], list[str]]:
        """The versions to try serving, in order, and the problems already known.

        ``current`` first; then the versions served before it, most recent first; then every
        other version, newest first. A damaged current model thus falls back to what was
        served before it, and when nothing was, to the newest good version whichever way it
        lies (a damaged v1 with a good v2, after a rollback to v1).
        """
        versions = self.versions()
        problems: list[str] = []
        try:
            current = self.current_version()
        except ModelError as error:
            current, problems = None, [str(error)]
        if current is None and not problems:
            problems.append(f"dataset {self.dataset_name!r} has no current-model pointer")
        if current is not None and current not in versions:
            problems.append(f"current {self._where(current)} is missing")
        order: list[str] = []
        history = self.served_history(current)
        for version in [current, *reversed(history), *reversed(versions)]:
            if version is not None and version in versions and version not in order:
                order.append(version)
        return order, problems

    def load_serving(self, dataset: object = None, fingerprint: str | None = None) -> LoadedModel:
        """Load ``current``; if it is missing or damaged, warn once and serve the next good one
        in :meth:`serving_order` (the pointer stays: an admin decides)."""
        fingerprint = _fingerprint_of(dataset, fingerprint)
        if not self.versions():
            raise ModelError(
                f"no model for dataset {self.dataset_name!r} in {self.folder}; train one with "
                f"`python -m recommender train --dataset {self.dataset_name}`"
            )
        candidates, problems = self.serving_order()
        for version in candidates:
            try:
                model = self.load(dataset, version, fingerprint=fingerprint)
            except ModelError as error:
                problems.append(str(error))
                continue
            if problems:
                log.warning("%s; serving %s instead", "; ".join(problems), self._where(version))
            return model
        raise ModelError(f"no usable model for dataset {self.dataset_name!r}: " + "; ".join(problems))

    # -- writing -----------------------------------------------------------------------
    def set_current(self, version: str) -> None:
        """Point ``current`` at ``version`` (temp file + os.replace: readers never see half)
        and add it to the serving history."""
        history = self.served_history()
        self._move_current(version)
        if history[-1:] != [version]:
            history.append(version)
        self._write_history(history)

    def _move_current(self, version: str) -> None:
        if not (self.folder / version).is_dir():
            raise ModelError(f"{self._where(version)} does not exist")
        try:
            write_text_atomically(self.folder / CURRENT, version + "\n", temp_prefix=f"{TEMP_PREFIX}current-")
        except OSError as error:
            raise ModelError(f"could not move {self.folder / CURRENT} to {version}: {error}") from error

    def _write_history(self, history: list[str]) -> None:
        """Write served.json whole (temp file + os.replace). A failure is logged, not raised:
        ``current`` has moved already, and the history is mended from it when read."""
        text = json.dumps({"served": history[-MAX_HISTORY:]}) + "\n"
        try:
            write_text_atomically(self.folder / HISTORY, text, temp_prefix=f"{TEMP_PREFIX}history-")
        except OSError as error:
            log.warning("could not write the serving history %s: %s", self.folder / HISTORY, error)

    def rollback(self, dataset: object = None, *, fingerprint: str | None = None) -> str:
        """Move ``current`` back to the version served before it; return that version.

        Goes back along the serving history, past versions that are damaged (or, given the
        Dataset or a fingerprint, trained on other data): rolling back twice from v3 after
        v1 -> v2 -> v3 serves v1, and a version rolled back from is not gone back to.
        """
        return self.rollback_and_load(dataset, fingerprint=fingerprint).version

    def rollback_and_load(self, dataset: object = None, *, fingerprint: str | None = None) -> LoadedModel:
        """:meth:`rollback`, returning the model it checked (loaded whole) to serve it."""
        try:
            current = self.current_version()
        except ModelError:
            current = None
        if current is None:
            raise ModelError(f"dataset {self.dataset_name!r} has no current model to roll back from")
        earlier = self.served_history(current)[:-1]
        problems = []
        while earlier:
            version = earlier.pop()
            if version == current:
                continue
            try:
                model = self.load(dataset, version, fingerprint=fingerprint)
            except ModelError as error:
                problems.append(str(error))
                continue
            self._move_current(version)
            self._write_history([*earlier, version])
            log.info("rolled back %s from %s to %s", self.dataset_name, current, version)
            return model
        detail = f" ({'; '.join(problems)})" if problems else ""
        raise ModelError(
            f"no good version of {self.dataset_name!r} was served before {current}, "
            f"so there is nothing to roll back to{detail}"
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
        try:
            with scratch_folder(self.folder, TEMP_PREFIX) as temp:
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
                fsync_path(self.folder)
        except OSError as error:
            raise ModelError(
                f"could not publish a model for {self.dataset_name!r} in {self.folder}: {error}; "
                f"current stays {current or 'unset'}"
            ) from error
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
            fsync_path(temp / file_name)
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
            path.name: _sha256(path) for path in sorted(temp.iterdir()) if path.is_file() and path.name != CHECKSUMS
        }
        with (temp / CHECKSUMS).open("w", encoding="utf-8") as handle:
            json.dump(checksums, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        fsync_path(temp)

    def _remove_stale_temporaries(self) -> None:
        """Remove temp folders/files whose writer process is gone (a killed publish)."""
        for path in self.folder.glob(f"{TEMP_PREFIX}*"):
            match = re.match(rf"^{re.escape(TEMP_PREFIX)}(?:current-|history-)?(\d+)-", path.name)
            pid = int(match.group(1)) if match else -1
            if pid == os.getpid() or pid_alive(pid):
                continue
            log.info("removing %s left by an interrupted publish", path)
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
