"""Parquet input: the same checked tables the text reader gives, read in batches.

A ``.parquet`` file is read as Parquet (columns by name or 0-based number) by ``data import-csv``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recommender.errors import DataError

from .detection import artist_column, count_column
from .layout import PADDING, open_input
from .reading import ReadReport, validate_on_error

PARQUET_BATCH_ROWS = 1 << 20


def is_parquet(path: Path | None) -> bool:
    return path is not None and Path(path).suffix.lower() == ".parquet"


@dataclass(frozen=True)
class ParquetField:
    name: str  # column in the tables handed on ("user", "item", "count", "title", ...)
    label: str
    column: str  # column in the file
    kind: str  # "id", "count" or "text", as for :class:`Field`


class ParquetSource:
    """A Parquet file read in batches into the same checked tables :func:`read_chunks` gives.

    Ids and texts become strings (surrounding spaces and tabs dropped, like the text reader);
    counts must be whole numbers of at least 1 (integers, or floats with nothing after the
    point). A bad row stops the import naming its row, or is skipped and counted.
    """

    def __init__(self, path: Path, what: str, fields: list[ParquetField], counted: str = ""):
        self.path, self.what, self.fields, self.counted = path, what, fields, counted

    @staticmethod
    def _open(path: Path, what: str) -> pq.ParquetFile:
        with open_input(path, what):
            pass  # the usual messages for a missing or unreadable file
        try:
            return pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as error:
            raise DataError(f"{what} is not a readable Parquet file ({error})", path=path) from None

    @classmethod
    def _columns(cls, path: Path, what: str) -> list[str]:
        return list(cls._open(path, what).schema_arrow.names)

    @staticmethod
    def _column(spec: str, names: list[str], option: str, path: Path) -> str:
        spec = spec.strip()
        if spec.isdigit():
            if int(spec) >= len(names):
                raise DataError(
                    f"{option} {spec} is out of range: the file has {len(names)} columns ({', '.join(names)})",
                    path=path,
                )
            return names[int(spec)]
        if spec not in names:
            raise DataError(f"{option}: no column named {spec!r} (the file has: {', '.join(names)})", path=path)
        return spec

    @classmethod
    def interactions(cls, path: Path, *, user_col: str, item_col: str, count_col: str | None) -> ParquetSource:
        """The user, item and count columns as ``import-csv``'s options name them."""
        what = "interactions file"
        names = cls._columns(path, what)
        user = cls._column(user_col, names, "--user-col", path)
        item = cls._column(item_col, names, "--item-col", path)
        if user == item:
            raise DataError(f"--user-col and --item-col are the same column ({user})", path=path)
        fields = [ParquetField("user", "user id", user, "id"), ParquetField("item", "item id", item, "id")]
        count_spec = count_column(count_col, len(names))
        counted = "each row counts one play (no count column)"
        if count_spec is not None:
            count = cls._column(count_spec, names, "--count-col", path)
            if count in (user, item):
                raise DataError(f"--count-col {count_spec} is also the user or item column", path=path)
            fields.append(ParquetField("count", "count", count, "count"))
            counted = f"counts from column {count!r}"
        return cls(path, what, fields, f"read as Parquet; {counted}")

    @classmethod
    def catalog(
        cls,
        path: Path,
        *,
        item_col: str,
        title_col: str,
        artist_col: str | None,
        notes: list[str] | None = None,
    ) -> ParquetSource:
        """The item, title and artist columns as ``import-csv``'s catalog options name them."""
        what = "catalog"
        names = cls._columns(path, what)
        fields = [
            ParquetField("item", "item id", cls._column(item_col, names, "--catalog-item-col", path), "id"),
            ParquetField("title", "title", cls._column(title_col, names, "--title-col", path), "text"),
        ]
        artist_spec = artist_column(artist_col, names, path, notes)
        if artist_spec is not None:
            fields.append(
                ParquetField("artist", "artist", cls._column(artist_spec, names, "--artist-col", path), "text")
            )
        return cls(path, what, fields)

    def read(self, report: ReadReport, on_error: str) -> Iterator[pa.Table]:
        validate_on_error(on_error)
        file = self._open(self.path, self.what)
        # The report counts rows instead of bytes here (it only sizes arrays from the ratio).
        report.body_bytes = file.metadata.num_rows
        columns = list(dict.fromkeys(f.column for f in self.fields))
        first_row = 0
        try:
            batches = file.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns)
            for batch in batches:
                table, problems = self._convert(batch)
                bad = problems != ""
                if bad.any():
                    first = int(np.flatnonzero(bad)[0])
                    row, reason = first_row + first + 1, str(problems[first])
                    if on_error == "stop":
                        raise DataError(f"row {row}: {reason}", path=self.path)
                    if report.first_skip is None:
                        report.first_skip, report.unit = (row, reason), "row"
                    report.skipped += int(bad.sum())
                    table = table.filter(pa.array(~bad))
                report.rows += table.num_rows
                first_row += batch.num_rows
                report.bytes_done = first_row
                yield table
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as error:
            raise DataError(f"{self.what} could not be read as Parquet ({error})", path=self.path) from None

    def read_all(self, report: ReadReport, on_error: str) -> pa.Table:
        tables = list(self.read(report, on_error))
        if tables:
            return pa.concat_tables(tables)
        return pa.table({f.name: pa.array([], pa.int64() if f.kind == "count" else pa.string()) for f in self.fields})

    def _convert(self, batch: pa.RecordBatch) -> tuple[pa.Table, np.ndarray]:
        """The batch as the reader's table, and each row's problem ("" when it is fine)."""
        columns: dict[str, pa.Array] = {}
        problems = np.full(batch.num_rows, "", dtype=object)
        for f in self.fields:
            values = batch.column(batch.schema.get_field_index(f.column))
            if pa.types.is_dictionary(values.type):
                values = values.dictionary_decode()
            if f.kind == "count":
                converted, wrong, reason = _parquet_counts(values, f, self.path)
            else:
                try:
                    text = pc.ascii_trim(values.cast(pa.string()), PADDING)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    raise DataError(
                        f"column {f.column!r} ({values.type}) cannot be read as text", path=self.path
                    ) from None
                converted = text.fill_null("")
                if f.kind == "id":
                    wrong = pc.equal(pc.binary_length(converted), 0).to_numpy(zero_copy_only=False)
                    reason = f"empty {f.label} (column {f.column!r})"
                else:
                    wrong, reason = np.zeros(len(text), dtype=bool), ""
            problems[wrong & (problems == "")] = reason  # a row's first problem is the one named
            columns[f.name] = converted
        return pa.table(columns), problems


def _parquet_counts(values: pa.Array, f: ParquetField, path: Path) -> tuple[pa.Array, np.ndarray, str]:
    """Counts as int64 (bad rows as 1), a mask of the bad rows, and why they are bad."""
    missing = values.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_integer(values.type):
        numbers = values.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        wrong = missing | (numbers < 1)
    elif pa.types.is_floating(values.type):
        floats = values.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            wrong = missing | ~np.isfinite(floats) | (floats < 1) | (floats != np.floor(floats)) | (floats >= 2.0**63)
        numbers = np.where(wrong, 1.0, floats).astype(np.int64)
    else:
        raise DataError(
            f"count column {f.column!r} holds {values.type}, not numbers: give another "
            "--count-col, or --count-col none to count each row as one play",
            path=path,
        )
    numbers = np.where(wrong, 1, numbers)
    return pa.array(numbers, pa.int64()), wrong, f"{f.label} must be a whole number of at least 1 (column {f.column!r})"
