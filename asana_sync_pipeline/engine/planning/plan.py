"""Planning: from the warehouse model and the sync state to one operation per row.

Pure and vectorized (no Dagster, no HTTP): normalize every mapped column with
the field rules, apply the rules that span fields, then decide per row whether
to create, update, leave unchanged or reject, by the sync mode and the GIDs and
payload hashes recorded by earlier runs. A million rows plan in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..fields import rules as rules
from ..fields.rules import (
    COMMENT,
    CUSTOM_FIELD_PREFIX,
    PARENT_KEY,
    TASK_FIELDS,
    NormalizedColumn,
    blank_mask,
    is_null,
    normalize_column,
    to_api_value,
)
from .lifecycle import comment_hashes, live_tasks, parent_levels, removals
from ..fields.mapping import ColumnMapping, resolve_mapping
from ..fields.names import PENDING_PREFIX, UNCHECKED_PREFIX, api_custom_value
from ..fields.field_rules import FieldRules, check_custom_field_columns, may_hold_names
from ..fields.schema import ProjectSchema
from ..settings import SyncSettings
from ..state import COMPLETED

CREATE, UPDATE, UNCHANGED, REJECT = "create", "update", "unchanged", "reject"
OPERATIONS = (CREATE, UPDATE, UNCHANGED, REJECT)
SYNC_KEY = "sync_key"
"""Internal column: the primary key written into the sync-key custom field."""

EMPTY_KEY = "the primary key is empty"
REPEATED_KEY = "the primary key appears more than once in the model"
NAME_REQUIRED = "name is required to create a task"

SYNCED_COLUMNS = ("primary_key", "task_gid", "payload_hash", "removed", "comment_hash")
REJECTION_COLUMNS = ("primary_key", "field", "reason")


@dataclass
class Plan:
    """What a sync will do. `rows` has one row per model row: `primary_key`,
    `operation`, `task_gid`, `gid_from_column`, `gid_known` (the state already maps
    the row to this task) and `payload_hash`; `values` holds,
    per mapped Asana field, the rows' canonical values (arrays in row order, kept
    out of the DataFrame because a million-row object frame is slow to build);
    `rejections` lists (primary_key, field, reason). Custom field values are keyed
    `custom_fields.<GID>` once the schema is known, `kinds` gives their types; names
    of tags and sections to create are `pending`, names not checked (no schema)
    are counted in `unchecked`.

    The row lifecycle: `rows` also holds `level` (depth under `parent_key`; parents
    are created first), `reopen` (the row came back; its completed task reopens),
    `comment_hash` and `comment_due` (a changed comment to post); `removals` lists
    the tasks of rows that left the model with their action, out of `live_tasks`."""

    settings: SyncSettings
    mapping: ColumnMapping
    rows: pd.DataFrame
    values: dict[str, np.ndarray]
    rejections: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    schema: dict[str, Any] | None = None
    pending: dict[str, list[str]] = field(default_factory=dict)
    unchecked: dict[str, int] = field(default_factory=dict)
    removals: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["primary_key", "task_gid", "action"]))
    live_tasks: int = 0

    def counts(self) -> dict[str, int]:
        counted = self.rows["operation"].value_counts()
        return {operation: int(counted.get(operation, 0)) for operation in OPERATIONS}

    def payload_fields(self, position: int) -> dict[str, Any]:
        """The canonical field values of one row, NULLs left out."""
        values = ((name, column[position]) for name, column in self.values.items())
        return {name: value for name, value in values if not is_null(value)}

    def comment(self, position: int) -> str | None:
        texts = self.values.get(COMMENT)
        return None if texts is None or is_null(texts[position]) else texts[position]

    def removal_share(self) -> float:
        return len(self.removals) / self.live_tasks if self.live_tasks else 0.0

    def wanted(self, position: int, parents: dict[str, str] | None = None) -> dict[str, Any]:
        """The row's canonical values as they are sent: `parent_key` becomes the parent task's
        GID (`parents`: primary key -> task GID), or "" for none; a row that came back reopens
        its task unless it says itself whether the task is completed."""
        fields = self.payload_fields(position)
        parent_key = fields.pop(PARENT_KEY, None)
        if parent_key is not None:
            fields["parent"] = (parents or {}).get(parent_key, "") if parent_key else ""
        if bool(self.rows["reopen"].iat[position]) and "completed" not in fields:
            fields["completed"] = False
        return fields

    def request_body(
        self, position: int, project_gid: str, *, for_update: bool, parents: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """The JSON body of this row's create, or of its PUT (create-only fields left out)."""
        return api_payload(
            self.wanted(position, parents),
            project_gid=project_gid,
            sync_key_field=self.settings.sync_key_field,
            for_update=for_update,
            kinds=self.kinds,
        )

    def with_created(self, created: dict[str, dict[str, str]]) -> Plan:
        """The plan once pending tags and sections exist: `created[field][name]` is the new GID.

        Their GIDs replace the names in every row, and payload hashes are computed
        again, so the state records what the tasks really hold."""
        values = dict(self.values)
        for field_name, gids in created.items():
            if field_name not in values or not gids:
                continue
            lookup = {PENDING_PREFIX + name: gid for name, gid in gids.items()}

            def substitute(canonical: Any) -> Any:
                if not isinstance(canonical, str) or PENDING_PREFIX not in canonical:
                    return canonical
                return ",".join(lookup.get(entry, entry) for entry in canonical.split(","))

            codes, distinct = pd.factorize(values[field_name], use_na_sentinel=True)
            replaced = np.array([substitute(value) for value in distinct] + [None], dtype=object)
            values[field_name] = replaced[codes]
        columns = {
            name: NormalizedColumn(column, np.full(len(column), None, dtype=object))
            for name, column in values.items()
            if name != COMMENT
        }
        rows = self.rows.copy()
        rows["payload_hash"] = payload_hash(columns, len(rows))
        return replace(self, values=values, rows=rows, pending={})


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
        keys = column.astype("str").to_numpy(dtype=object, na_value=None)
        keys[column.isna().to_numpy()] = None
        return keys
    if pd.api.types.is_string_dtype(column.dtype) and column.dtype != object:
        keys = column.to_numpy(dtype=object, na_value=None)
        keys[blank_mask(keys)] = None
        return keys
    return np.array([primary_key_text(value) for value in column.to_numpy(dtype=object)], dtype=object)


