"""Planning: from the warehouse model and the sync state to one operation per row.

Pure and vectorized (no Dagster, no HTTP): normalize every mapped column with
the field rules, apply the rules that span fields, then decide per row whether
to create, update, leave unchanged or reject, by the sync mode and the GIDs and
payload hashes recorded by earlier runs. A million rows plan in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SyncConfigError
from ..fields.mapping import ColumnMapping, resolve_mapping
from ..fields.names import PENDING_PREFIX, TEXT_FIELD_LIMIT, UNCHECKED_PREFIX
from ..fields.rule_selection import FieldRules, check_custom_field_columns, may_hold_names
from ..fields.schema import ProjectSchema
from ..fields.value_rules import (
    COMMENT,
    DEPENDS_ON,
    LINK_FIELDS,
    PARENT_KEY,
    NormalizedColumn,
    normalize_column,
    object_values,
    show,
    task_gid,
)
from ..model.warehouse import EXACT_NUMBERS
from ..settings import SyncSettings
from ..state import COMPLETED, REJECTION_FIELDS, RELEASED, empty_synced
from .bodies import SYNC_KEY
from .changes import changes_and_held, check_policies
from .extras import Extras, dependency_levels
from .hashing import payload_hash
from .keys import is_numeric_key, lookup, match_keys, positions_in, primary_key_column, renamed_number_keys, same_hash
from .lifecycle import REJECTED_PARENT, comment_hashes, live_tasks, parent_levels, removals
from .plan import Operation, Plan, operation_column

EMPTY_KEY = "the primary key is empty"
"""The start of the reason of a row without a key; it goes on to say which: `(NULL)`, `(blank text '  ')`."""
KEY_TOO_LONG = (
    "the primary key is {length:,} characters long; sync_key_field writes it into a text custom field, which holds "
    "at most {limit:,}: use a shorter key"
)
REPEATED_KEY = "the primary key appears more than once in the model"
NAME_REQUIRED = "name is required to create a task"
NO_TASK_TO_UPDATE = "no task to update: the row has no task_gid and no task was synced for this primary key"
RELEASED_TASK = (
    "its task {gid} was released to the people working in Asana (moved out of the project, or deleted, by hand), "
    "so the sync no longer writes it; to sync this row again, clear the release (python -m asana_sync_pipeline "
    "--clear-releases, with --sync for this sync): the next run then gives the row a task again"
)


def _normalize(model: pd.DataFrame, mapping: ColumnMapping, field_rules: FieldRules) -> dict[str, NormalizedColumn]:
    """Each mapped field's canonical values, keyed as the plan keys them (custom fields by GID)."""
    return {
        field_rules.resolved_field(field): normalize_column(field_rules.rule(field), model[column])
        for field, column in mapping.fields.items()
    }


def _distinct_values(column: NormalizedColumn) -> np.ndarray:
    return column.distinct if column.distinct is not None else pd.unique(column.values[pd.notna(column.values)])


def _names_in(column: NormalizedColumn, prefix: str) -> dict[str, None]:
    """Entries of a column's canonical values that carry `prefix`, without it, in order."""
    found: dict[str, None] = {}
    for value in _distinct_values(column):
        if isinstance(value, str) and prefix in value:
            for entry in value.split(","):
                if entry.startswith(prefix):
                    found[entry[len(prefix) :]] = None
    return found


def _emails_in(column: NormalizedColumn) -> dict[str, None]:
    """People given by email (kept as written when the workspace's users were not read)."""
    values = [value for value in _distinct_values(column) if isinstance(value, str) and "@" in value]
    return {entry: None for value in values for entry in value.split(",") if "@" in entry}


_DATE_FIELDS = ("due_on", "due_at", "start_on", "start_at")


