"""What a run did: counts for the run's metadata, the state's run history and the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..log import counted
from ..planning import KEPT, Edit, Operation, Plan
from ..settings import EditPolicy, TaskDeletedPolicy
from ..state import RUN_COUNTS as COUNTS


@dataclass
class SyncReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    adopted: int = 0
    recreated: int = 0
    completed: int = 0
    deleted: int = 0
    reopened: int = 0
    comments: int = 0
    released: int = 0
    """Tasks released to people: moved out of the project by hand (never written again)."""
    removed_from_project: int = 0
    """Tasks of removed rows that are also in another project: taken out of this one instead of deleted."""
    edited_in_asana: int = 0
    """Tasks with a synced field a person changed since the last run."""
    deleted_in_asana: int = 0
    """Tasks of rows still in the model that a person deleted."""
    moved_out_of_project: int = 0
    """Tasks of rows still in the model that a person moved out of the project."""
    asana_reads: int = 0
    """Reads spent seeing what people did (events, the tasks that changed, or one listing)."""
    unmatched_after_run: int = 0
    """Tasks whose synced fields still differ from the model after the run (kept edits, failed resends)."""
    differing: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Of those: primary key -> field -> what Asana shows (as the state keeps it)."""
    rebuilt: int = 0
    """Tasks adopted by their sync key when the run found no state (see `rebuild`); not in the run history."""
    adopted_existing: int = 0
    """Tasks of the project adopted for rows that would have created one (`adopt_existing`)."""
    template_jobs: int = 0
    """Template instantiations whose job Asana answered (`task_template`)."""
    dependencies_set: int = 0
    dependencies_removed: int = 0
    attachments_added: int = 0
    attachments_deleted: int = 0
    requests: int = 0
    write_requests: int = 0
    seconds: float = 0.0
    created_tasks: list[tuple[str, str | None]] = field(default_factory=list)
    """(GID, Asana's permalink_url) of the first tasks created, for links."""
    rejections: list[tuple[str | None, str, str]] = field(default_factory=list)
    removal_cases: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(primary key, task GID, case, reason) of each removal that spared people's work."""
    asana_edits: list[Edit] = field(default_factory=list)
    """Each edit people made: the task, the field, the model's value and Asana's, and whether it was kept or overwritten."""
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTS}

    def summary(self) -> str:
        removals = f", {self.completed:,} completed, {self.deleted:,} deleted" if self.completed or self.deleted else ""
        if self.released or self.removed_from_project:
            removals += f", {self.released:,} released, {self.removed_from_project:,} removed from the project"
        comments = f", {self.comments:,} comments" if self.comments else ""
        return (
            f"{self.created:,} created, {self.updated:,} updated, {self.unchanged:,} unchanged, "
            f"{self.rejected:,} rejected{removals}{comments} in {self.seconds:,.1f} s"
        )

    def run_row(self, *, run_id: str, sync_mode: str, started_at: datetime, finished_at: datetime) -> dict[str, Any]:
        """The line this run adds to the state's run history."""
        return {
            "run_id": run_id,
            "sync_mode": sync_mode,
            "started_at": started_at,
            "finished_at": finished_at,
            **self.counts(),
        }


def people_lines(plan: Plan) -> list[str]:
    """What people did in Asana since the last run and what this run does about it, for the run's
    log (its counts alone, "1 created, 20 unchanged", do not say that a person deleted a task)."""
    people, settings = plan.people, plan.settings
    lines = []
    if people.deleted:
        deleted = f"People deleted {counted(people.deleted, 'task')} of this sync in Asana since the last run"
        if settings.on_task_deleted is TaskDeletedPolicy.RELEASE:
            lines.append(f"{deleted}: released, their rows no longer synced (on_task_deleted: release; --clear-releases undoes it)")
        else:
            creating = set(plan.table["primary_key"][plan.mask(Operation.CREATE)].astype(str))
            again = sum(1 for key in people.deleted_keys if key in creating)
            rest = people.deleted - again
            lines.append(
                f"{deleted}: {again:,} created again (on_task_deleted: recreate)"
                + (f", {rest:,} not (their rows are rejected this run: see the rejections)" if rest else "")
            )
    if people.moved_out:
        moved = f"People moved {counted(people.moved_out, 'task')} out of the project since the last run"
        if settings.on_asana_edit is EditPolicy.OVERWRITE:
            lines.append(f"{moved}: put back (on_asana_edit: overwrite), unless moved where the token cannot see them")
        else:
            lines.append(f"{moved}: released, never written again (on_asana_edit: keep; --clear-releases undoes it)")
    if people.edits:
        tasks = len({edit.key for edit in people.edits})
        fields: dict[str, int] = {}
        for edit in people.edits:
            fields[edit.field] = fields.get(edit.field, 0) + 1
        kept = sum(1 for edit in people.edits if edit.outcome == KEPT)
        overwritten = len(people.edits) - kept
        shown = ", ".join(f"{name} on {count:,}" for name, count in sorted(fields.items()))
        policy = f"on_asana_edit: {settings.on_asana_edit.value}"
        if not overwritten:
            done = f"kept as they are ({policy})"
        elif not kept:
            done = f"overwritten with the model's values ({policy})"
        else:
            done = f"{kept:,} edits kept, {overwritten:,} overwritten with the model's values ({policy}; the model changed those too)"
        lines.append(f"People edited {counted(tasks, 'task')} in Asana since the last run ({shown}): {done}")
    return lines
