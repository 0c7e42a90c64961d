"""Encoding: exact codes for string ids whichever way they are hashed, vocabularies merged in order
of first appearance, and the matrix with repeated pairs summed."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from recommender.importers import encoding
from recommender.importers.encoding import InteractionsBuilder, factorize_strings, merge_vocabularies


def decoded(result) -> list[str]:
    return [result.uniques[int(code)].as_py() for code in result.codes]


@pytest.mark.parametrize("prefer_keys", [True, False])
@pytest.mark.parametrize(
    "values",
    [
        ["SO2", "SO1", "SO2", "SO3", "SO1"],  # one width: hashed to keys
        ["b", "a long id", "b", "", "a long id"],  # mixed widths: Arrow's hash table
    ],
)
def test_codes_give_back_every_value_with_uniques_in_first_appearance_order(values, prefer_keys):
    result = factorize_strings(pa.array(values), prefer_keys=prefer_keys)
    assert decoded(result) == values
    assert result.uniques.to_pylist() == list(dict.fromkeys(values))


def test_a_hash_collision_costs_speed_never_a_wrong_code(monkeypatch):
    monkeypatch.setattr(encoding, "_keys", lambda words, width: np.zeros(len(words), dtype=np.uint64))
    values = ["SO2", "SO1", "SO2", "SO3"]
    result = factorize_strings(pa.array(values))
    assert decoded(result) == values and result.uniques.to_pylist() == ["SO2", "SO1", "SO3"]
    parts = [factorize_strings(pa.array(["SO1", "SO2"])), factorize_strings(pa.array(["SO3", "SO1"]))]
    maps, merged = merge_vocabularies(parts)
    assert merged.to_pylist() == ["SO1", "SO2", "SO3"]
    assert [m.tolist() for m in maps] == [[0, 1], [2, 0]]


def test_chunk_vocabularies_merge_into_first_appearance_order():
    parts = [factorize_strings(pa.array(chunk)) for chunk in (["u2", "u1"], ["u3", "u2"], ["u1", "u4"])]
    maps, merged = merge_vocabularies(parts)
    assert merged.to_pylist() == ["u2", "u1", "u3", "u4"]
    assert [m.tolist() for m in maps] == [[0, 1], [2, 0], [1, 3]]
    assert merge_vocabularies([])[1].to_pylist() == []


def build(chunks, item_order=None):
    builder = InteractionsBuilder()
    for chunk in chunks:
        builder.add(builder.encode(pa.table(chunk)))
    builder.finish()
    items = builder.item_ids.to_pylist()
    order = item_order or items
    matrix = builder.to_csr(np.array([order.index(item) for item in items]), len(order))
    return builder.user_ids.to_pylist(), order, matrix.toarray()


def test_users_in_groups_and_users_coming_back_give_the_same_matrix_with_repeats_summed():
    grouped = [
        {"user": ["a", "a", "b"], "item": ["x", "y", "x"], "count": [1, 2, 3]},
        {"user": ["b", "c", "c"], "item": ["x", "z", "x"], "count": [4, 5, 6]},
    ]
    users, items, matrix = build(grouped)
    assert users == ["a", "b", "c"] and items == ["x", "y", "z"]
    assert matrix.tolist() == [[1, 2, 0], [7, 0, 0], [6, 0, 5]]
    scattered = [
        {"user": ["a", "b", "a"], "item": ["x", "x", "y"], "count": [1, 3, 2]},
        {"user": ["c", "b", "c"], "item": ["z", "x", "x"], "count": [5, 4, 6]},
    ]
    assert build(scattered)[2].tolist() == matrix.tolist()


def test_without_a_count_each_row_is_one_play_and_columns_follow_the_given_order():
    users, _, matrix = build([{"user": ["a", "a", "b"], "item": ["x", "x", "y"]}], item_order=["y", "w", "x"])
    assert users == ["a", "b"]
    assert matrix.tolist() == [[0, 0, 2], [1, 0, 0]]