def _cross_field_errors(columns: dict[str, NormalizedColumn], size: int) -> list[tuple[np.ndarray, str, str]]:
    """Rules that span fields, as (row mask, field, reason): Asana refuses these combinations."""
    given_masks = {name: column.given() for name, column in columns.items() if name in _DATE_FIELDS}
    none = np.zeros(size, dtype=bool)

    def given(name: str) -> np.ndarray:
        return given_masks.get(name, none)

    def later(start: str, due: str, length: int | None = None) -> np.ndarray:
        """Rows where both are given and `start` comes after `due` (on their first `length` characters)."""
        both = given(start) & given(due)
        found = np.zeros(size, dtype=bool)
        if both.any():
            starts = columns[start].values[both].astype(str)
            dues = columns[due].values[both].astype(str)
            if length is not None:
                dues = np.array([value[:length] for value in dues], dtype=str)
            found[both] = starts > dues
        return found

    due = given("due_on") | given("due_at")
    found = [
        (given("due_on") & given("due_at"), "due_at", "give either due_on or due_at, not both"),
        (given("start_on") & given("start_at"), "start_at", "give either start_on or start_at, not both"),
        (given("start_on") & ~due, "start_on", "start_on needs a due date (due_on or due_at) on the same row"),
        (given("start_at") & ~given("due_at"), "start_at", "start_at needs due_at on the same row"),
        (later("start_on", "due_on"), "start_on", "start_on is after due_on"),
        (later("start_on", "due_at", length=10), "start_on", "start_on is after the date of due_at (UTC)"),
        (later("start_at", "due_at"), "start_at", "start_at is after due_at"),
    ]
    if "resource_subtype" in columns:
        milestone = columns["resource_subtype"].values == "milestone"
        found.append((milestone & (given("start_on") | given("start_at")), "start_on", "milestones take no start date"))
    return found


