"""The plan: what a sync will do to each row, typed.

`build_plan` (in `build`) makes one; the writers, the runner and the Dagster layer
read it only through the accessors here (`plan.creates()`, `row.key`, ...), never
by indexing its table, so its columns can change without touching them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from ..fields.mapping import ColumnMapping
from ..fields.names import PENDING_PREFIX
from ..fields.value_rules import COMMENT, PARENT_KEY, is_null
from ..settings import FieldPolicy, SyncSettings
from .bodies import api_payload
from .changes import FieldChange
from .extras import Extras
from .hashing import payload_hash_of_values


class Operation(StrEnum):
    """What happens to a row's task in this run."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    REJECT = "reject"

    @property
    def code(self) -> int:
        """Its position in `Operation`: what the plan's table stores, as a categorical's code."""
        return _OPERATION_CODES[self]


_OPERATION_CODES = {operation: code for code, operation in enumerate(Operation)}
_OPERATION_DTYPE = pd.CategoricalDtype([operation.value for operation in Operation])


def operation_column(codes: np.ndarray) -> pd.Categorical:
    """The table's `operation` column from codes (`Operation.code`): compared and counted as small
    integers, not a million strings."""
    return pd.Categorical.from_codes(codes, dtype=_OPERATION_DTYPE)


@dataclass(frozen=True)
class PlannedRow:
    """One row of the model as the plan sees it (a row without a primary key is always
    rejected and has none: see `Plan.keys`).

    `gid_from_column`: the task comes from the model's `task_gid` column;
    `gid_known`: the state already maps the row to that task; `level`: depth under
    `parent_key` (parents are created first); `reopen`: the row came back and its
    task, completed when the row left, reopens; `comment_due`: a changed comment
    to post."""

    position: int
    key: str
    operation: Operation
    task_gid: str | None
    gid_from_column: bool
    gid_known: bool
    payload_hash: int
    level: int
    reopen: bool
    comment_hash: int
    comment_due: bool


@dataclass(frozen=True)
class Removal:
    """The task of a row this sync synced that left the model, and what the removal policy does to it."""

    key: str
    task_gid: str
    payload_hash: int | None
    action: str


KEPT, OVERWRITTEN = "kept", "overwritten"
"""What a run does with a person's edit (`Edit.outcome`)."""


@dataclass(frozen=True)
class Edit:
    """A synced field a person changed in Asana: the task, the field, the model's value (now) and
    Asana's, and what the run does with it: `kept` (left as the person set it) or `overwritten` (the
    model's value sent over it: `on_asana_edit: overwrite`, or the model changed that field too)."""

    key: str
    task_gid: str
    field: str
    model_value: Any
    asana_value: Any
    outcome: str = KEPT
    link: str | None = None
    """The task's address in Asana (its `permalink_url`, as the run read it)."""
    shown: tuple[str, str | None, str | None] | None = None
    """The field, the model's value and Asana's as people read them: custom fields, options, tags and
    sections by name, people by email (None: as they are)."""


@dataclass(frozen=True)
class Release:
    """A task handed over to people: never written again (until the release is cleared)."""

    key: str
    task_gid: str
    reason: str


@dataclass(frozen=True)
class RebuildPreview:
    """What a run whose state holds nothing for its sync will adopt first (read by a dry run, not done)."""

    adopted: int
    up_to_date: int
    listed: int
    duplicates: int


