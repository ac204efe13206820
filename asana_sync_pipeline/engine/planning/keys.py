"""Primary keys: how a model's key column becomes the text the state is keyed by, and how a
model's keys are found in the state."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..fields.rules import blank_mask, is_null, object_values


def primary_key_text(value: Any) -> str | None:
    """Primary keys are compared and stored as text; integral floats lose their `.0`."""
    if is_null(value):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    text = str(value)
    return text if text.strip() else None


def primary_key_column(column: pd.Series) -> np.ndarray:
    """`primary_key_text` over a column; string, integer and categorical columns take a vectorized path."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = [primary_key_text(value) for value in column.cat.categories]
        return np.array([*categories, None], dtype=object)[column.cat.codes.to_numpy()]
    if pd.api.types.is_integer_dtype(column.dtype):
        keys = object_values(column.astype("str"))
        keys[column.isna().to_numpy()] = None
        return keys
    if pd.api.types.is_string_dtype(column.dtype) and column.dtype != object:
        keys = object_values(column)
        keys[blank_mask(keys)] = None
        return keys
    return np.array([primary_key_text(value) for value in column.to_numpy(dtype=object)], dtype=object)


def match_keys(keys: np.ndarray, synced_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which keys repeat in the model, and each row's position in the state map (-1: none).

    Keys are usually unique: then one table over their 64-bit hashes answers both
    questions, much faster than one over the strings. Every match is checked
    against the keys themselves; any doubt (a repeated hash, a mismatch) takes
    the exact path over the strings."""
    key_hashes = pd.Index(pd.util.hash_array(keys, categorize=False))
    if key_hashes.is_unique:
        found = key_hashes.get_indexer(pd.Index(pd.util.hash_array(synced_keys, categorize=False)))
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


def lookup(column: pd.Series, position: np.ndarray) -> np.ndarray:
    """`column[position]`, with None where position is -1 (not found)."""
    padded = np.append(column.to_numpy(dtype=object), np.array([None], dtype=object))
    return padded[position]


def same_hash(state_hashes: pd.Series, position: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """True where the state map holds a payload hash for the row and it equals `hashes`."""
    recorded = np.append(state_hashes.notna().to_numpy(), False)[position]
    numbers = np.append(state_hashes.to_numpy(dtype=np.uint64, na_value=0), np.uint64(0))[position]
    return recorded & (numbers == hashes)