def build_plan(
    model: pd.DataFrame,
    settings: SyncSettings,
    synced: pd.DataFrame | None = None,
    schema: ProjectSchema | None = None,
) -> Plan:
    """Plan every row of `model` against `synced` (earlier GIDs and payload hashes), resolving
    names against `schema` when one was read."""
    mapping = resolve_mapping([str(column) for column in model.columns], settings)
    field_rules = FieldRules(schema, settings)
    check_custom_field_columns(mapping, field_rules)
    shown_as = {field_rules.resolved_field(field): field for field in mapping.fields}
    model = model.reset_index(drop=True)
    size = len(model)
    normalized = _normalize(model, mapping, field_rules)
    comments = normalized.pop(COMMENT, None)
    links = {name: normalized.pop(name) for name in LINK_FIELDS if name in normalized}
    if PARENT_KEY in normalized:
        parent = normalized[PARENT_KEY]
        explicit = np.where(pd.notna(parent.values), parent.values, "")
        normalized[PARENT_KEY] = NormalizedColumn(explicit.astype(object), parent.reasons())
    exact = settings.primary_key in model.attrs.get(EXACT_NUMBERS, [])
    keys, missing_key = primary_key_column(model[settings.primary_key], exact_numbers=exact)
    synced = synced if synced is not None else empty_synced()
    renames: dict[str, str] = {}
    if is_numeric_key(model[settings.primary_key], exact_numbers=exact) and len(synced):
        renames = renamed_number_keys(synced["primary_key"].to_numpy(dtype=object), keys)
        if renames:
            synced = synced.assign(primary_key=synced["primary_key"].replace(renames))
    check_policies(settings.field_policies)
    policies = {field_rules.resolved_field(name): policy for name, policy in settings.field_policies.items()}
    if settings.sync_key_field:
        normalized[SYNC_KEY] = NormalizedColumn(keys, None)
    values = {field: column.values for field, column in normalized.items()}
    rejected: list[tuple[np.ndarray, str, Any]] = [
        (column.invalid(), shown_as.get(field, field), column)
        for field, column in normalized.items()
        if field != SYNC_KEY and column.may_be_invalid()
    ]
    rejected += [(column.invalid(), shown_as.get(name, name), column) for name, column in links.items() if column.may_be_invalid()]

    duplicated, position = match_keys(keys, synced["primary_key"].to_numpy(dtype=object))
    state_gids = lookup(synced["task_gid"], position)
    task_gids, gid_from_column = state_gids, np.zeros(size, dtype=bool)
    if mapping.task_gid_column:
        gid_column = normalize_column(task_gid, model[mapping.task_gid_column])
        gid_from_column = np.asarray(pd.notna(gid_column.values))
        task_gids = np.where(gid_from_column, gid_column.values, state_gids)
        rejected.append((gid_column.invalid(), "task_gid", gid_column))
    rejected.extend(_cross_field_errors(normalized, size))
    rejected.append((missing_key, settings.primary_key, _empty_key_reasons(model[settings.primary_key], missing_key)))
    rejected.append((duplicated & ~missing_key, settings.primary_key, REPEATED_KEY))
    if settings.sync_key_field:
        rejected.append(_too_long_for_the_sync_key(keys, settings.primary_key))
    has_task = pd.notna(task_gids)
    released = _removed_as(synced, position, RELEASED) & ~gid_from_column
    if released.any():
        reasons = np.array([RELEASED_TASK.format(gid=gid) for gid in state_gids], dtype=object)
        rejected.append((released, mapping.task_gid_column or "task_gid", reasons))

    # Only a row that has a task needs its hash now (unchanged or not); the others' are computed when asked.
    hashes = np.zeros(size, dtype=np.uint64)
    with_task = np.flatnonzero(has_task)
    hashes[with_task] = payload_hash(normalized, size, None if len(with_task) == size else with_task)
    gid_known = has_task & (state_gids == task_gids) if mapping.task_gid_column else has_task
    unchanged = gid_known & same_hash(synced["payload_hash"], position, hashes)

    creates = ~has_task if settings.sync_mode.creates else np.zeros(size, dtype=bool)
    updates = has_task & ~unchanged if settings.sync_mode.updates else np.zeros(size, dtype=bool)
    if not settings.sync_mode.creates:
        rejected.append((~has_task, mapping.task_gid_column or "task_gid", NO_TASK_TO_UPDATE))
    name_given = pd.notna(values["name"]) if "name" in values else np.zeros(size, dtype=bool)
    rejected.insert(0, (creates & ~name_given, "name", NAME_REQUIRED))
    if comments is not None:
        rejected.append((comments.invalid(), shown_as.get(COMMENT, COMMENT), comments))
        values[COMMENT] = comments.values

    levels = np.zeros(size, dtype=np.int64)
    parents = np.full(size, -1, dtype=np.intp)
    if PARENT_KEY in values or DEPENDS_ON in links:
        unusable = np.zeros(size, dtype=bool)
        for mask, _, _ in rejected:
            unusable |= np.asarray(mask, dtype=bool)
    if PARENT_KEY in values:
        levels, parents, misplaced, reasons = parent_levels(keys, values[PARENT_KEY], unusable & ~has_task)
        rejected.append((misplaced, shown_as.get(PARENT_KEY, PARENT_KEY), reasons))
        unusable |= misplaced
    if DEPENDS_ON in links:
        levels, refused, reasons = dependency_levels(keys, links[DEPENDS_ON].values, parents, unusable)
        rejected.append((refused, shown_as.get(DEPENDS_ON, DEPENDS_ON), reasons))
        if PARENT_KEY in values:
            rejected.append(_under_rejected_parents(keys, parents, refused & ~has_task, unusable))

    rejections = _rejection_table(rejected, keys, size)
    codes = np.full(size, Operation.UNCHANGED.code, dtype=np.int8)
    codes[updates] = Operation.UPDATE.code
    codes[creates] = Operation.CREATE.code
    codes[rejections.index.unique()] = Operation.REJECT.code
    table = pd.DataFrame(
        {
            "primary_key": pd.Series(keys, dtype=object, copy=False),
            "operation": operation_column(codes),
            "task_gid": pd.Series(task_gids, dtype=object, copy=False),
            "gid_from_column": pd.Series(gid_from_column, dtype=bool),
            "gid_known": pd.Series(gid_known, dtype=bool),
            "payload_hash": pd.Series(hashes, dtype=np.uint64),  # 0 where not hashed: read it through Plan.payload_hashes
            "hashed": pd.Series(has_task, dtype=bool),
            "level": pd.Series(levels, dtype=np.int64),
            "comment_hash": pd.Series(
                comment_hashes(values[COMMENT]) if COMMENT in values else np.zeros(size, dtype=np.uint64), dtype=np.uint64
            ),
            "sends": pd.Series(codes == Operation.UPDATE.code, dtype=bool),
        }
    )
    notes = [*mapping.notes, *([f"Columns not sent to Asana: {', '.join(mapping.ignored)}"] if mapping.ignored else [])]
    pending = {
        name: list(_names_in(normalized[name], PENDING_PREFIX)) for name in ("tags", "section") if name in normalized
    }
    pending = {name: waiting for name, waiting in pending.items() if waiting}
    unchecked = {
        shown_as.get(name, name): len(found)
        for name, column in normalized.items()
        if may_hold_names(name)
        and (found := {**_names_in(column, UNCHECKED_PREFIX), **(_emails_in(column) if schema is None else {})})
    }
    for name, waiting in pending.items():
        notes.append(f"{name}: will be created once, then used: {', '.join(waiting[:10])}")
    if unchecked:
        notes.append(
            "Names not checked against the project (its schema was not read): "
            + ", ".join(f"{field} ({count} distinct)" for field, count in unchecked.items())
        )
    plan = Plan(
        settings,
        mapping,
        table,
        values,
        rejections.reset_index(drop=True),
        notes,
        kinds=field_rules.kinds(),
        schema=schema.summary() if schema is not None else None,
        labels=schema.labels() if schema is not None else {},
        pending=pending,
        unchecked=unchecked,
        policies=policies,
        renames=renames,
        key_kind=_key_kind(model[settings.primary_key], exact),
        extras=_extras(model, settings, links),
    )
    return _with_lifecycle(plan, synced, position)


