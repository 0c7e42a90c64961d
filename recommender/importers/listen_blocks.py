"""A block of listens lines at once: pyarrow's JSON reader, the same rules as one listen.

Parsing each line with ``json.loads`` and walking the dict costs tens of microseconds a
listen; a dump has billions. So a block of whole lines (a few MB) is parsed by
``pyarrow.json`` in C++, only the fields the import uses, into columns; then the rules of
:mod:`recommender.importers.listens` are applied **by calling the same functions** on each
distinct value of a column (a block has far fewer distinct users, names and MBIDs than lines).

The block is given back as None (and the caller reads it line by line with
:func:`~recommender.importers.listens.parse_listen_line`, which names each bad line) whenever
anything is not plainly a good listen: pyarrow refused it (not JSON, a field of another type,
a key twice, a lone surrogate), a line had no user_name or listened_at, a value breaks a rule,
or the row count is not the line count (blank lines, two objects on one line). So a block
either gives exactly what the line-by-line reading would, or is read that way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from .listens import TEXT_ITEM_PREFIX, BadListen, Listen, listen_from_json, mbid_field, recording_key, text_field

SCHEMA = pa.schema(
    [
        ("user_name", pa.string()),
        ("listened_at", pa.int64()),
        (
            "track_metadata",
            pa.struct(
                [
                    ("track_name", pa.string()),
                    ("artist_name", pa.string()),
                    (
                        "mbid_mapping",
                        pa.struct(
                            [
                                ("recording_mbid", pa.string()),
                                ("recording_name", pa.string()),
                                ("artist_mbids", pa.list_(pa.string())),
                                (
                                    "artists",
                                    pa.list_(
                                        pa.struct(
                                            [
                                                ("artist_mbid", pa.string()),
                                                ("artist_credit_name", pa.string()),
                                                ("join_phrase", pa.string()),
                                            ]
                                        )
                                    ),
                                ),
                            ]
                        ),
                    ),
                ]
            ),
        ),
    ]
)
_PARSE = pajson.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="ignore", newlines_in_values=False)


@dataclass
class BlockListens:
    """A block's good listens: every row a listen, in file order."""

    table: pa.Table  # as parsed (for the catalog's first listen of each recording)
    users: pa.Array
    items: pa.Array  # the recording each listen counts for (Listen.item_id)
    listened_at: np.ndarray
    matched: np.ndarray  # bool
    titles: pa.Array  # submitted track_name and artist_name
    artists: pa.Array

    def listens(self, rows: np.ndarray) -> list[Listen]:
        """Those rows as :func:`listen_from_json` reads them (the catalog shows each recording's
        first listen)."""
        return [listen_from_json(row) for row in self.table.take(pa.array(rows, pa.int64())).to_pylist()]


def _distinct_all(values: pa.Array, rule, surely_good: pa.Array | None = None) -> bool:
    """Whether ``rule`` (raising BadListen) accepts every distinct value; ``surely_good`` (a
    bool column) marks rows a vectorised test already knows the rule accepts."""
    if surely_good is not None:
        values = values.filter(pc.invert(surely_good))
    try:
        for value in pc.unique(values).to_pylist():
            rule(value)
    except BadListen:
        return False
    return True


# A visible ASCII character: then ``value.strip()`` is surely not empty.
_VISIBLE_ASCII = "[!-~]"
# The UUID form listens._mbid accepts (it lower-cases first): here, case-insensitive.
_UUID_ANY_CASE = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def _visible(values: pa.Array) -> pa.Array:
    return pc.match_substring_regex(values, _VISIBLE_ASCII)


def _uuids(values: pa.Array) -> pa.Array:
    return pc.match_substring_regex(values, _UUID_ANY_CASE, ignore_case=True)


def _pair_codes(first: pa.Array, second: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(code of each row's pair, one row of each distinct pair) for two string columns."""
    a = pc.dictionary_encode(first)
    b = pc.dictionary_encode(second)
    pairs = a.indices.to_numpy(zero_copy_only=False).astype(np.int64) * max(1, len(b.dictionary)) + (
        b.indices.to_numpy(zero_copy_only=False)
    )
    _, first_rows, codes = np.unique(pairs, return_index=True, return_inverse=True)
    return codes.reshape(-1), first_rows


def parse_block(block: bytes, lines: int) -> BlockListens | None:
    """The listens of ``block`` (``lines`` lines, each ending in a newline), or None: read it
    line by line."""
    if not block:
        return None
    try:
        table = pajson.read_json(
            pa.py_buffer(block),
            read_options=pajson.ReadOptions(use_threads=False, block_size=len(block) + 1),
            parse_options=_PARSE,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if table.num_rows != lines:
        return None
    table = table.combine_chunks()
    users = table.column("user_name").chunk(0) if table.column("user_name").num_chunks else None
    when = table.column("listened_at")
    metadata = table.column("track_metadata")
    if users is None or users.null_count or when.null_count or metadata.null_count:
        return None  # a user_id only, a "timestamp", no track_metadata: the line rules decide
    metadata = metadata.chunk(0)
    listened_at = when.to_numpy()
    if np.any(listened_at <= 0):
        return None
    titles, artists = metadata.field("track_name"), metadata.field("artist_name")
    if titles.null_count or artists.null_count:
        return None
    if not (
        _distinct_all(users, lambda value: text_field(value, "user_name", required=True), _visible(users))
        and _distinct_all(titles, lambda value: text_field(value, "track_name", required=True), _visible(titles))
        and _distinct_all(artists, lambda value: text_field(value, "artist_name", required=True), _visible(artists))
    ):
        return None
    # flatten(), not field(): a listen without mbid_mapping has null fields whatever is below.
    mapping = dict(
        zip(("recording_mbid", "recording_name", "artist_mbids", "artists"), metadata.field("mbid_mapping").flatten())
    )
    mbids = mapping["recording_mbid"]
    matched = pc.fill_null(pc.is_valid(mbids), False)
    if pc.any(matched).as_py():
        artist_mbids = pc.list_flatten(mapping["artist_mbids"].filter(matched))
        recording_mbids = mbids.filter(matched)
        if artist_mbids.null_count or not (
            _distinct_all(
                recording_mbids,
                lambda value: mbid_field(value, "mbid_mapping.recording_mbid"),
                _uuids(recording_mbids),
            )
            and _distinct_all(
                artist_mbids, lambda value: mbid_field(value, "an artist_mbids entry"), _uuids(artist_mbids)
            )
        ):
            return None
    matched_rows = matched.to_numpy(zero_copy_only=False)

    # Unmatched listens count for their normalised (title, artist): once per distinct pair.
    unmatched = np.flatnonzero(~matched_rows)
    items = pc.utf8_lower(mbids)
    if len(unmatched):
        rows = pa.array(unmatched)
        codes, first_rows = _pair_codes(titles.take(rows), artists.take(rows))
        pairs = pa.array(unmatched[first_rows])
        keys = pa.array(
            [
                TEXT_ITEM_PREFIX + recording_key(t, a)
                for t, a in zip(titles.take(pairs).to_pylist(), artists.take(pairs).to_pylist())
            ],
            pa.string(),
        )
        spread = np.zeros(len(matched_rows), dtype=np.int64)
        spread[unmatched] = codes
        items = pc.if_else(matched, items, keys.take(pa.array(spread)))
    return BlockListens(table, users, items, listened_at, matched_rows, titles, artists)