@dataclass
class PeopleSeen:
    """What the run saw people do in Asana since the last run, and what it costs to see."""

    edits: list[Edit] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    deleted_keys: list[str] = field(default_factory=list)
    """Rows whose task was deleted in Asana (with the rows beneath them by parent_key)."""
    deleted: int = 0
    moved_out: int = 0
    reads: int = 0
    events: int = 0
    listed: bool = False
    unknown: int = 0
    unknown_own: int = 0
    """Tasks of the project that could be this sync's and no state knows: created by its user, named like
    a row this run creates (the lost-state guard counts them, when no sync key tells whose they are)."""
    read: bool = False
    """False: Asana was not read (a dry run without a token, or a plan made by code)."""
    kept_before: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Edits earlier runs saw and left in place (key -> field -> what identifies the edit: Asana's
    value, or for a list `{"removed": [items]}`), from the state."""
    drifted: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Of each task read: the synced fields that differ from what the sync wrote, identified the same way."""
    differing: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Of each task read: the fields that will still differ once the plan's writes succeed."""
    forget: list[str] = field(default_factory=list)
    """Rows whose task was deleted in Asana: their mapping goes before anything is written, so a
    recreate that fails (or a row rejected this run) is created on a later run."""


COMPLETE, DELETE = "complete", "delete"
PLAN_FORMAT = 4
"""The shape of a plan as it is stored between steps; raised when it changes (2: a categorical `operation`
and the `hashed` column; 3: no plan inside the plan, see `Planned`; 4: `held`, the fields an update does
not send). Re-executing a failed run reads the plan its first attempt stored, perhaps before an upgrade:
a plan of another shape is refused by name instead of failing on a missing column."""
ROW_COLUMNS = (
    "primary_key", "operation", "task_gid", "gid_from_column", "gid_known", "payload_hash", "level", "reopen",
    "comment_hash", "comment_due",
)  # fmt: skip
"""The plan's table, one row per model row, in the order of `PlannedRow`'s fields (the table also
holds `sends`: an update that has something to send; and `hashed`: `payload_hash` is computed.
Planning hashes only the rows that have a task, to compare with the state; `Plan.payload_hashes`
computes the others' when asked, so a dry run of new rows hashes nothing)."""