def _extras(model: pd.DataFrame, settings: SyncSettings, links: dict[str, NormalizedColumn]) -> Extras | None:
    """What the rows ask for beyond their fields: links, and the values `adopt_existing` looks for."""
    adopt_values = None
    if settings.adopt_existing:
        column = settings.adopt_existing["column"]
        if column not in model.columns:
            raise SyncConfigError(
                f"adopt_existing's column {column!r} is not a column of the model; columns are: "
                f"{', '.join(map(str, model.columns))}"
            )
        adopt_values = object_values(model[column])
    if not links and adopt_values is None:
        return None
    return Extras(links={name: column.values for name, column in links.items()}, adopt_values=adopt_values)


def _under_rejected_parents(
    keys: np.ndarray, parents: np.ndarray, rejected: np.ndarray, already: np.ndarray
) -> tuple[np.ndarray, str, np.ndarray]:
    """Rows beneath a row `depends_on` rejected (by `parent_key`, at any depth), which has no task to place them under."""
    below = np.zeros(len(keys), dtype=bool)
    reasons = np.full(len(keys), None, dtype=object)
    changed = True
    while changed:
        changed = False
        for row in np.flatnonzero((parents >= 0) & ~below & ~already):
            parent = parents[row]
            if rejected[parent] or below[parent]:
                below[row], changed = True, True
                reasons[row] = REJECTED_PARENT.format(key=keys[parent])
    return below, PARENT_KEY, reasons


def _key_kind(column: pd.Series, exact: bool) -> str:
    """What the model's primary key holds, for the outcomes to give it back the same way: `integer`,
    `number` (decimals and floats, and integers wider than 64 bits, kept as exact text) or `text`."""
    if exact:
        return "number"
    if pd.api.types.is_integer_dtype(column.dtype):
        return "integer"
    if is_numeric_key(column):
        return "number"
    return "text"


