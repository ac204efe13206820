"""What became of the work, back in the warehouse: people complete, reassign, move, reschedule and
delete the sync's tasks under their own tokens, and the three tables say so, joined to the model's
rows, with who and when; a refresh reads as little as the issue promises."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from asana_sync_pipeline_tests.conftest import TOKEN, failure_text
from asana_sync_pipeline_tests.scenarios.beyond import HUB_OF_31

ADA, GRACE, ALAN = "1200000000000011", "1200000000000012", "1200000000000013"
IN_PROGRESS = "1200000000000402"
MODEL = """
SELECT * FROM (VALUES
    (1, 'Call Acme', 'ada@acme.example', DATE '2026-12-10', 'Red'),
    (2, 'Call Globex', 'grace@acme.example', DATE '2026-12-11', 'Yellow'),
    (3, 'Call Initech', 'ada@acme.example', DATE '2026-12-12', 'Green'),
    (4, 'Call Umbrella', 'grace@acme.example', DATE '2026-12-13', 'Red'),
    (5, 'Call Hooli', 'ada@acme.example', DATE '2026-12-14', 'Yellow'),
    (6, 'Call Stark', 'grace@acme.example', DATE '2026-12-15', 'Green')
) AS t(account_id, name, owner, due_on, health)
"""
SETTINGS = {"primary_key": "account_id", "field_mapping": {"owner": "assignee", "health": "custom_fields.Health"}}


def warehouse(sandbox, sql: str) -> list[tuple]:
    with duckdb.connect(str(sandbox.warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def outcomes_job(sandbox) -> dg.ExecuteInProcessResult:
    from asana_sync_pipeline.definitions import build_definitions

    job = build_definitions().resolve_job_def("asana_outcomes_job")
    return job.execute_in_process(instance=sandbox.instance, raise_on_error=False)


def outcome_metadata(result: dg.ExecuteInProcessResult, asset: str = "asana_task_outcomes") -> dict:
    """The metadata of an outcome asset's materialization (all three come from the one `asana_outcomes` step)."""
    for event in result.get_asset_materialization_events():
        materialized = event.step_materialization_data.materialization
        if materialized.asset_key.path[-1] == asset:
            return {name: value.value for name, value in materialized.metadata.items()}
    raise AssertionError(f"no materialization of {asset}")


def gids(sandbox) -> dict[int, str]:
    return {int(row["primary_key"]): row["task_gid"] for row in sandbox.state_rows("synced_tasks")}


@pytest.fixture
def synced(sandbox):
    sandbox.write_model(MODEL)
    result = sandbox.sync(SETTINGS)
    assert result.success, failure_text(result)
    return result


def test_a_sync_run_writes_the_three_tables_joined_to_the_models_rows(sandbox, synced):
    rows = warehouse(
        sandbox,
        "SELECT m.account_id, o.task_gid, o.sync_status, o.assignee, o.owner, o.health, o.due_on, o.completed, o.last_run_id "
        "FROM asana_task_model m JOIN asana_sync.asana_task_outcomes o USING (account_id) ORDER BY m.account_id",
    )
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5, 6], "the join on the model's own key covers every row"
    first = rows[0]
    assert first[1] == gids(sandbox)[1] and first[2] == "live"
    assert first[3] == "ada@acme.example" and first[4] == "ada@acme.example", "the mapped column in the model's terms"
    assert first[5] == "Red" and str(first[6]) == "2026-12-10" and first[7] is False and first[8] == synced.run_id
    log = warehouse(sandbox, "SELECT account_id, action, status FROM asana_sync.asana_sync_log ORDER BY account_id")
    assert log == [(key, "create", "ok") for key in range(1, 7)]
    assert warehouse(sandbox, "SELECT count(*) FROM asana_sync.asana_task_history") == [(0,)]


