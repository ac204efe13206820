"""Payload hashes: one stable 64-bit number per row of canonical values, the cheap test of
"nothing changed since the last sync"."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..fields.value_rules import COMMENT, NormalizedColumn

_NULL_HASH = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0x100000001B3)


def _column_hash(column: NormalizedColumn, rows: np.ndarray | None) -> np.ndarray:
    """Stable 64-bit hashes of a column's canonical values (at `rows`, or all), per distinct value
    when known (columns without codes are mostly distinct text, hashed directly)."""
    if column.codes is None:
        values = column.values if rows is None else column.values[rows]
        given = pd.notna(values)
        hashes = np.full(len(given), _NULL_HASH, dtype=np.uint64)
        hashes[given] = pd.util.hash_array(values[given], categorize=False)
        return hashes
    assert column.distinct is not None
    hashes = pd.util.hash_array(column.distinct)
    hashes[pd.isna(column.distinct)] = _NULL_HASH
    return hashes[column.codes if rows is None else column.codes[rows]]


def payload_hash(columns: dict[str, NormalizedColumn], size: int, rows: np.ndarray | None = None) -> np.ndarray:
    """A stable 64-bit hash per row of canonical values, including which fields are given: of all
    `size` rows, or of the rows at positions `rows` alone (one hash each). A row's hash depends on its
    values alone, so hashing a few rows later gives what hashing them all now would."""
    names = sorted(columns)
    count = size if rows is None else len(rows)
    hashes = np.full(count, pd.util.hash_array(np.array([",".join(names)], dtype=object))[0], dtype=np.uint64)
    for name in names:
        hashes *= _MIX
        hashes ^= _column_hash(columns[name], rows)
    return hashes


def payload_hash_of_values(values: dict[str, np.ndarray], size: int) -> np.ndarray:
    """`payload_hash` of a plan's canonical values (the comment is not part of the payload)."""
    columns = {
        name: NormalizedColumn(column, None)
        for name, column in values.items()
        if name != COMMENT
    }
    return payload_hash(columns, size)