def _empty_key_reasons(column: pd.Series, missing: np.ndarray) -> np.ndarray | str:
    """Why each row without a key has none: its key is NULL, or text with nothing but spaces (shown)."""
    if not missing.any():
        return EMPTY_KEY
    reasons = np.full(len(missing), None, dtype=object)
    at = np.flatnonzero(missing)
    reasons[at] = [
        f"{EMPTY_KEY} (blank text {show(value)})" if isinstance(value, str) else f"{EMPTY_KEY} (NULL)"
        for value in object_values(column.iloc[at])
    ]
    return reasons


def _too_long_for_the_sync_key(keys: np.ndarray, primary_key: str) -> tuple[np.ndarray, str, np.ndarray]:
    """Rows whose key a text custom field cannot hold (the sync key field receives each row's key):
    Asana would refuse their writes, so they are rejected here, before any request."""
    lengths = np.fromiter((len(key) if isinstance(key, str) else 0 for key in keys), dtype=np.int64, count=len(keys))
    too_long = lengths > TEXT_FIELD_LIMIT
    reasons = np.full(len(keys), None, dtype=object)
    reasons[too_long] = [KEY_TOO_LONG.format(length=length, limit=TEXT_FIELD_LIMIT) for length in lengths[too_long]]
    return too_long, primary_key, reasons


def _removed_as(synced: pd.DataFrame, position: np.ndarray, mark: str) -> np.ndarray:
    """True where the state marks the row's task `removed` as `mark` (False: no mark, or no state)."""
    if "removed" not in synced:
        return np.zeros(len(position), dtype=bool)
    return lookup(synced["removed"].to_numpy(dtype=object) == mark, position, False)


def _with_lifecycle(plan: Plan, synced: pd.DataFrame, position: np.ndarray) -> Plan:
    """What the state says of rows that left or came back, and of comments already posted."""
    table = plan.table
    operation = plan.operation_codes()
    removed = synced["removed"] if "removed" in synced else pd.Series(None, index=synced.index, dtype=object)
    rejected = operation == Operation.REJECT.code
    came_back = _removed_as(synced, position, COMPLETED) & ~rejected
    came_back &= table["gid_known"].to_numpy()
    if plan.settings.sync_mode.updates:
        operation[came_back & (operation == Operation.UNCHANGED.code)] = Operation.UPDATE.code
    update = operation == Operation.UPDATE.code
    reopen = came_back & update
    posted = (
        lookup(synced["comment_hash"].to_numpy(dtype=np.uint64, na_value=0), position, np.uint64(0))
        if "comment_hash" in synced
        else np.zeros(len(table), dtype=np.uint64)
    )
    comment_hash = table["comment_hash"].to_numpy(dtype=np.uint64)
    comment_due = (comment_hash != 0) & (comment_hash != posted) & ~rejected
    if not plan.settings.sync_mode.updates:
        comment_due &= operation == Operation.CREATE.code
    sends = table["sends"].to_numpy(dtype=bool) | update
    table = table.assign(operation=operation_column(operation), reopen=reopen, comment_due=comment_due, sends=sends)
    in_model = np.zeros(len(synced), dtype=bool)
    in_model[position[position >= 0]] = True
    removed_values = removed.astype(object).to_numpy()
    released = removed_values == RELEASED
    untouched = pd.isna(removed_values)
    gone = ~in_model & ~released
    return replace(
        plan,
        table=table,
        removals=removals(synced[gone] if gone.any() else synced.iloc[:0], plan.settings.on_row_removed),
        live_tasks=live_tasks(removed_values[~released], plan.settings.on_row_removed),
        gone=sorted(str(key) for key in synced["primary_key"].to_numpy(dtype=object)[~in_model & untouched]),
        tracked_tasks=int(untouched.sum()),
    )


