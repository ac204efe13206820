"""What the UI shows of a sync: markdown tables, a preview of the requests, a run's numbers."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from .engine.connection import ConnectionInfo
from .engine.planning import CREATE, UPDATE, Plan, api_payload
from .engine.report import SyncReport

PREVIEW_ROWS = 10
TABLE_ROWS = 50


def markdown_table(frame: pd.DataFrame, limit: int = TABLE_ROWS) -> str:
    if frame.empty:
        return "_none_"
    shown = frame.head(limit)
    header = "| " + " | ".join(map(str, shown.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in shown.columns) + " |"

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")[:200]

    body = ["| " + " | ".join(cell(value) for value in row) + " |" for row in shown.itertuples(index=False)]
    more = [f"\n_{len(frame) - limit:,} more not shown_"] if len(frame) > limit else []
    return "\n".join([header, rule, *body, *more])


def payload_preview(plan: Plan, project_gid: str) -> str:
    rows = plan.rows
    lines = []
    for position in rows.index[rows["operation"].isin([CREATE, UPDATE])][:PREVIEW_ROWS]:
        operation = rows["operation"].iat[position]
        payload = api_payload(
            plan.payload_fields(position),
            project_gid=project_gid,
            sync_key_field=plan.settings.sync_key_field,
            for_update=operation == UPDATE,
        )
        target = "POST /tasks" if operation == CREATE else f"PUT /tasks/{rows['task_gid'].iat[position]}"
        lines.append(f"- `{rows['primary_key'].iat[position]}` → {target}: `{payload}`")
    return "\n".join(lines) or "_nothing to write_"


def plan_metadata(plan: Plan, project_gid: str, notes: list[str]) -> dict[str, Any]:
    counts = plan.counts()
    return {
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
        "planned_payloads": dg.MetadataValue.md(payload_preview(plan, project_gid)),
        "rejections": dg.MetadataValue.md(markdown_table(plan.rejections)),
    }


def sync_metadata(report: SyncReport, info: ConnectionInfo, seconds: float) -> dict[str, Any]:
    links = [f"- https://app.asana.com/0/{info.project_gid}/{gid}" for gid in report.created_gids[:PREVIEW_ROWS]]
    rejections = pd.DataFrame(report.rejections, columns=["primary_key", "field", "reason"])
    counts = report.counts()
    return {
        **{name: counts[name] for name in ("created", "updated", "unchanged", "rejected")},
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
