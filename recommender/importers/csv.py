"""``data import-csv``: a delimited (or Parquet) user/item[/count] file and a catalog -> dataset.

``data import-csv`` reads any ``user, item[, count]`` file plus an optional catalog. Items are
ordered as the catalog lists them (the first row of a repeated id wins), then items that only
the interactions name, in order of first appearance; those keep their id as title. Users are
ordered by first appearance. Repeated (user, item) rows are summed. Spaces and tabs around ids,
titles and artists are dropped (Last.fm's file has an artist id "65  ").

A separator or header line not given is detected and said (:mod:`.detection`); a ``.parquet``
file is read as Parquet (:mod:`.parquet`). Files are read by the chunked reader
(:mod:`.reading`) and encoded into the matrix by :mod:`.encoding`.

Import the Last.fm HetRec 2011 folder (its items are artists, so the artist name serves as both
title and artist; ``user_artists.dat`` has no header, and its third column, the play count, is
used by default)::

    python -m recommender data import-csv \\
        --interactions ../shared/datasets/hetrec2011-lastfm-2k/user_artists.dat \\
        --catalog ../shared/datasets/hetrec2011-lastfm-2k/artists.dat --catalog-header \\
        --catalog-item-col 0 --title-col 1 --artist-col 1 --name lastfm
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from recommender.dataset import write_dataset
from recommender.errors import DataError, SoundalikeError

from .detection import AUTO, NONE_WORDS, artist_column, count_column, detect_format, names_a_column
from .encoding import UNKNOWN_ARTIST, InteractionsBuilder, factorize_strings, first_positions, items_frame, text_or
from .layout import Field, FileHead, Layout, inspect_head, separator_hint, separator_name
from .parquet import ParquetSource, is_parquet
from .reading import ImportSummary, ReadReport, plural, read_chunks, read_table, single_array, validate_on_error


@dataclass(frozen=True)
class CsvOptions:
    """How to read a user/item/count file and its catalog (see ``data import-csv --help``)."""

    separator: str = "\t"  # AUTO: detected in each file
    catalog_separator: str | None = None  # default: ``separator``
    quote: str | None = AUTO  # AUTO: '"' unless the separator is a tab
    interactions_header: bool | None = False  # None: detected
    catalog_header: bool | None = False  # None: detected
    user_col: str = "0"
    item_col: str = "1"
    count_col: str | None = AUTO  # AUTO: column 2 when the file has 3 or more columns, else none
    catalog_item_col: str = "0"
    title_col: str = "1"
    artist_col: str | None = None  # AUTO: the column named "artist", if the catalog has one
    on_error: str = "stop"


def _quote_for(quote: str | None, separator: str) -> str | None:
    if quote == AUTO:
        return None if separator == "\t" or len(separator) > 1 else '"'
    if quote is None or quote.lower() in NONE_WORDS:
        return None
    if len(quote) != 1:
        raise SoundalikeError(f"the quote must be one character or 'none', got {quote!r}")
    if len(separator) > 1:
        raise SoundalikeError(f"quoted fields need a one-character separator, not {separator!r}: pass --quote none")
    if quote == separator:
        raise SoundalikeError(f"the quote and the separator cannot both be {quote!r}")
    return quote


def resolve_column(
    spec: str,
    head: FileHead,
    *,
    option: str,
    path: Path,
    what: str,
    separator: str,
    header_option: str,
    separator_option: str | None = None,
) -> int:
    """A column given as a 0-based index or, when the file has a header, by name."""
    spec = spec.strip()
    width = len(head.first_fields)
    if spec.isdigit():
        index = int(spec)
        if index >= width:
            hint = separator_hint(separator.join(head.first_fields), separator, separator_option)
            raise DataError(
                f"{option} {index} is out of range: the first line has {width} field(s) separated by "
                f"{separator_name(separator)}{hint}",
                path=path,
                line=head.first_line,
            )
        return index
    if head.header is None:
        raise DataError(
            f"{option} {spec!r} is a column name, but the {what} has no header: pass "
            f"{header_option} or give a 0-based column number",
            path=path,
        )
    if spec not in head.header:
        raise DataError(
            f"{option}: no column named {spec!r} (the header has: {', '.join(head.header)})",
            path=path,
            line=head.first_line,
        )
    return head.header.index(spec)


def _interactions_layout(path: Path, options: CsvOptions, notes: list[str] | None = None) -> tuple[Layout, str]:
    what = "interactions file"
    specs = (options.user_col, options.item_col, options.count_col)
    separator, header = detect_format(
        path,
        what,
        options.separator,
        options.interactions_header,
        options.quote,
        named=names_a_column(specs),
        separator_option="--sep",
        header_option="interactions-header",
        notes=notes,
    )
    quote = _quote_for(options.quote, separator)
    head = inspect_head(path, what, separator, header=header, quote=quote)

    def column(spec: str, option: str) -> int:
        return resolve_column(
            spec,
            head,
            option=option,
            path=path,
            what=what,
            separator=separator,
            header_option="--interactions-header",
            separator_option="--sep",
        )

    user = column(options.user_col, "--user-col")
    item = column(options.item_col, "--item-col")
    fields = [Field("user", "user id", user, "id"), Field("item", "item id", item, "id")]
    count_spec = count_column(options.count_col, len(head.first_fields))
    if count_spec is not None:
        count = column(count_spec, "--count-col")
        if count in (user, item):
            raise DataError(f"--count-col {count_spec} is also the user or item column", path=path)
        fields.append(Field("count", "count", count, "count"))
        counted = f"counts from column {count}"
    else:
        counted = "each row counts one play (no count column)"
    if user == item:
        raise DataError(f"--user-col and --item-col are the same column ({user})", path=path)
    layout = Layout(
        path,
        what,
        separator,
        len(head.first_fields),
        tuple(fields),
        quote=quote,
        data_offset=head.data_offset,
        header_option=None if header else "--interactions-header",
        separator_option="--sep",
    )
    return layout, counted


def _catalog_layout(path: Path, options: CsvOptions, notes: list[str] | None = None) -> Layout:
    what = "catalog"
    separator_option = "--catalog-sep" if options.catalog_separator else "--sep"
    specs = (options.catalog_item_col, options.title_col, options.artist_col)
    separator, header = detect_format(
        path,
        what,
        options.catalog_separator or options.separator,
        options.catalog_header,
        options.quote,
        named=names_a_column(specs),
        separator_option=separator_option,
        header_option="catalog-header",
        notes=notes,
    )
    quote = _quote_for(options.quote, separator)
    head = inspect_head(path, what, separator, header=header, quote=quote)

    def column(spec: str, option: str) -> int:
        return resolve_column(
            spec,
            head,
            option=option,
            path=path,
            what=what,
            separator=separator,
            header_option="--catalog-header",
            separator_option=separator_option,
        )

    fields = [
        Field("item", "item id", column(options.catalog_item_col, "--catalog-item-col"), "id"),
        Field("title", "title", column(options.title_col, "--title-col"), "text"),
    ]
    artist_spec = artist_column(options.artist_col, head.header or [], path, notes)
    if artist_spec is not None:
        fields.append(Field("artist", "artist", column(artist_spec, "--artist-col"), "text"))
    return Layout(
        path,
        what,
        separator,
        len(head.first_fields),
        tuple(fields),
        quote=quote,
        data_offset=head.data_offset,
        separator_option=separator_option,
    )


# -- the import --------------------------------------------------------------------------------------


def import_csv(
    *,
    interactions: Path,
    catalog: Path | None,
    dest: Path,
    name: str,
    options: CsvOptions = CsvOptions(),
    progress: bool = True,
) -> ImportSummary:
    """Import a user/item[/count] file and an optional catalog into the dataset at ``dest``."""
    started = time.perf_counter()
    on_error = validate_on_error(options.on_error)
    interactions, dest = Path(interactions), Path(dest)
    catalog = Path(catalog) if catalog is not None else None
    notes: list[str] = []  # what was detected or decided, said after the import
    source = _interactions_source(interactions, options, notes)  # a wrong column stops here, before any reading
    reports: list[ReadReport] = []
    catalog_table = None
    if catalog is not None:
        reports.append(ReadReport(catalog))
        catalog_table = _read_catalog(catalog, options, reports[-1], notes, progress)
    report = ReadReport(interactions)
    reports.insert(0, report)
    builder = _read_interactions(source, report, on_error, progress)
    items = _items(builder.item_ids, catalog_table, catalog, interactions, notes)
    matrix = builder.to_csr(pc.index_in(builder.item_ids, value_set=items.ids).to_numpy(), len(items.ids))
    write_dataset(
        dest,
        name=name,
        interactions=matrix,
        items=items_frame(items.ids, items.titles, items.artists),
        user_ids=builder.user_ids,
        source={
            "kind": "csv",
            "interactions": str(interactions),
            "catalog": str(catalog) if catalog is not None else None,
            "rows": report.rows,
            "skipped_rows": sum(r.skipped for r in reports),
            "unlisted_items": items.unlisted,
        },
    )
    return ImportSummary(
        name,
        dest,
        matrix.shape[0],
        matrix.shape[1],
        int(matrix.nnz),
        report.rows,
        time.perf_counter() - started,
        reports,
        notes,
    )


def _interactions_source(path: Path, options: CsvOptions, notes: list[str]) -> ParquetSource | Layout:
    """How the interactions file will be read (Parquet, or delimited text with its layout)."""
    if is_parquet(path):
        parquet = ParquetSource.interactions(
            path, user_col=options.user_col, item_col=options.item_col, count_col=options.count_col
        )
        notes.append(f"{path.name}: {parquet.counted}")
        return parquet
    layout, counted = _interactions_layout(path, options, notes)
    notes.append(f"{path.name}: {counted}")
    return layout


def _read_catalog(path: Path, options: CsvOptions, report: ReadReport, notes: list[str], progress: bool) -> pa.Table:
    on_error = options.on_error
    if is_parquet(path):
        parquet = ParquetSource.catalog(
            path,
            item_col=options.catalog_item_col,
            title_col=options.title_col,
            artist_col=options.artist_col,
            notes=notes,
        )
        return parquet.read_all(report, on_error)
    return read_table(_catalog_layout(path, options, notes), report, on_error=on_error, progress=progress)


def _read_interactions(
    source: ParquetSource | Layout, report: ReadReport, on_error: str, progress: bool
) -> InteractionsBuilder:
    """Every row encoded, the vocabularies merged; no rows at all is an error."""
    builder = InteractionsBuilder()
    if isinstance(source, ParquetSource):
        for table in source.read(report, on_error):
            builder.add(builder.encode(table), report.expected_rows())
    else:
        for part in read_chunks(source, builder.encode, report, on_error=on_error, progress=progress):
            builder.add(part, report.expected_rows())
    if builder.rows == 0:
        raise DataError("no rows to import" + (" (every row was skipped)" if report.skipped else ""), path=report.path)
    builder.finish()
    return builder


@dataclass(frozen=True)
class _Items:
    """The dataset's items: the catalog's (first row of an id), then played items it lacks."""

    ids: pa.Array
    titles: pa.Array
    artists: pa.Array
    unlisted: int  # played items the catalog lacks (titled by their id)


def _items(
    seen: pa.Array, catalog_table: pa.Table | None, catalog: Path | None, interactions: Path, notes: list[str]
) -> _Items:
    if catalog_table is not None and catalog_table.num_rows:
        listed = factorize_strings(catalog_table.column("item"))
        first_rows = pa.array(first_positions(listed.codes))
        catalog_ids = listed.uniques
        repeated = catalog_table.num_rows - len(catalog_ids)
        if repeated and catalog is not None:
            notes.append(f"{catalog.name}: {plural(repeated, 'repeated item id')} (the first row of each was kept)")
        titles = text_or(single_array(catalog_table.column("title")).take(first_rows), catalog_ids)
        if "artist" in catalog_table.column_names:
            artists = text_or(single_array(catalog_table.column("artist")).take(first_rows), pa.scalar(UNKNOWN_ARTIST))
        else:
            artists = pa.array([UNKNOWN_ARTIST] * len(catalog_ids), pa.string())
        unlisted = seen.filter(pc.is_null(pc.index_in(seen, value_set=catalog_ids)))
    else:
        catalog_ids = titles = artists = pa.array([], pa.string())
        unlisted = seen
    if len(unlisted) and catalog is not None:
        notes.append(
            f"{plural(len(unlisted), 'item')} in {interactions.name} not in the catalog: kept, titled by their id"
        )
    return _Items(
        ids=pa.concat_arrays([catalog_ids, unlisted]),
        titles=pa.concat_arrays([titles, unlisted]),
        artists=pa.concat_arrays([artists, pa.array([UNKNOWN_ARTIST] * len(unlisted), pa.string())]),
        unlisted=len(unlisted),
    )