def with_written(plan: Plan, written: Mapping[str, Mapping[str, Any]]) -> Plan:
    """The plan with each update's field changes: what the model changed since the row's last sync
    (`written`: primary key -> the field values recorded then). An update whose row has no record
    sends every field; one whose changes are all kept by their policies sends nothing."""
    table = plan.table
    chosen = np.flatnonzero(plan.mask(Operation.UPDATE) & table["gid_known"].to_numpy(dtype=bool))
    keys = table["primary_key"].to_numpy(dtype=object)[chosen]
    columns = {name: column[chosen] for name, column in plan.values.items() if name != COMMENT}
    changes, held = {}, {}
    for index, (position, key) in enumerate(zip(chosen, keys)):
        recorded = written.get(key)
        if recorded is not None:
            now = {name: value for name, column in columns.items() if (value := column[index]) is not None}
            changes[int(position)], kept = changes_and_held(recorded, now, plan.policies)
            if kept:
                held[int(position)] = kept
    sends = plan.mask(Operation.UPDATE)
    reopen = table["reopen"].to_numpy(dtype=bool)
    for at, found in changes.items():
        sends[at] = bool(found) or bool(reopen[at])
    return replace(plan, changes=changes, held=held, table=table.assign(sends=sends))


def _rejection_table(rejected: list[tuple[np.ndarray, str, Any]], keys: np.ndarray, size: int) -> pd.DataFrame:
    """One line per rejected (row, field), indexed by row position; the first reason wins."""
    parts = []
    for mask, field_name, reason in rejected:
        mask = np.asarray(mask, dtype=bool)
        if size == 0 or not mask.any():
            continue
        rows = np.flatnonzero(mask)
        if isinstance(reason, NormalizedColumn):
            reasons = reason.reasons_at(rows)
        else:
            reasons = reason[rows] if isinstance(reason, np.ndarray) else np.full(len(rows), reason, dtype=object)
        # object columns: a missing key stays None (a text column would make it NaN, shown as "nan")
        parts.append(
            pd.DataFrame(
                {"primary_key": pd.Series(keys[rows], dtype=object, index=rows), "field": field_name,
                 "reason": pd.Series(reasons, dtype=object, index=rows)},
                index=rows,
            )
        )  # fmt: skip
    if not parts:
        return pd.DataFrame(columns=list(REJECTION_FIELDS), index=pd.Index([], dtype=np.int64))
    table = pd.concat(parts).sort_index(kind="stable")
    first_per_field = ~pd.MultiIndex.from_arrays([table.index, table["field"]]).duplicated()
    table = table[first_per_field]
    table["primary_key"] = table["primary_key"].astype(object).where(table["primary_key"].notna(), None)
    return table


def refresh_plan(plan: Plan, synced: pd.DataFrame) -> Plan:
    """The plan against the state as it is now, once the sync's lock is held: rows another run
    synced since planning become updates or unchanged instead of second creates; the row
    lifecycle is computed again."""
    table = plan.table.copy()
    position = positions_in(synced, table["primary_key"].to_numpy(dtype=object))
    known = position >= 0
    state_gids = lookup(synced["task_gid"], position)
    operation = plan.operation_codes()
    task_gids = table["task_gid"].to_numpy(dtype=object).copy()
    adopted = (operation == Operation.CREATE.code) & known
    task_gids[adopted] = state_gids[adopted]
    same = known & (state_gids == task_gids)
    at = np.flatnonzero(same)
    same[at] = same_hash(synced["payload_hash"], position[at], plan.payload_hashes(at))
    if not plan.settings.sync_mode.updates:
        operation[adopted] = Operation.UNCHANGED.code
    else:
        operation[adopted] = np.where(same[adopted], Operation.UNCHANGED.code, Operation.UPDATE.code)
    operation[(operation == Operation.UPDATE.code) & same] = Operation.UNCHANGED.code
    table["operation"] = operation_column(operation)
    table["task_gid"] = task_gids
    table["gid_known"] = known & (state_gids == task_gids)
    return _with_lifecycle(replace(plan, table=table), synced, position)
