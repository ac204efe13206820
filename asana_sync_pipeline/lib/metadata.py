"""What the UI shows of a sync: markdown tables, a preview of the requests, a run's numbers."""

from __future__ import annotations

from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from ..engine import (
    COMPLETE,
    CUSTOM_FIELD_PREFIX,
    DELETE,
    NAMED_FIELDS,
    PARENT_KEY,
    ConnectionInfo,
    FieldPolicy,
    Operation,
    Plan,
    PlannedRow,
    RebuildPreview,
    SyncReport,
    json_text,
    requests_for,
)

PREVIEW_ROWS = 10
TABLE_ROWS = 50
CELL_CHARACTERS = 400


def markdown_table(frame: pd.DataFrame, limit: int = TABLE_ROWS, *, total: int | None = None) -> str:
    """`frame` as a markdown table of at most `limit` rows; `total` counts rows of which `frame` is the start."""
    if frame.empty:
        return "_none_"
    shown = frame.head(limit)
    header = "| " + " | ".join(map(str, shown.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in shown.columns) + " |"

    def cell(value: object) -> str:
        if _missing(value):
            return ""  # NULL (a row without a key, a value not given): an empty cell, never "None" or "nan"
        return str(value).replace("|", "\\|").replace("\n", " ")[:CELL_CHARACTERS]

    body = ["| " + " | ".join(cell(value) for value in row) + " |" for row in shown.itertuples(index=False)]
    total = len(frame) if total is None else total
    more = [f"\n_{total - len(shown):,} more not shown_"] if total > len(shown) else []
    return "\n".join([header, rule, *body, *more])


def _missing(value: object) -> bool:
    """Whether a table's cell holds no value: None, NaN, NaT or pd.NA."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and bool(np.isnan(value))


def payload_preview(plan: Plan, project_gid: str) -> str:
    """The first writes as the run will send them: a create's body, an update's changed fields alone."""
    lines = []
    for row in plan.writes(PREVIEW_ROWS):
        changes = plan.changes_of(row) if row.operation is Operation.UPDATE else None
        if changes is None:
            payload = plan.request_body(row, project_gid, for_update=row.operation is Operation.UPDATE)
            target = "POST /tasks" if row.operation is Operation.CREATE else f"PUT /tasks/{row.task_gid}"
            lines.append(f"- `{row.key}` → {target}: `{json_text(payload)}`")
        else:
            lines.append(f"- `{row.key}` → {_field_requests(plan, row, changes, project_gid)}")
    return "\n".join(lines) or "_no task to create or update (removals and comments are listed apart)_"


def _task_of(plan: Plan, key: str) -> str:
    """The task GID of the plan's row `key`, or what it will be (a task this run creates)."""
    found = plan.table["task_gid"][plan.table["primary_key"] == key].dropna()
    return str(found.iloc[0]) if len(found) else f"(the task of row {key})"


def _field_requests(plan: Plan, row: PlannedRow, changes: list, project_gid: str) -> str:
    gid = str(row.task_gid)
    parents = {change.after: _task_of(plan, change.after) for change in changes if change.field == PARENT_KEY and change.after}
    made = requests_for(
        gid, changes, project_gid=project_gid, kinds=plan.kinds, sync_key_field=plan.settings.sync_key_field, parents=parents
    )
    parts = [f"PUT /tasks/{gid}: `{json_text(made.body)}`"] if made.body else []
    parts += [f"POST {action.path}: `{json_text(action.data)}`" for action in made.actions]
    guarded = [change.field for change in changes if change.policy is FieldPolicy.IF_EMPTY]
    if guarded:
        parts.append(f"({', '.join(guarded)} only if empty in Asana: if_empty)")
    return "; then ".join(parts) if parts else "nothing to send"


def lifecycle_tables(plan: Plan) -> dict[str, Any]:
    """The dry run's view of the row lifecycle: removals, reopenings, comments and parent changes."""
    reopened = pd.DataFrame(
        [(row.key, row.task_gid) for row in plan.reopenings(TABLE_ROWS)], columns=["primary_key", "task_gid"]
    )
    commented = pd.DataFrame(
        [(row.key, row.operation.value, plan.comment(row.position)) for row in plan.comments_due(TABLE_ROWS)],
        columns=["primary_key", "operation", "comment"],
    )
    parent_keys = plan.parent_keys()  # rows under parents exist only when the model has the column
    parented = pd.DataFrame(
        [(row.key, row.operation.value, parent_keys[row.position], row.level) for row in plan.under_parents(TABLE_ROWS)]
        if parent_keys is not None
        else [],
        columns=["primary_key", "operation", "parent_key", "level"],
    )
    removals = pd.DataFrame(
        [(removal.key, removal.task_gid, removal.action) for removal in plan.removals], columns=["primary_key", "task_gid", "action"]
    )
    return {
        "to_complete": sum(removal.action == COMPLETE for removal in plan.removals),
        "to_delete": sum(removal.action == DELETE for removal in plan.removals),
        "to_reopen": plan.count("reopen"),
        "comments_to_post": plan.count("comment_due"),
        "planned_removals": dg.MetadataValue.md(markdown_table(removals)),
        "planned_reopenings": dg.MetadataValue.md(markdown_table(reopened, total=plan.count("reopen"))),
        "planned_comments": dg.MetadataValue.md(markdown_table(commented, total=plan.count("comment_due"))),
        "planned_parents": dg.MetadataValue.md(markdown_table(parented, total=plan.count_under_parents())),
    }


REFERRING_FIELDS = NAMED_FIELDS - {"custom_fields"}  # that column holds JSON, not GIDs
REFERRING_KINDS = ("enum", "multi_enum", "people")


def _shown(value: Any, empty: str) -> str:
    """A value as the UI shows it: text as it is, anything else as JSON (numbers with every digit)."""
    if value is None:
        return empty
    if isinstance(value, str):
        return value
    try:
        return json_text(value)
    except TypeError:
        return str(value)


def _field_name(plan: Plan, field: str) -> str:
    """A field as the model names it: a custom field by its name in the project."""
    gid = field.removeprefix(CUSTOM_FIELD_PREFIX)
    return CUSTOM_FIELD_PREFIX + plan.labels[gid] if gid != field and gid in plan.labels else field


def _readable(plan: Plan, field: str, value: Any, empty: str) -> str:
    """A canonical value as people read it: the GIDs of people, tags, sections and options by name."""
    if value is None:
        return empty
    kind = plan.kinds.get(field.removeprefix(CUSTOM_FIELD_PREFIX)) if field.startswith(CUSTOM_FIELD_PREFIX) else None
    if field not in REFERRING_FIELDS and kind not in REFERRING_KINDS:
        return _shown(value, empty)
    return ", ".join(plan.labels.get(entry, entry) for entry in str(value).split(","))


def field_changes_table(plan: Plan, limit: int = TABLE_ROWS) -> tuple[pd.DataFrame, int]:
    """The fields each update sends, before (as last synced) and after (the model now); and how many in all."""
    keys, gids = plan.table["primary_key"].to_numpy(dtype=object), plan.table["task_gid"].to_numpy(dtype=object)
    lines: list[tuple[Any, ...]] = []
    total = 0
    for position, changes in sorted(plan.changes.items()):
        total += len(changes)
        for change in changes:
            if len(lines) < limit:
                before = _readable(plan, change.field, change.before, "—")
                after = _readable(plan, change.field, change.after, "(cleared)")
                lines.append((keys[position], gids[position], _field_name(plan, change.field), before, after))
    return pd.DataFrame(lines, columns=["primary_key", "task_gid", "field", "before", "after"]), total


def task_url(project_gid: str, task_gid: str) -> str:
    """Asana's address of a task, when Asana did not give its `permalink_url`."""
    return f"https://app.asana.com/0/{project_gid}/{task_gid}"


def task_link(project_gid: str, task_gid: str) -> str:
    return f"[{task_gid}]({task_url(project_gid, task_gid)})"


def edits_table(edits: list[tuple[str, str, str, Any, Any]], project_gid: str) -> str:
    """What people changed: the task (a link), the field, the model's value and Asana's."""
    frame = pd.DataFrame(
        [
            (key, task_link(project_gid, gid), field, _shown(model, "—"), _shown(asana, "(empty)"))
            for key, gid, field, model, asana in edits
        ],
        columns=["primary_key", "task", "field", "model value", "Asana value"],
    )
    return markdown_table(frame)


def differing_table(differing: dict[str, dict[str, Any]]) -> str:
    """Tasks whose synced fields a person changed and the sync left: the row and each field as Asana shows it."""
    frame = pd.DataFrame(
        [(key, name, _shown(value, "(empty)")) for key, fields in sorted(differing.items()) for name, value in sorted(fields.items())],
        columns=["primary_key", "field", "Asana value"],
    )
    return markdown_table(frame)


def people_metadata(plan: Plan, project_gid: str) -> dict[str, Any]:
    """What people did in Asana since the last run, as the dry run sees it."""
    people = plan.people
    if not people.read:
        return {
            "people_changes": "not read by this step: asana_tasks reads what people changed in Asana under its lock, "
            "just before it writes (a dry run reads it here when the token is set); schema_reads counts the reads of the "
            "project's fields and names, which is another thing"
        }
    edits = [(edit.key, edit.task_gid, edit.field, edit.model_value, edit.asana_value) for edit in people.edits]
    return {
        "edited_in_asana": len({edit.key for edit in people.edits}),
        "deleted_in_asana": people.deleted,
        "moved_out_of_project": people.moved_out,
        "to_release": len(people.releases),
        "asana_edits": dg.MetadataValue.md(edits_table(edits, project_gid)),
        "asana_reads": people.reads,
    }


def creates_table(plan: Plan) -> str:
    """The rows a run would create a task for: key and name (the first ones)."""
    names = plan.values.get("name")
    keys = plan.table["primary_key"].to_numpy(dtype=object)
    positions = np.flatnonzero(plan.mask(Operation.CREATE))
    rows = [(keys[position], names[position] if names is not None else "") for position in positions[:TABLE_ROWS]]
    return markdown_table(pd.DataFrame(rows, columns=["primary_key", "name"]), total=len(positions))


def rebuild_note(plan: Plan, preview: RebuildPreview | None) -> str:
    """What the run will do first when its state holds nothing for the sync (read, not done, by the dry run)."""
    if preview is None and plan.tracked_tasks:
        return "_no rebuild: the sync state knows this sync's tasks_"
    if preview is None and plan.settings.sync_key_field:
        return (
            "_not previewed (Asana was not read while planning: no token, or asana_tasks runs next and reads it "
            "itself): the sync state holds no task of this sync, so asana_tasks will first adopt the project's tasks "
            "that carry a row's key in sync_key_field; the counts above are before it_"
        )
    if preview is None:
        return (
            "_no rebuild: the sync state holds no task of this sync and no sync_key_field is set, so tasks already "
            "in the project are not recognised and every row gets a new task (set sync_key_field to adopt them)_"
        )
    return (
        f"The sync state holds nothing for this sync: asana_tasks will first adopt {preview.adopted:,} of the "
        f"{preview.listed:,} tasks of the project that carry a row's key in sync_key_field ({preview.up_to_date:,} "
        f"already show their row), then create only the rows no task carries; the counts above are after it."
        + (f" {preview.duplicates:,} more tasks carry a key already adopted and are left alone." if preview.duplicates else "")
    )


def plan_metadata(
    plan: Plan, project_gid: str, notes: list[str], counts: dict[str, int] | None = None, *, rebuild: RebuildPreview | None = None
) -> dict[str, Any]:
    """The dry run's view, the counts first (`plan.counts()`, when not given), then what changes row
    by row (updates field by field); `rebuild`: what a run whose state is empty adopts first."""
    counts = counts or plan.counts()
    changes, changed_fields = field_changes_table(plan)
    updates = np.flatnonzero(plan.mask(Operation.UPDATE))
    full_updates = sum(1 for position in updates if int(position) not in plan.changes)
    lifecycle = lifecycle_tables(plan)
    return {
        "to_create": counts[Operation.CREATE],
        "to_update": counts[Operation.UPDATE],
        "unchanged": counts[Operation.UNCHANGED],
        "rejected": counts[Operation.REJECT],
        "to_complete": lifecycle.pop("to_complete"),
        "to_delete": lifecycle.pop("to_delete"),
        **({"to_adopt_from_asana": rebuild.adopted} if rebuild else {}),
        "rebuild_from_asana": dg.MetadataValue.md(rebuild_note(plan, rebuild)),
        "planned_changes": dg.MetadataValue.md(markdown_table(changes, total=changed_fields)),
        "field_changes": changed_fields,
        "full_updates": full_updates,
        "planned_creates": dg.MetadataValue.md(creates_table(plan)),
        **lifecycle,
        **people_metadata(plan, project_gid),
        "rejections": dg.MetadataValue.md(markdown_table(plan.rejections)),
        "dagster/row_count": len(plan),
        "sync_mode": plan.settings.sync_mode.value,
        "project_gid": project_gid,
        "field_mapping": dg.MetadataValue.json(plan.mapping.fields),
        "ignored_columns": ", ".join(plan.mapping.ignored) or "none",
        "notes": dg.MetadataValue.md("\n".join(f"- {note}" for note in notes) or "_none_"),
        "schema": dg.MetadataValue.json(plan.schema or {"read": False}),
        "schema_reads": (plan.schema or {}).get("reads", 0),
        "planned_payloads": dg.MetadataValue.md(payload_preview(plan, project_gid)),
    }


def sync_metadata(report: SyncReport, info: ConnectionInfo, seconds: float) -> dict[str, Any]:
    links = [f"- {link or task_url(info.project_gid, gid)}" for gid, link in report.created_tasks[:PREVIEW_ROWS]]
    if report.created > len(links) and links:
        links.append(f"- and {report.created - len(links):,} more")
    rejections = pd.DataFrame(report.rejections, columns=["primary_key", "field", "reason"])
    counts = report.counts()
    return {
        **{name: counts[name] for name in ("created", "updated", "unchanged", "rejected", "completed", "deleted", "reopened", "comments")},
        "released": report.released,
        "removed_from_project": report.removed_from_project,
        "edited_in_asana": report.edited_in_asana,
        "deleted_in_asana": report.deleted_in_asana,
        "moved_out_of_project": report.moved_out_of_project,
        "asana_edits": dg.MetadataValue.md(edits_table(report.asana_edits, info.project_gid)),
        "asana_reads": report.asana_reads,
        "removal_cases": dg.MetadataValue.md(
            markdown_table(pd.DataFrame(report.removal_cases, columns=["primary_key", "task_gid", "case", "reason"]))
        ),
        "adopted_after_interruption": report.adopted,
        "recreated_after_deletion": report.recreated,
        "rebuilt_from_asana": report.rebuilt,
        "requests": report.requests,
        "write_requests": report.write_requests,
        "duration_seconds": round(seconds, 3),
        "project": dg.MetadataValue.url(info.project_url or f"https://app.asana.com/0/{info.project_gid}"),
        "created_tasks": dg.MetadataValue.md("\n".join(links) or "_none_"),
        "rejections": dg.MetadataValue.md(markdown_table(rejections)),
        "warnings": dg.MetadataValue.md("\n".join(f"- {warning}" for warning in report.warnings) or "_none_"),
    }