def test_what_people_do_lands_in_the_tables_with_who_and_when(sandbox, synced):
    tasks = gids(sandbox)
    with sandbox.api("ada") as ada:
        ada.put(f"/tasks/{tasks[1]}", json={"data": {"completed": True}}).raise_for_status()
        ada.delete(f"/tasks/{tasks[5]}").raise_for_status()
    with sandbox.api("grace") as grace:
        grace.put(f"/tasks/{tasks[2]}", json={"data": {"assignee": ALAN}}).raise_for_status()
        grace.post(f"/sections/{IN_PROGRESS}/addTask", json={"data": {"task": tasks[3]}}).raise_for_status()
    with sandbox.api("katherine") as katherine:
        katherine.put(f"/tasks/{tasks[4]}", json={"data": {"due_on": "2027-01-15"}}).raise_for_status()

    sandbox.reset_stats()
    refreshed = outcomes_job(sandbox)
    assert refreshed.success, failure_text(refreshed)
    spent = sandbox.stats()
    assert spent["write_requests"] == 0, "the outcomes never write to Asana"
    meta = outcome_metadata(refreshed)
    assert meta["requests"] <= 2 + 1, meta  # the events, then the changed tasks in one page

    outcomes = {
        row[0]: row[1:]
        for row in warehouse(
            sandbox,
            "SELECT account_id, sync_status, completed, completed_by, assignee, section, due_on, completed_at IS NOT NULL, "
            "edits_in_asana FROM asana_sync.asana_task_outcomes",
        )
    }
    assert outcomes[1][:3] == ("live", True, "ada@acme.example") and outcomes[1][6] is True
    assert outcomes[2][3] == "alan@acme.example"
    assert outcomes[3][4] == "In progress"
    assert str(outcomes[4][5]) == "2027-01-15"
    assert outcomes[5][0] == "deleted_in_asana", "a task deleted by hand stays, with its status"
    assert outcomes[2][7] == 1, "a reassignment is a change to a synced field"

    history = warehouse(
        sandbox,
        "SELECT account_id, field, old_value, new_value, changed_by, changed_at IS NOT NULL FROM asana_sync.asana_task_history "
        "ORDER BY account_id, field",
    )
    assert (1, "completed", "false", "true", "ada@acme.example", True) in history
    assert (2, "assignee", "grace@acme.example", "alan@acme.example", "grace@acme.example", True) in history
    assert (3, "section", "To triage", "In progress", "grace@acme.example", True) in history
    assert (4, "due_on", "2026-12-13", "2027-01-15", "katherine@acme.example", True) in history

    # Nothing new: one request (the events), and no history row twice.
    sandbox.reset_stats()
    again = outcomes_job(sandbox)
    assert again.success, failure_text(again)
    assert outcome_metadata(again)["requests"] == 1
    assert warehouse(sandbox, "SELECT count(*) FROM asana_sync.asana_task_history") == [(len(history),)]


def test_the_next_sync_run_refreshes_the_tables_from_what_it_read_and_wrote(sandbox, synced):
    tasks = gids(sandbox)
    with sandbox.api("ada") as ada:
        ada.put(f"/tasks/{tasks[6]}", json={"data": {"completed": True}}).raise_for_status()
    sandbox.write_model(MODEL.replace("'Call Globex'", "'Call Globex today'"))
    result = sandbox.sync(SETTINGS)
    assert result.success, failure_text(result)
    outcomes = dict(warehouse(sandbox, "SELECT account_id, name || '|' || completed FROM asana_sync.asana_task_outcomes"))
    assert outcomes[2] == "Call Globex today|false" and outcomes[6] == "Call Stark|true"
    history = warehouse(sandbox, "SELECT account_id, field, changed_by FROM asana_sync.asana_task_history ORDER BY account_id")
    assert (2, "name", "sync") in history and (6, "completed", "ada@acme.example") in history
    updates = warehouse(sandbox, f"SELECT account_id, action, fields FROM asana_sync.asana_sync_log WHERE run_id = '{result.run_id}'")
    assert updates == [(2, "update", '{"name": {"after": "Call Globex today", "before": "Call Globex"}}')]


