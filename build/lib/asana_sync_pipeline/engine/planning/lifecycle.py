"""A model as a live list: rows that leave it, rows that nest under others, comments that change.

Pure and vectorized, like planning:
- `parent_levels`: from each row's `parent_key` (another row's primary key) to its
  depth in the hierarchy, so parents are created first; unknown keys, a row its own
  parent, cycles, and rows below a rejected parent are rejections.
- `removals`: the rows this sync synced that the model no longer holds, and what
  the removal policy does to their tasks.
- `comment_hashes`: a hash per comment text, to post a comment only when it changed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..settings import RemovalPolicy
from ..state import COMPLETED
from .plan import COMPLETE, DELETE, Removal

UNKNOWN_PARENT = "parent_key {key!r} is not the primary key of a row of the model"
OWN_PARENT = "a row cannot be its own parent"
CYCLE = "parent_key makes a cycle: {cycle}"
REJECTED_PARENT = "its parent row {key!r} is rejected, so its task cannot be placed under it"
_NO_COMMENT = np.uint64(0)


def parent_levels(
    keys: np.ndarray, parent_keys: np.ndarray, unusable: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row's depth (0: no parent in the model), its parent's row position (-1: none),
    and (mask, reasons) of the rows rejected for their place in the hierarchy.

    `unusable` marks rows that are rejected and have no task to be a parent: rows
    below them are rejected too. (A repeated or empty key names no row: its first
    copy is found, and it is rejected, so its children are.)"""
    size = len(keys)
    has_parent = np.array([isinstance(parent, str) and parent != "" for parent in parent_keys], dtype=bool)
    parents = np.full(size, -1, dtype=np.intp)
    if has_parent.any():
        first = np.flatnonzero(~pd.Index(keys, dtype=object).duplicated(keep="first") & pd.notna(keys))
        found = pd.Index(keys[first], dtype=object).get_indexer(parent_keys[has_parent].astype(object))
        named = np.full(len(found), -1, dtype=np.intp)
        named[found >= 0] = first[found[found >= 0]]
        parents[has_parent] = named
    reasons = np.full(size, None, dtype=object)
    for unknown in np.flatnonzero(has_parent & (parents == -1)):
        reasons[unknown] = UNKNOWN_PARENT.format(key=parent_keys[unknown])
    for own in np.flatnonzero(parents == np.arange(size)):
        reasons[own] = OWN_PARENT
        parents[own] = -1
    levels = np.zeros(size, dtype=np.int64)
    state = np.zeros(size, dtype=np.int8)  # 0 unvisited, 1 on the current path, 2 done
    for start in range(size):
        if state[start]:
            continue
        path = []
        row = start
        while row != -1 and state[row] == 0:
            state[row] = 1
            path.append(row)
            row = int(parents[row])
        if row != -1 and state[row] == 1:
            cycle = path[path.index(row) :]
            shown = " -> ".join(str(keys[member]) for member in [*cycle, row])
            for member in cycle:
                reasons[member] = CYCLE.format(cycle=shown)
                state[member] = 2
                levels[member] = 0
            path = path[: path.index(row)]
            row = cycle[0]
        for member in reversed(path):
            parent = parents[member]
            if parent != -1:
                levels[member] = levels[parent] + 1
                if reasons[parent] is not None or unusable[parent]:
                    reasons[member] = reasons[member] or REJECTED_PARENT.format(key=keys[parent])
            state[member] = 2
    return levels, parents, pd.notna(reasons), reasons


def removals(gone: pd.DataFrame, policy: RemovalPolicy) -> list[Removal]:
    """The rows of the state the model no longer has (`gone`), with the action their task gets:
    complete (once: not again while the row stays away) or delete."""
    if policy is RemovalPolicy.KEEP or gone.empty:
        return []
    if policy is RemovalPolicy.COMPLETE and "removed" in gone:
        gone = gone[gone["removed"].astype(object) != COMPLETED]
    action = COMPLETE if policy is RemovalPolicy.COMPLETE else DELETE
    hashes = gone["payload_hash"] if "payload_hash" in gone else pd.Series(None, index=gone.index, dtype=object)
    return [
        Removal(key, gid, None if payload_hash is None or pd.isna(payload_hash) else int(payload_hash), action)
        for key, gid, payload_hash in zip(gone["primary_key"].astype(object), gone["task_gid"].astype(object), hashes.astype(object))
    ]


def live_tasks(removed: np.ndarray, policy: RemovalPolicy) -> int:
    """The sync's tasks the removal policy can act on, the guard's denominator (`removed`: the state's
    mark of each task not released): with `delete`, every task (one completed when its row left is
    deleted now); otherwise those not already completed because their row left."""
    if policy is RemovalPolicy.DELETE:
        return len(removed)
    return int((removed != COMPLETED).sum())


def comment_hashes(texts: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each comment text; 0 where there is none (never a real text's hash)."""
    given = pd.notna(texts)
    hashes = np.full(len(texts), _NO_COMMENT, dtype=np.uint64)
    if given.any():
        hashes[given] = pd.util.hash_array(texts[given].astype(object), categorize=True) | np.uint64(1)
    return hashes
