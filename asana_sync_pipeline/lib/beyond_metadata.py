"""What the UI shows of what rows ask for beyond their tasks' fields: the task template new tasks come
from, the tasks adopted (`adopt_existing`), more projects, dependencies and attachments; for a dry run
(planned) and for a run (done)."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from ..engine import Operation, Plan, SyncReport, extras_of
from .metadata import TABLE_ROWS, markdown_table


def template_note(plan: Plan) -> str:
    extras = extras_of(plan)
    reference = plan.settings.task_template
    if not reference:
        return "_none: new tasks are made with POST /tasks_"
    creates = int(plan.mask(Operation.CREATE).sum())
    if extras.template is None:
        return f"_{reference!r}, not read (no token): asana_tasks reads it, and fails naming the project's templates if it is none of them_"
    template = extras.template
    return (
        f"{template.name!r} ({template.gid}), {template.subtasks:,} subtasks: each of the {creates:,} tasks to create is "
        "instantiated from it (its subtasks, description and fields), then given the row's own fields"
    )


def adoptions_table(plan: Plan) -> tuple[str, int]:
    """What `adopt_existing` would adopt, and the rows it would reject (a dry run lists the project once)."""
    extras = extras_of(plan)
    if not plan.settings.adopt_existing:
        return "_adopt_existing is not set_", 0
    if extras.adoptions is None:
        return "_not previewed (Asana not read while planning): asana_tasks lists the project and adopts before creating_", 0
    rows = [
        (adoption.key, adoption.value, adoption.task_gid or "", adoption.task_name, adoption.reason or "adopt")
        for adoption in extras.adoptions
    ]
    frame = pd.DataFrame(rows, columns=["primary_key", "value", "task_gid", "task name", "outcome"])
    return markdown_table(frame), sum(1 for adoption in extras.adoptions if adoption.task_gid)


def _links_tables(plan: Plan) -> tuple[str, str]:
    work = extras_of(plan).planned_links
    if work is None:
        return "_none_", "_none_"
    dependencies = [
        (item.key, item.task_gid, ", ".join(item.add_dependencies), ", ".join(item.remove_dependencies), ", ".join(item.waiting))
        for item in work
        if item.add_dependencies or item.remove_dependencies or item.waiting
    ]
    attachments = [
        (
            item.key, item.task_gid, ", ".join(url for url, _ in item.add_attachments),
            ", ".join(link.target for link in item.delete_attachments), ", ".join(link.target for link in item.unsettled),
        )
        for item in work
        if item.add_attachments or item.delete_attachments or item.unsettled
    ]  # fmt: skip
    return (
        markdown_table(pd.DataFrame(dependencies, columns=["primary_key", "task", "add", "remove", "waiting for rows"])),
        markdown_table(pd.DataFrame(attachments, columns=["primary_key", "task", "attach", "delete", "to check first"])),
    )


def _projects_table(plan: Plan) -> str:
    projects = plan.values.get("projects")
    if projects is None:
        return "_none_"
    keys, operations = plan.table["primary_key"].to_numpy(dtype=object), plan.operations()
    rows = [
        (keys[at], operations[at], plan.label(value))
        for at, value in enumerate(projects)
        if isinstance(value, str) and value and operations[at] in (Operation.CREATE.value, Operation.UPDATE.value)
    ]
    return markdown_table(pd.DataFrame(rows[:TABLE_ROWS], columns=["primary_key", "operation", "projects"]), total=len(rows))


def plan_extras_metadata(plan: Plan) -> dict[str, Any]:
    """The dry run's view of templates, adoptions, projects, dependencies and attachments."""
    adoptions, to_adopt = adoptions_table(plan)
    dependencies, attachments = _links_tables(plan)
    return {
        "task_template": dg.MetadataValue.md(template_note(plan)),
        "to_adopt": to_adopt,
        "planned_adoptions": dg.MetadataValue.md(adoptions),
        "planned_projects": dg.MetadataValue.md(_projects_table(plan)),
        "planned_dependencies": dg.MetadataValue.md(dependencies),
        "planned_attachments": dg.MetadataValue.md(attachments),
    }


def run_extras_metadata(report: SyncReport) -> dict[str, Any]:
    """What a run did beyond fields."""
    return {
        "adopted_existing": report.adopted_existing,
        "template_jobs": report.template_jobs,
        "dependencies_set": report.dependencies_set,
        "dependencies_removed": report.dependencies_removed,
        "attachments_added": report.attachments_added,
        "attachments_deleted": report.attachments_deleted,
    }