def test_the_dry_run_writes_none_of_the_three(sandbox):
    sandbox.write_model(MODEL)
    result = sandbox.sync(SETTINGS, dry=True)
    assert result.success, failure_text(result)
    tables = warehouse(sandbox, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'asana_sync'")
    assert tables == []


def test_a_yaml_syncs_tables_are_in_its_own_schema(sandbox, tmp_path, monkeypatch):
    from asana_sync_pipeline_tests.components.asana_sync.test_component import load, project_with, run

    sandbox.write_model(MODEL)
    yaml = (
        "type: asana_sync_pipeline.AsanaSyncComponent\nattributes:\n  name: churn\n  model:\n    query: SELECT * FROM asana_task_model\n"
        f"  project_gid: '{sandbox.project_gid}'\n  primary_key: account_id\n  field_mapping: {{owner: assignee}}\n"
        "  outcome_fields: {health_now: custom_fields.Health}\n  outcomes_schedule: '*/5 * * * *'\n"
    )
    defs = load(project_with(tmp_path, {"churn": yaml}, monkeypatch))
    assert defs.get_repository_def().get_schedule_def("churn_asana_outcomes_schedule").cron_schedule == "*/5 * * * *"
    result = run(defs, "churn_asana_sync_job")
    assert result.success, failure_text(result)
    rows = warehouse(sandbox, "SELECT account_id, health_now FROM churn.asana_task_outcomes ORDER BY account_id")
    assert rows[0] == (1, None), "Health is not sent by this sync: nothing in Asana yet"
    assert len(rows) == 6
    refreshed = run(defs, "churn_asana_outcomes_job")
    assert refreshed.success, failure_text(refreshed)


def test_the_token_never_reaches_the_tables(sandbox, synced):
    for table in ("asana_task_outcomes", "asana_task_history", "asana_sync_log"):
        dump = str(warehouse(sandbox, f"SELECT * FROM asana_sync.{table}"))
        assert TOKEN not in dump


def test_an_expired_events_token_costs_one_listing_not_a_crawl(sandbox, synced):
    import httpx

    tasks = gids(sandbox)
    with sandbox.api("ada") as ada:
        ada.put(f"/tasks/{tasks[3]}", json={"data": {"completed": True}}).raise_for_status()
    httpx.post(f"{sandbox.server.url}/_emulator/expire_sync_tokens").raise_for_status()
    refreshed = outcomes_job(sandbox)
    assert refreshed.success, failure_text(refreshed)
    assert outcome_metadata(refreshed)["requests"] == 2, "the 412, then one page of the tasks modified since the last reading"
    history = warehouse(sandbox, "SELECT account_id, field, new_value, changed_by FROM asana_sync.asana_task_history")
    assert history == [(3, "completed", "true", "ada@acme.example")], "without events, who completed it is completed_by"
    again = outcomes_job(sandbox)
    assert outcome_metadata(again)["requests"] == 1, "the fresh token of the 412 is kept"


def test_a_refresh_killed_half_way_loses_no_change_and_records_none_twice(sandbox, synced, monkeypatch):
    from asana_sync_pipeline.engine.state import duckdb_store

    tasks = gids(sandbox)
    with sandbox.api("grace") as grace:
        grace.put(f"/tasks/{tasks[2]}", json={"data": {"assignee": ALAN}}).raise_for_status()

    def crash(*args, **kwargs):
        raise RuntimeError("the machine went away")

    with monkeypatch.context() as patched:
        patched.setattr(duckdb_store.DuckDBStateStore, "save_refresh", crash)
        killed = outcomes_job(sandbox)
    assert not killed.success and "the machine went away" in failure_text(killed)
    assert sandbox.state_rows("task_history") == []
    for _ in range(2):
        assert outcomes_job(sandbox).success
    history = warehouse(sandbox, "SELECT account_id, field, changed_by FROM asana_sync.asana_task_history")
    assert history == [(2, "assignee", "grace@acme.example")]


HOLD_THE_SYNC_LOCK = """
import sys, time
from asana_sync_pipeline.engine.state import DuckDBStateStore, SyncScope
store = DuckDBStateStore(sys.argv[1])
with store.exclusive(SyncScope("default", sys.argv[2]), print):
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def test_a_refresh_waits_for_a_sync_run_of_the_same_sync(sandbox, synced):
    import subprocess
    import sys
    import time

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_SYNC_LOCK, str(sandbox.state), sandbox.project_gid, "3"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        refreshed = outcomes_job(sandbox)
        waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert refreshed.success, failure_text(refreshed)
    logs = "\n".join(str(record.user_message) for record in sandbox.instance.all_logs(refreshed.run_id))
    assert "holds its lock" in logs and waited >= 1.0


HOLD_THE_WAREHOUSE = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_warehouse_held_by_another_process_is_waited_for_then_said_and_nothing_is_lost(sandbox, synced, monkeypatch):
    import subprocess
    import sys

    from asana_sync_pipeline.lib import io_managers

    monkeypatch.setattr(io_managers, "WAREHOUSE_WAIT_SECONDS", 1.0)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_WAREHOUSE, str(sandbox.warehouse), "60"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        blocked = outcomes_job(sandbox)
    finally:
        holder.kill()
        holder.wait()
    assert not blocked.success
    text = failure_text(blocked)
    assert "The warehouse at" in text and "stayed locked by another process (PID" in text and "nothing was lost" in text, text
    assert outcomes_job(sandbox).success
    assert len(warehouse(sandbox, "SELECT * FROM asana_sync.asana_task_outcomes")) == 6


OTHER_PROJECT = "1200000000000110"


def test_each_ending_of_a_task_and_each_action_lands_in_the_tables(sandbox, synced):
    task = gids(sandbox)
    with sandbox.api("ada") as ada:
        ada.delete(f"/tasks/{task[3]}").raise_for_status()
    sandbox.move_out_by_hand(task[4], OTHER_PROJECT)
    sandbox.write_model(MODEL.replace("(6, 'Call Stark', 'grace@acme.example', DATE '2026-12-15', 'Green')", "(7, 'Call Wayne', 'ada@acme.example', DATE '2026-12-16', 'Red')")
                        .replace("'Call Hooli', 'ada@acme.example'", "'Call Hooli', 'nobody@acme.example'"))  # fmt: skip
    second = sandbox.sync({**SETTINGS, "on_row_removed": "complete"})
    assert second.success, failure_text(second)
    status = dict(warehouse(sandbox, "SELECT account_id, sync_status FROM asana_sync.asana_task_outcomes"))
    assert status == {1: "live", 2: "live", 3: "live", 4: "moved_out", 5: "live", 6: "removed", 7: "live"}, status
    log = warehouse(
        sandbox,
        "SELECT account_id, task_gid, action, status, error FROM asana_sync.asana_sync_log "
        f"WHERE run_id = '{second.run_id}' ORDER BY account_id, action",
    )
    actions = {(row[0], row[2]): row for row in log}
    assert sorted(actions) == [(3, "recreate"), (4, "reject"), (4, "release"), (5, "reject"), (6, "complete"), (7, "create")], log
    recreated = gids(sandbox)[3]
    assert recreated != task[3] and actions[(3, "recreate")][1:4] == (recreated, "recreate", "ok"), "a person's deletion: a new task"
    assert actions[(4, "release")][1:4] == (task[4], "release", "ok") and "moved out of the project by a person" in actions[(4, "reject")][4]
    assert actions[(5, "reject")][3:] == ("rejected", "assignee: 'nobody@acme.example' is not the email of a user of the workspace")
    assert actions[(6, "complete")][1:4] == (task[6], "complete", "ok"), "a row that left: completed (on_row_removed: complete)"
    recreated_row = warehouse(sandbox, "SELECT task_gid, completed FROM asana_sync.asana_task_outcomes WHERE account_id = 3")
    assert recreated_row == [(recreated, False)]


def test_what_asana_refuses_is_logged_with_its_status_and_reason(sandbox):
    sandbox.write_model(HUB_OF_31)
    result = sandbox.sync()
    assert result.success, failure_text(result)
    refused = warehouse(sandbox, "SELECT id, action, status, http_status, error FROM asana_sync.asana_sync_log WHERE status <> 'ok'")
    assert len(refused) == 1 and refused[0][:4] == ("hub", "update", "rejected", 400), refused
    assert isinstance(refused[0][3], int), "an integer column, as docs/outcomes.md says"
    assert "Asana refused the dependency (400)" in refused[0][4] and "at most 30 dependents and dependencies" in refused[0][4]


def test_the_run_after_a_big_write_reads_its_own_writes_back_for_almost_nothing(sandbox):
    sandbox.write_model("SELECT i AS account_id, 'Follow up ' || i AS name, DATE '2027-01-01' AS due_on FROM range(400) t(i)")
    assert sandbox.sync({"primary_key": "account_id"}).success
    spent = []
    for _ in range(2):  # right after the run that wrote 400 tasks, then with nothing new at all
        sandbox.reset_stats()
        again = sandbox.sync({"primary_key": "account_id"})
        assert again.success, failure_text(again)
        spent.append(sandbox.stats()["requests"])
    after_the_write, unchanged = spent
    assert after_the_write <= unchanged + 1 and after_the_write <= 4, f"{spent}: its own 400 writes are not read back task by task"
