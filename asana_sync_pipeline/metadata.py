"""What the UI shows of a sync: markdown tables, a preview of the requests, a run's numbers."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from .engine.asana.connection import ConnectionInfo
from .engine.planning.plan import CREATE, UPDATE, Plan
from .engine.writing.report import SyncReport

PREVIEW_ROWS = 10
TABLE_ROWS = 50
CELL_CHARACTERS = 400


def markdown_table(frame: pd.DataFrame, limit: int = TABLE_ROWS) -> str:
    if frame.empty:
        return "_none_"
    shown = frame.head(limit)
    header = "| " + " | ".join(map(str, shown.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in shown.columns) + " |"

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")[:CELL_CHARACTERS]

    body = ["| " + " | ".join(cell(value) for value in row) + " |" for row in shown.itertuples(index=False)]
    more = [f"\n_{len(frame) - limit:,} more not shown_"] if len(frame) > limit else []
    return "\n".join([header, rule, *body, *more])


def payload_preview(plan: Plan, project_gid: str) -> str:
    rows = plan.rows
    lines = []
    for position in rows.index[rows["operation"].isin([CREATE, UPDATE])][:PREVIEW_ROWS]:
        operation = rows["operation"].iat[position]
        payload = plan.request_body(position, project_gid, for_update=operation == UPDATE)
        target = "POST /tasks" if operation == CREATE else f"PUT /tasks/{rows['task_gid'].iat[position]}"
        lines.append(f"- `{rows['primary_key'].iat[position]}` → {target}: `{payload}`")
    return "\n".join(lines) or "_no task to create or update (removals and comments are listed apart)_"


def lifecycle_tables(plan: Plan) -> dict[str, Any]:
    """The dry run's view of the row lifecycle: removals, reopenings, comments and parent changes."""
    rows = plan.rows
    reopened = rows.loc[rows["reopen"], ["primary_key", "task_gid"]]
    commented = rows.loc[rows["comment_due"], ["primary_key", "operation"]].assign(
        comment=[plan.comment(position) for position in rows.index[rows["comment_due"]]]
    )
    parented = pd.DataFrame(columns=["primary_key", "operation", "parent_key", "level"])
    if "parent_key" in plan.values:
        moving = rows["operation"].isin(["create", "update"]).to_numpy() & (plan.values["parent_key"] != "")
        parented = rows.loc[moving, ["primary_key", "operation", "level"]].assign(parent_key=plan.values["parent_key"][moving])
    return {
        "to_complete": int((plan.removals["action"] == "complete").sum()),
        "to_delete": int((plan.removals["action"] == "delete").sum()),
        "to_reopen": len(reopened),
        "comments_to_post": len(commented),
        "planned_removals": dg.MetadataValue.md(markdown_table(plan.removals[["primary_key", "task_gid", "action"]])),
        "planned_reopenings": dg.MetadataValue.md(markdown_table(reopened)),
        "planned_comments": dg.MetadataValue.md(markdown_table(commented)),
        "planned_parents": dg.MetadataValue.md(markdown_table(parented)),
    }


def plan_metadata(plan: Plan, project_gid: str, notes: list[str]) -> dict[str, Any]:
    counts = plan.counts()
    return {
        **lifecycle_tables(plan),
        "dagster/row_count": len(plan.rows),
        "to_create": counts["create"],
        "to_update": counts["update"],
        "unchanged": counts["unchanged"],
        "rejected": counts["reject"],
        "sync_mode": plan.settings.sync_mode.value,
        "project_gid": project_gid,
        "field_mapping": dg.MetadataValue.json(plan.mapping.fields),
        "ignored_columns": ", ".join(plan.mapping.ignored) or "none",
        "notes": dg.MetadataValue.md("\n".join(f"- {note}" for note in notes) or "_none_"),
        "schema": dg.MetadataValue.json(plan.schema or {"read": False}),
        "schema_reads": (plan.schema or {}).get("reads", 0),
        "planned_payloads": dg.MetadataValue.md(payload_preview(plan, project_gid)),
        "rejections": dg.MetadataValue.md(markdown_table(plan.rejections)),
    }


def sync_metadata(report: SyncReport, info: ConnectionInfo, seconds: float) -> dict[str, Any]:
    links = [f"- https://app.asana.com/0/{info.project_gid}/{gid}" for gid in report.created_gids[:PREVIEW_ROWS]]
    rejections = pd.DataFrame(report.rejections, columns=["primary_key", "field", "reason"])
    counts = report.counts()
    return {
        **{name: counts[name] for name in ("created", "updated", "unchanged", "rejected", "completed", "deleted", "reopened", "comments")},
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