def _normalize(model: pd.DataFrame, mapping: ColumnMapping, field_rules: FieldRules) -> dict[str, NormalizedColumn]:
    """Each mapped field's canonical values, keyed as the plan keys them (custom fields by GID)."""
    return {
        field_rules.resolved_field(field): normalize_column(field_rules.rule(field), model[column])
        for field, column in mapping.fields.items()
    }


def _names_in(column: NormalizedColumn, prefix: str) -> dict[str, None]:
    """Entries of a column's canonical values that carry `prefix`, without it, in order."""
    distinct = column.distinct if column.codes is not None else pd.unique(column.values[pd.notna(column.values)])
    found: dict[str, None] = {}
    for value in distinct:
        if isinstance(value, str) and prefix in value:
            for entry in value.split(","):
                if entry.startswith(prefix):
                    found[entry[len(prefix) :]] = None
    return found


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


_NULL_HASH = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0x100000001B3)


def _column_hash(column: NormalizedColumn) -> np.ndarray:
    """Stable 64-bit hashes of a column's canonical values, per distinct value when known
    (columns without codes are mostly distinct text, hashed directly)."""
    if column.codes is None:
        given = pd.notna(column.values)
        hashes = np.full(len(given), _NULL_HASH, dtype=np.uint64)
        hashes[given] = pd.util.hash_array(column.values[given], categorize=False)
        return hashes
    hashes = pd.util.hash_array(column.distinct)
    hashes[pd.isna(column.distinct)] = _NULL_HASH
    return hashes[column.codes]


