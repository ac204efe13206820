"""The run's log says what people did in Asana since the last run and what the run does about it,
end to end through the job: before, after a deletion by hand it read "20 unchanged", then
"1 creates", with no word of the task deleted or of the edit kept."""

from __future__ import annotations

import pytest

from asana_sync_pipeline_tests.conftest import failure_text, materialization

ROWS = "SELECT 'k' || i AS id, 'Task ' || i AS name, 'notes ' || i AS notes FROM range(20) t(i)"
OTHER_PROJECT = "1200000000000110"


def log_lines(sandbox, settings: dict | None = None) -> list[str]:
    result = sandbox.sync(settings or {})
    assert result.success, failure_text(result)
    materialization(result, "asana_tasks")
    return [entry.user_message for entry in sandbox.instance.all_logs(result.run_id) if entry.user_message]


def _by_hand(sandbox) -> None:
    """A person deletes Task 0, edits the notes of Task 1 and Task 2, and moves Task 3 to another project."""
    gids = {task["name"]: task["gid"] for task in sandbox.tasks()}
    with sandbox.api() as person:
        person.delete(f"/tasks/{gids['Task 0']}").raise_for_status()
        for name in ("Task 1", "Task 2"):
            person.put(f"/tasks/{gids[name]}", json={"data": {"notes": f"{name}: called, see the thread"}}).raise_for_status()
    sandbox.move_out_by_hand(gids["Task 3"], OTHER_PROJECT)


@pytest.mark.parametrize(
    ("policy", "edits", "moved"),
    [
        ("keep", "kept as they are (on_asana_edit: keep)", "released, never written again (on_asana_edit: keep"),
        ("overwrite", "overwritten with the model's values (on_asana_edit: overwrite)", "put back (on_asana_edit: overwrite)"),
    ],
)
def test_the_log_says_what_people_did_and_what_the_run_does_about_it(sandbox, policy, edits, moved):
    sandbox.write_model(ROWS)
    settings = {"on_asana_edit": policy}
    first = log_lines(sandbox, settings)
    assert not [line for line in first if line.startswith("People ")], "nobody did anything yet"
    _by_hand(sandbox)
    lines = log_lines(sandbox, settings)
    said = "\n".join(lines)
    assert "People deleted 1 task of this sync in Asana since the last run: 1 created again (on_task_deleted: recreate)" in said
    assert f"People edited 2 tasks in Asana since the last run (notes on 2): {edits}" in said
    assert f"People moved 1 task out of the project since the last run: {moved}" in said
    people = [position for position, line in enumerate(lines) if line.startswith("People ")]
    writing = next(position for position, line in enumerate(lines) if line.startswith("Writing to Asana"))
    assert max(people) < writing, "said before the writes it explains"


def test_a_release_on_deletion_is_said_so(sandbox):
    sandbox.write_model(ROWS)
    log_lines(sandbox, {"on_task_deleted": "release"})
    gid = next(task["gid"] for task in sandbox.tasks() if task["name"] == "Task 5")
    with sandbox.api() as person:
        person.delete(f"/tasks/{gid}").raise_for_status()
    said = "\n".join(log_lines(sandbox, {"on_task_deleted": "release"}))
    assert (
        "People deleted 1 task of this sync in Asana since the last run: released, their rows no longer synced "
        "(on_task_deleted: release; --clear-releases undoes it)"
    ) in said
