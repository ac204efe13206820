"""A mistake in a `defs.yaml`, said in one line that names the file, the sync and the fix, and
reaching the reader before Dagster's trace.

Dagster hands a component's validator the attributes alone, not the file they come from, so
`unknown_attributes` looks for the file where Dagster keeps it while loading (the YAML's
source positions); without it the message names the sync alone. `first_line_first` turns a
load that failed on one of our errors into that error alone, so that `dg check defs`, `dg dev`
and the code server print it first, with a trace of a few lines instead of Dagster's forty.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import dagster as dg

from ...engine import AsanaSyncError, SyncConfigError

T = TypeVar("T")


def _declared_at(attribute: str) -> str | None:
    """`file:line` of `attribute` in the YAML Dagster is loading, if it can be found."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        positions = getattr(frame.f_locals.get("source_tree"), "source_position_tree", None)
        if positions is not None:
            try:
                node = positions.children.get("attributes") or positions
                position = (node.children.get(attribute) or node).position
                return f"{position.filename}:{position.start.line}"
            except AttributeError:
                return None
        frame = frame.f_back
    return None


def unknown_attributes(data: dict[Any, Any], unknown: Sequence[str], attributes: Sequence[str]) -> str:
    """What to say of attributes a sync does not have: where, which sync, the nearest valid name
    of each (never a value: a token pasted into YAML must not reach a log)."""
    named = []
    for name in unknown:
        nearest = difflib.get_close_matches(name, attributes, n=1, cutoff=0.6)
        named.append(f"{name} (did you mean {nearest[0]}?)" if nearest else name)
    where = _declared_at(unknown[0])
    sync = data.get("name")
    prefix = (f"{where}: " if where else "") + (f"sync {sync!r}: " if isinstance(sync, str) else "")
    hint = (
        " A token never goes in YAML: name the variable holding it with access_token_env."
        if any("token" in name.lower() for name in unknown)
        else ""
    )
    return f"{prefix}unknown attribute(s) {', '.join(named)}; attributes are: {', '.join(attributes)}.{hint}"


def _ours(error: BaseException) -> AsanaSyncError | None:
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, AsanaSyncError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def first_line_first(load: Callable[[], T]) -> T:
    """`load()` (of the YAML syncs): a failure caused by one of our configuration errors becomes
    that error alone (its one line first, then a trace of a few lines), not Dagster's tree and
    nested traces."""
    try:
        return load()
    except AsanaSyncError:
        raise
    except Exception as exc:
        ours = _ours(exc)
        if ours is None:
            raise
        raise SyncConfigError(str(ours)) from None


def load_yaml_syncs(path_within_project: Path) -> dg.Definitions:
    """The syncs a project declares in YAML (`dg.load_from_defs_folder`), a mistake in one of them
    said first, in one line (what this project's code location does; a team's may do the same)."""
    return first_line_first(lambda: dg.load_from_defs_folder(path_within_project=path_within_project))