def payload_hash(columns: dict[str, NormalizedColumn], size: int) -> np.ndarray:
    """A stable 64-bit hash per row of canonical values, including which fields are given."""
    names = sorted(columns)
    hashes = np.full(size, pd.util.hash_array(np.array([",".join(names)], dtype=object))[0], dtype=np.uint64)
    for name in names:
        hashes = (hashes * _MIX) ^ _column_hash(columns[name])
    return hashes


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
    if PARENT_KEY in normalized:
        parent = normalized[PARENT_KEY]
        explicit = np.where(pd.notna(parent.values), parent.values, "")
        normalized[PARENT_KEY] = NormalizedColumn(explicit.astype(object), parent.errors)
    keys = primary_key_column(model[settings.primary_key])
    if settings.sync_key_field:
        normalized[SYNC_KEY] = NormalizedColumn(keys, np.full(size, None, dtype=object))
    values = {field: column.values for field, column in normalized.items()}
    rejected: list[tuple[np.ndarray, str, Any]] = [
        (column.invalid(), shown_as.get(field, field), column.errors) for field, column in normalized.items() if field != SYNC_KEY
    ]

    column_gids = np.full(size, None, dtype=object)
    if mapping.task_gid_column:
        gid_column = normalize_column(rules.task_gid, model[mapping.task_gid_column])
        column_gids = gid_column.values
        rejected.append((gid_column.invalid(), "task_gid", gid_column.errors))
    rejected.extend(_cross_field_errors(normalized, size))
    synced = synced if synced is not None else pd.DataFrame(columns=list(SYNCED_COLUMNS))
    missing_key = pd.isna(keys)
    duplicated, position = _match_keys(keys, synced["primary_key"].to_numpy(dtype=object))
    rejected.append((missing_key, settings.primary_key, EMPTY_KEY))
    rejected.append((duplicated & ~missing_key, settings.primary_key, REPEATED_KEY))
    state_gids = _lookup(synced["task_gid"], position)
    task_gids = np.where(pd.notna(column_gids), column_gids, state_gids)
    has_task = pd.notna(task_gids)

    hashes = payload_hash(normalized, size)
    unchanged = has_task & (state_gids == task_gids) & _same_hash(synced["payload_hash"], position, hashes)

    creates = ~has_task if settings.sync_mode.creates else np.zeros(size, dtype=bool)
    updates = has_task & ~unchanged if settings.sync_mode.updates else np.zeros(size, dtype=bool)
    if not settings.sync_mode.creates:
        rejected.append((~has_task, mapping.task_gid_column or "task_gid",
                         "no task to update: the row has no task_gid and no task was synced for this primary key"))
    name_given = pd.notna(values["name"]) if "name" in values else np.zeros(size, dtype=bool)
    rejected.insert(0, (creates & ~name_given, "name", NAME_REQUIRED))
    if comments is not None:
        rejected.append((comments.invalid(), shown_as.get(COMMENT, COMMENT), comments.errors))
        values[COMMENT] = comments.values

    levels = np.zeros(size, dtype=np.int64)
    if PARENT_KEY in values:
        unusable = np.zeros(size, dtype=bool)
        for mask, _, _ in rejected:
            unusable |= np.asarray(mask, dtype=bool)
        levels, _, misplaced, reasons = parent_levels(keys, values[PARENT_KEY], unusable & ~has_task)
        rejected.append((misplaced, shown_as.get(PARENT_KEY, PARENT_KEY), reasons))

    rejections = _rejection_table(rejected, keys, size)
    codes = np.where(creates, 0, np.where(updates, 1, 2))
    codes[rejections.index.unique()] = 3
    operation = np.array(OPERATIONS, dtype=object)[codes]
    plan_rows = pd.DataFrame(
        {
            "primary_key": pd.Series(keys, dtype=object, copy=False),
            "operation": pd.Series(operation, dtype=object, copy=False),
            "task_gid": pd.Series(task_gids, dtype=object, copy=False),
            "gid_from_column": pd.Series(pd.notna(column_gids), dtype=bool),
            "gid_known": pd.Series(has_task & (state_gids == task_gids), dtype=bool),
            "payload_hash": pd.Series(hashes, dtype=np.uint64),
            "level": pd.Series(levels, dtype=np.int64),
            "comment_hash": pd.Series(comment_hashes(values.get(COMMENT, np.full(size, None, dtype=object))), dtype=np.uint64),
        }
    )
    notes = [*mapping.notes, *([f"Columns not sent to Asana: {', '.join(mapping.ignored)}"] if mapping.ignored else [])]
    pending = {
        name: list(_names_in(normalized[name], PENDING_PREFIX)) for name in ("tags", "section") if name in normalized
    }
    pending = {name: names for name, names in pending.items() if names}
    unchecked = {
        shown_as.get(name, name): len(names)
        for name, column in normalized.items()
        if may_hold_names(name) and (names := _names_in(column, UNCHECKED_PREFIX))
    }
    for name, names in pending.items():
        notes.append(f"{name}: will be created once, then used: {', '.join(names[:10])}")
    if unchecked:
        notes.append(
            "Names not checked against the project (its schema was not read): "
            + ", ".join(f"{field} ({count} distinct)" for field, count in unchecked.items())
        )
    plan = Plan(
        settings,
        mapping,
        plan_rows,
        values,
        rejections.reset_index(drop=True),
        notes,
        kinds=field_rules.kinds(),
        schema=schema.summary() if schema is not None else None,
        pending=pending,
        unchecked=unchecked,
    )
    return _with_lifecycle(plan, synced, position)


