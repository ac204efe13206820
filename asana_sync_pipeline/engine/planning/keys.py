"""Primary keys: how a model's key column becomes the text the state is keyed by, and how a
model's keys are found in the state.

Numbers compare by exact value, whatever their column's type: 1 (INTEGER), 1.0 (DOUBLE)
and 1.00 (DECIMAL) are one key, "1", and 1.50 is "1.5". Text compares exactly: "007"
and "7" are two keys. A state written before numbers were compared so (a DECIMAL key
kept as "1.00") is matched by value and renamed in place, its task untouched.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from ..fields.value_rules import blank_mask, is_null, number_text, object_values

_NUMBER_TYPES = (int, float, Decimal, np.integer, np.floating)


def primary_key_text(value: Any) -> str | None:
    """A key as it is compared and stored: numbers by exact value, text as it is."""
    if is_null(value):
        return None
    if isinstance(value, _NUMBER_TYPES) and not isinstance(value, (bool, np.bool_)):
        return number_text(value)
    text = str(value)
    return text if text.strip() else None


def primary_key_column(column: pd.Series, *, exact_numbers: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """`primary_key_text` over a column, and where it is empty (None); string, integer and categorical
    columns take a vectorized path. `exact_numbers`: the column holds numbers read as their exact text
    (a DECIMAL)."""
    if exact_numbers:
        keys = np.array([None if is_null(value) else number_text(value) for value in object_values(column)], dtype=object)
    elif isinstance(column.dtype, pd.CategoricalDtype):
        categories = [primary_key_text(value) for value in column.cat.categories]
        keys = np.array([*categories, None], dtype=object)[column.cat.codes.to_numpy()]
    elif pd.api.types.is_integer_dtype(column.dtype):
        keys = object_values(column.astype("str"))
        keys[column.isna().to_numpy()] = None
    elif pd.api.types.is_string_dtype(column.dtype) and column.dtype != object:
        keys = column.to_numpy(dtype=object, copy=True)  # text, or the column's NULL
        empty = blank_mask(keys, nulls=True)
        keys[empty] = None
        return keys, empty
    else:
        keys = np.array([primary_key_text(value) for value in column.to_numpy(dtype=object)], dtype=object)
    return keys, np.asarray(pd.isna(keys))


def is_numeric_key(column: pd.Series, *, exact_numbers: bool = False) -> bool:
    """Whether a key column holds numbers (its keys are compared by value)."""
    if exact_numbers or pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return True
    if column.dtype == object:
        given = [value for value in column.head(1000) if not is_null(value)]
        return bool(given) and all(isinstance(value, _NUMBER_TYPES) and not isinstance(value, (bool, np.bool_)) for value in given)
    return False


def renamed_number_keys(synced_keys: np.ndarray, model_keys: np.ndarray) -> dict[str, str]:
    """State keys written as numbers in another form ("1.00") that are a model key by value ("1"):
    old -> new, to rename in the state (never when the new key is already a state key)."""
    present = set(model_keys[pd.notna(model_keys)].tolist())
    known = set(synced_keys.tolist())
    renames = {}
    for key in synced_keys:
        if not isinstance(key, str) or key in present:
            continue
        canonical = number_text(key)
        if canonical is not None and canonical != key and canonical in present and canonical not in known:
            renames[key] = canonical
    return renames


def key_hashes_for_matching(keys: np.ndarray) -> np.ndarray:
    """64-bit hashes of keys, valid in this process only: Python's own string hash, which each string
    caches. Matching needs no hash that lasts (the payload hashes do), and this one costs half as much."""
    return np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys))


def match_keys(keys: np.ndarray, synced_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which keys repeat in the model, and each row's position in the state map (-1: none).

    Keys are usually unique: then one table over their 64-bit hashes answers both
    questions, much faster than one over the strings. Every match is checked
    against the keys themselves; any doubt (a repeated hash, a mismatch) takes
    the exact path over the strings."""
    key_hashes = pd.Index(key_hashes_for_matching(keys))
    if key_hashes.is_unique:
        found = key_hashes.get_indexer(pd.Index(key_hashes_for_matching(synced_keys)))
        hit = np.flatnonzero(found >= 0)
        if (keys[found[hit]] == synced_keys[hit]).all():
            position = np.full(len(keys), -1, dtype=np.intp)
            position[found[hit]] = hit
            return np.zeros(len(keys), dtype=bool), position
    index = pd.Index(keys, dtype=object)
    return index.duplicated(keep=False), pd.Index(synced_keys, dtype=object).get_indexer(keys)


def positions_in(synced: pd.DataFrame, keys: np.ndarray) -> np.ndarray:
    """Each key's position in the state map (-1: none)."""
    return pd.Index(synced["primary_key"].astype(object)).get_indexer(keys)


def lookup(values: pd.Series | np.ndarray, position: np.ndarray, missing: Any = None) -> np.ndarray:
    """`values[position]` (a state column read for each model row), with `missing` where position is
    -1 (not found); a Series is read as Python objects."""
    array = values.to_numpy(dtype=object) if isinstance(values, pd.Series) else values
    return np.append(array, np.array([missing], dtype=array.dtype))[position]


def same_hash(state_hashes: pd.Series, position: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """True where the state map holds a payload hash for the row and it equals `hashes`."""
    recorded = lookup(state_hashes.notna().to_numpy(), position, False)
    numbers = lookup(state_hashes.to_numpy(dtype=np.uint64, na_value=0), position, np.uint64(0))
    return recorded & (numbers == hashes)