@dataclass
class Plan:
    """What a sync will do.

    One planned row per model row (see `PlannedRow`); `values` holds, per mapped Asana
    field, the rows' canonical values (arrays in row order, kept out of the table
    because a million-row object frame is slow to build); `rejections` lists
    (primary_key, field, reason). Custom field values are keyed `custom_fields.<GID>`
    once the schema is known, `kinds` gives their types; names of tags and sections
    to create are `pending`, names not checked (no schema) are counted in `unchecked`.
    `removals` are the tasks of rows that left the model, out of `live_tasks`.

    Field by field: `policies` (by plan key) say who owns each field once the task exists;
    `changes` holds, per update whose row's fields were recorded at its last sync, the fields
    it sends (an update without an entry sends every field, as before fields were recorded).
    `gone` are the state's keys the model lost, `tracked_tasks` the sync's tasks not yet
    removed or released (the guards' denominator), `renames` state keys to rename (a number
    key written in another form)."""

    settings: SyncSettings
    mapping: ColumnMapping
    table: pd.DataFrame
    values: dict[str, np.ndarray]
    rejections: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    schema: dict[str, Any] | None = None
    pending: dict[str, list[str]] = field(default_factory=dict)
    unchecked: dict[str, int] = field(default_factory=dict)
    removals: list[Removal] = field(default_factory=list)
    live_tasks: int = 0
    policies: dict[str, FieldPolicy] = field(default_factory=dict)
    changes: dict[int, list[FieldChange]] = field(default_factory=dict)
    held: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Per update: the fields whose model value changed but is not sent (`on_create`, `if_empty` over a
    person's value, a NULL that does not clear) -> the value the sync last wrote there (None: none). The
    state goes on recording that value for them: it is what Asana holds of the sync's."""
    gone: list[str] = field(default_factory=list)
    tracked_tasks: int = 0
    renames: dict[str, str] = field(default_factory=dict)
    people: PeopleSeen = field(default_factory=PeopleSeen)
    put_back: dict[int, str | None] = field(default_factory=dict)
    """Row position -> the section to put a task a person moved out back in (None: the project's first)."""
    key_kind: str = "text"
    """What the model's primary key holds (`integer`, `number`, `text`): the outcomes give keys back so."""
    labels: dict[str, str] = field(default_factory=dict)
    """GID -> what people call it (an email, a tag's or option's name), from the schema when read: for showing values."""
    extras: Extras | None = None
    """What the rows ask for beyond their tasks' fields: links (`depends_on`, `attachments`), the task
    template, `adopt_existing`'s values (see `extras`); None: nothing."""
    plan_format: int = field(default_factory=lambda: PLAN_FORMAT, repr=False)
    """`PLAN_FORMAT` when the plan was made (a factory, not a class default, so that a plan stored
    before the field existed has none)."""

    # ---- rows ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.table)

    def row(self, position: int) -> PlannedRow:
        """The row at `position` of the model; KeyError for a row without a primary key."""
        rows = self._rows(np.array([position]))
        if not rows:
            raise KeyError(f"row {position} has no primary key")
        return rows[0]

    def rows(self, operation: Operation | None = None) -> list[PlannedRow]:
        """Every planned row, or those of one operation, in model order."""
        if operation is None:
            return self._rows(np.arange(len(self.table)))
        return self._rows(np.flatnonzero(self.mask(operation)))

    def creates(self) -> list[PlannedRow]:
        return self.rows(Operation.CREATE)

    def updates(self) -> list[PlannedRow]:
        return self.rows(Operation.UPDATE)

    def writes(self, limit: int | None = None) -> list[PlannedRow]:
        """Rows to create or update, in model order (the first `limit` of them)."""
        return self._rows(np.flatnonzero(self._writing())[:limit])

    def reopenings(self, limit: int | None = None) -> list[PlannedRow]:
        """Rows that came back whose task, completed when they left, reopens."""
        return self._rows(np.flatnonzero(self.table["reopen"].to_numpy(dtype=bool))[:limit])

    def comments_due(self, limit: int | None = None) -> list[PlannedRow]:
        """Rows whose comment changed and is to be posted."""
        return self._rows(np.flatnonzero(self.table["comment_due"].to_numpy(dtype=bool))[:limit])

    def under_parents(self, limit: int | None = None) -> list[PlannedRow]:
        """Rows to create or update that name a parent row of the model (`parent_key`), in model order."""
        return self._rows(np.flatnonzero(self._under_parents())[:limit])

    def count_under_parents(self) -> int:
        return int(self._under_parents().sum())

    def _under_parents(self) -> np.ndarray:
        parent_keys = self.parent_keys()
        if parent_keys is None:
            return np.zeros(len(self.table), dtype=bool)
        return self._writing() & (parent_keys != "")

    def _writing(self) -> np.ndarray:
        """True for the rows to create or update."""
        return self.mask(Operation.CREATE) | self.mask(Operation.UPDATE)

    def count(self, flag: str) -> int:
        """How many rows `reopen` or have a `comment_due`."""
        if flag not in ("reopen", "comment_due"):
            raise ValueError(flag)
        return int(self.table[flag].sum())

    def _rows(self, positions: np.ndarray) -> list[PlannedRow]:
        columns = [
            self.payload_hashes(positions) if name == "payload_hash" else self.table[name].to_numpy()[positions]
            for name in ROW_COLUMNS
        ]
        return [
            PlannedRow(
                int(position), key, Operation(operation), gid, bool(from_column), bool(known), int(payload_hash),
                int(level), bool(reopen), int(comment_hash), bool(comment_due),
            )  # fmt: skip
            for position, (key, operation, gid, from_column, known, payload_hash, level, reopen, comment_hash, comment_due)
            in zip(positions, zip(*columns))
            if key is not None
        ]

    def by_key(self, key: str) -> PlannedRow:
        """The row of a primary key (its first, if repeated); KeyError when none."""
        found = np.flatnonzero(self.table["primary_key"].to_numpy(dtype=object) == key)
        if not len(found):
            raise KeyError(key)
        return self.row(int(found[0]))

    def keys(self) -> list[str | None]:
        """Every row's primary key, in model order (None where empty)."""
        return self.table["primary_key"].tolist()

    def operations(self) -> np.ndarray:
        """Every row's operation, in model order."""
        return self.table["operation"].to_numpy(dtype=object)

    def mask(self, operation: Operation) -> np.ndarray:
        """True for the rows of this operation."""
        return self.operation_codes() == operation.code

    def operation_codes(self) -> np.ndarray:
        """Every row's `Operation.code` (a copy, to change and turn back into a column with `operation_column`)."""
        return self.table["operation"].cat.codes.to_numpy(dtype=np.int8, copy=True)

    def payload_hashes(self, positions: np.ndarray | None = None) -> np.ndarray:
        """The payload hashes of the rows at `positions` (default: every row); those planning left
        out (rows without a task) are computed here, from the rows' values."""
        positions = np.arange(len(self.table)) if positions is None else np.asarray(positions, dtype=np.intp)
        hashes = self.table["payload_hash"].to_numpy(dtype=np.uint64)[positions]
        missing = ~self.table["hashed"].to_numpy(dtype=bool)[positions]
        if missing.any():
            at = positions[missing]
            hashes[missing] = payload_hash_of_values({name: column[at] for name, column in self.values.items()}, len(at))
        return hashes

    def task_gids(self) -> dict[str, str]:
        """Primary key -> task GID of every row that has a task already."""
        keys, gids = self.table["primary_key"].to_numpy(dtype=object), self.table["task_gid"].to_numpy(dtype=object)
        return {key: gid for key, gid in zip(keys, gids) if isinstance(key, str) and isinstance(gid, str)}

    def counts(self) -> dict[str, int]:
        """Rows per operation; an update that has nothing to send (only what its policies keep, or a
        value back where it was) counts as unchanged: it costs no request."""
        codes = self.operation_codes()
        silent = int(((codes == Operation.UPDATE.code) & ~self.table["sends"].to_numpy(dtype=bool)).sum())
        counted = np.bincount(codes, minlength=len(Operation))
        counts = {operation.value: int(counted[operation.code]) for operation in Operation}
        counts[Operation.UPDATE] -= silent
        counts[Operation.UNCHANGED] += silent
        return counts

    def new_keys(self) -> np.ndarray:
        """Keys of the rows to create that name no task of their own (new rows, as far as the state knows)."""
        table = self.table
        chosen = self.mask(Operation.CREATE) & ~table["gid_from_column"].to_numpy(dtype=bool)
        return table["primary_key"].to_numpy(dtype=object)[chosen]

    def update_keys(self) -> list[str]:
        """Keys of the updates of tasks the state already maps to their rows (their fields may be recorded)."""
        table = self.table
        chosen = self.mask(Operation.UPDATE) & table["gid_known"].to_numpy(dtype=bool)
        return [key for key in table["primary_key"].to_numpy(dtype=object)[chosen] if isinstance(key, str)]

    def changes_of(self, row: PlannedRow) -> list[FieldChange] | None:
        """The fields this update sends, or None when the row's fields were not recorded (send them all)."""
        return self.changes.get(row.position)

    def removal_share(self) -> float:
        return len(self.removals) / self.live_tasks if self.live_tasks else 0.0

    # ---- values ---------------------------------------------------------------

    def payload_fields(self, position: int) -> dict[str, Any]:
        """The canonical field values of one row, NULLs left out."""
        values = ((name, column[position]) for name, column in self.values.items())
        return {name: value for name, value in values if not is_null(value)}

    def written_values(self, position: int) -> dict[str, Any]:
        """What the state records of a row once it syncs: its canonical field values (not its comment)."""
        fields = self.payload_fields(position)
        fields.pop(COMMENT, None)
        return fields

    def recorded_values(self, position: int) -> dict[str, Any]:
        """What the state records of a row once its update succeeds: what the sync wrote, field by field.
        The model's values, except the fields not sent (`held`), which keep what the sync wrote before."""
        fields = self.written_values(position)
        for name, value in self.held.get(position, {}).items():
            if value is None:
                fields.pop(name, None)
            else:
                fields[name] = value
        return fields

    def comment(self, position: int) -> str | None:
        texts = self.values.get(COMMENT)
        return None if texts is None or is_null(texts[position]) else texts[position]

    def parent_keys(self) -> np.ndarray | None:
        """Each row's `parent_key` ("" for none), or None when the model has no such column."""
        return self.values.get(PARENT_KEY)

    def wanted(self, row: PlannedRow, parents: dict[str, str] | None = None) -> dict[str, Any]:
        """The row's canonical values as they are sent: `parent_key` becomes the parent task's
        GID (`parents`: primary key -> task GID), or "" for none; a row that came back reopens
        its task unless it says itself whether the task is completed."""
        fields = self.payload_fields(row.position)
        parent_key = fields.pop(PARENT_KEY, None)
        if parent_key is not None:
            fields["parent"] = (parents or {}).get(parent_key, "") if parent_key else ""
        if row.reopen and "completed" not in fields:
            fields["completed"] = False
        return fields

    def request_body(
        self, row: PlannedRow, project_gid: str, *, for_update: bool, parents: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """The JSON body of this row's create, or of its PUT (create-only fields left out)."""
        return api_payload(
            self.wanted(row, parents),
            project_gid=project_gid,
            sync_key_field=self.settings.sync_key_field,
            for_update=for_update,
            kinds=self.kinds,
        )

    def with_created(self, created: dict[str, dict[str, str]]) -> Plan:
        """The plan once pending tags and sections exist: `created[field][name]` is the new GID.

        Their GIDs replace the names in every row, and the payload hashes already computed are
        computed again, so the state records what the tasks really hold."""
        values = dict(self.values)
        for field_name, gids in created.items():
            if field_name not in values or not gids:
                continue
            lookup = {PENDING_PREFIX + name: gid for name, gid in gids.items()}
            codes, distinct = pd.factorize(values[field_name], use_na_sentinel=True)
            replaced = np.array([_substitute(value, lookup) for value in distinct] + [None], dtype=object)
            values[field_name] = replaced[codes]
        hashes = self.table["payload_hash"].to_numpy(dtype=np.uint64).copy()
        at = np.flatnonzero(self.table["hashed"].to_numpy(dtype=bool))
        hashes[at] = payload_hash_of_values({name: column[at] for name, column in values.items()}, len(at))
        table = self.table.assign(payload_hash=hashes)
        return replace(self, values=values, table=table, pending={})

    def label(self, canonical: Any) -> Any:
        """A canonical value as people call it: the GIDs the schema names (options, tags, sections,
        people) by their names and emails; any other value as it is."""
        if not isinstance(canonical, str) or not self.labels:
            return canonical
        items = canonical.split(",")
        if not all(item.isdigit() for item in items):
            return canonical
        return ",".join(self.labels.get(item, item) for item in items)

    def rejection_rows(self, reason: str) -> pd.DataFrame:
        """The planned rejections with this exact reason."""
        return self.rejections[self.rejections["reason"] == reason]


@dataclass(frozen=True)
class Planned:
    """What planning gives: `plan`, handed on to the run that writes (it reads what people did again,
    under its lock), and `preview`, the plan as that run would carry it out now (what people did taken
    in), with `rebuild`, what a run whose state holds nothing for the sync will adopt first: what a dry
    run shows."""

    plan: Plan
    preview: Plan
    rebuild: RebuildPreview | None = None

    @classmethod
    def unobserved(cls, plan: Plan) -> Planned:
        """A plan made without reading what people did: the preview is the plan itself."""
        return cls(plan, plan)


def _substitute(canonical: Any, lookup: dict[str, str]) -> Any:
    """A canonical value with its pending names (`new:<name>`) replaced by their GIDs."""
    if not isinstance(canonical, str) or PENDING_PREFIX not in canonical:
        return canonical
    return ",".join(lookup.get(entry, entry) for entry in canonical.split(","))