def _with_lifecycle(plan: Plan, synced: pd.DataFrame, position: np.ndarray) -> Plan:
    """What the state says of rows that left or came back, and of comments already posted."""
    rows = plan.rows
    operation = rows["operation"].to_numpy(dtype=object).copy()
    removed = synced["removed"] if "removed" in synced else pd.Series(None, index=synced.index, dtype=object)
    came_back = np.append(removed.astype(object).to_numpy() == COMPLETED, False)[position] & (operation != REJECT)
    came_back &= rows["gid_known"].to_numpy()
    if plan.settings.sync_mode.updates:
        operation[came_back & (operation == UNCHANGED)] = UPDATE
    reopen = came_back & (operation == UPDATE)
    posted = (
        np.append(synced["comment_hash"].to_numpy(dtype=np.uint64, na_value=0), np.uint64(0))[position]
        if "comment_hash" in synced
        else np.zeros(len(rows), dtype=np.uint64)
    )
    comment_hash = rows["comment_hash"].to_numpy(dtype=np.uint64)
    comment_due = (comment_hash != 0) & (comment_hash != posted) & (operation != REJECT)
    if not plan.settings.sync_mode.updates:
        comment_due &= operation == CREATE
    rows = rows.assign(operation=operation, reopen=reopen, comment_due=comment_due)
    return replace(
        plan,
        rows=rows,
        removals=removals(rows["primary_key"].to_numpy(dtype=object), synced, plan.settings.on_row_removed),
        live_tasks=live_tasks(synced, plan.settings.on_row_removed),
    )


def _match_keys(keys: np.ndarray, synced_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which keys repeat in the model, and each row's position in the state map (-1: none).

    Keys are usually unique: then one table over their 64-bit hashes answers both
    questions, much faster than one over the strings. Every match is checked
    against the keys themselves; any doubt (a repeated hash, a mismatch) takes
    the exact path over the strings."""
    key_hashes = pd.Index(pd.util.hash_array(keys, categorize=False))
    if key_hashes.is_unique:
        found = key_hashes.get_indexer(pd.util.hash_array(synced_keys, categorize=False))
        hit = np.flatnonzero(found >= 0)
        if (keys[found[hit]] == synced_keys[hit]).all():
            position = np.full(len(keys), -1, dtype=np.intp)
            position[found[hit]] = hit
            return np.zeros(len(keys), dtype=bool), position
    index = pd.Index(keys, dtype=object)
    return index.duplicated(keep=False), pd.Index(synced_keys, dtype=object).get_indexer(keys)


def _lookup(column: pd.Series, position: np.ndarray) -> np.ndarray:
    """`column[position]`, with None where position is -1 (not found)."""
    padded = np.append(column.to_numpy(dtype=object), None)
    return padded[position]


def _same_hash(state_hashes: pd.Series, position: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """True where the state map holds a payload hash for the row and it equals `hashes`."""
    recorded = np.append(state_hashes.notna().to_numpy(), False)[position]
    numbers = np.append(state_hashes.to_numpy(dtype=np.uint64, na_value=0), np.uint64(0))[position]
    return recorded & (numbers == hashes)


def _rejection_table(rejected: list[tuple[np.ndarray, str, Any]], keys: np.ndarray, size: int) -> pd.DataFrame:
    """One line per rejected (row, field), indexed by row position; the first reason wins."""
    parts = []
    for mask, field_name, reason in rejected:
        mask = np.asarray(mask, dtype=bool)
        if size == 0 or not mask.any():
            continue
        rows = np.flatnonzero(mask)
        reasons = reason[rows] if isinstance(reason, np.ndarray) else np.full(len(rows), reason, dtype=object)
        parts.append(pd.DataFrame({"primary_key": keys[rows], "field": field_name, "reason": reasons}, index=rows))
    if not parts:
        return pd.DataFrame(columns=list(REJECTION_COLUMNS), index=pd.Index([], dtype=np.int64))
    table = pd.concat(parts).sort_index(kind="stable")
    first_per_field = ~pd.MultiIndex.from_arrays([table.index, table["field"]]).duplicated()
    table = table[first_per_field]
    table["primary_key"] = table["primary_key"].astype(object).where(table["primary_key"].notna(), None)
    return table


def api_payload(
    canonical: dict[str, Any],
    *,
    project_gid: str,
    sync_key_field: str | None,
    for_update: bool,
    kinds: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON body of a create (`for_update=False`) or of a PUT (create-only fields left out).

    Custom field values from `custom_fields.<GID>` columns go into `custom_fields`
    (over the JSON column's entry for the same field); a `section` places a new task
    in that section of the configured project."""
    body: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for name, value in canonical.items():
        if name == SYNC_KEY:
            continue
        if name.startswith(CUSTOM_FIELD_PREFIX):
            gid = name[len(CUSTOM_FIELD_PREFIX) :]
            if kinds and gid in kinds:
                custom[gid] = api_custom_value(kinds[gid], value)
            continue
        if not TASK_FIELDS[name].in_body or (for_update and TASK_FIELDS[name].create_only):
            continue
        if name == "parent" and value == "":
            continue
        body[name] = to_api_value(name, value)
    if custom:
        body["custom_fields"] = {**body.get("custom_fields", {}), **custom}
    if sync_key_field and SYNC_KEY in canonical:
        body["custom_fields"] = {**body.get("custom_fields", {}), sync_key_field: canonical[SYNC_KEY]}
    if not for_update:
        section = body.pop("section", None)
        if section is not None:
            others = [entry for entry in body.get("memberships", []) if entry.get("project") != project_gid]
            body["memberships"] = [{"project": project_gid, "section": section}, *others]
        extra_projects = [gid for gid in body.get("projects", []) if gid != project_gid]
        body["projects"] = [project_gid, *extra_projects]
    return body


def refresh_plan(plan: Plan, synced: pd.DataFrame) -> Plan:
    """The plan against the state as it is now (see `_refresh_operations`), its lifecycle too."""
    refreshed = _refresh_operations(plan, synced)
    position = pd.Index(synced["primary_key"].astype(object)).get_indexer(refreshed.rows["primary_key"].to_numpy(dtype=object))
    return _with_lifecycle(refreshed, synced, position)


def _refresh_operations(plan: Plan, synced: pd.DataFrame) -> Plan:
    """The plan against the state as it is now: rows another run synced since planning
    become updates or unchanged instead of second creates."""
    rows = plan.rows.copy()
    position = pd.Index(synced["primary_key"].astype(object)).get_indexer(rows["primary_key"].to_numpy(dtype=object))
    known = position >= 0
    state_gids = _lookup(synced["task_gid"], position)
    operation = rows["operation"].to_numpy(dtype=object).copy()
    task_gids = rows["task_gid"].to_numpy(dtype=object).copy()
    adopted = (operation == CREATE) & known
    task_gids[adopted] = state_gids[adopted]
    hashes = rows["payload_hash"].to_numpy(dtype=np.uint64)
    same = known & (state_gids == task_gids) & _same_hash(synced["payload_hash"], position, hashes)
    if not plan.settings.sync_mode.updates:
        operation[adopted] = UNCHANGED
    else:
        operation[adopted] = np.where(same[adopted], UNCHANGED, UPDATE)
    operation[(operation == UPDATE) & same] = UNCHANGED
    rows["operation"] = operation
    rows["task_gid"] = task_gids
    rows["gid_known"] = known & (state_gids == task_gids)
    return replace(plan, rows=rows)
