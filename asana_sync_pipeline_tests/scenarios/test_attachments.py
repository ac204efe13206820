"""Links attached to tasks (`attachments`), end to end through the job: each attached once, as a link
(URL, or `{url, name}`); one dropped from the row deleted only if the sync attached it; exactly once
under dropped answers and after a crash between the POST and its record; listed by the dry run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline.engine.state import ATTACHMENT, DuckDBStateStore, SyncScope, TaskLink
from asana_sync_pipeline_tests.conftest import TOKEN, Sandbox, failure_text, materialization, writes_seen
from asana_sync_pipeline_tests.scenarios.beyond import attachments
from asana_sync_pipeline_tests.scenarios.test_exactly_once import fast_recovery

DASHBOARD = "https://bi.example/dash/acme"
CONTRACT = "https://docs.example/contracts/acme.pdf"
LINKS = f"""SELECT 'a' AS id, 'Acme' AS name, '[{{"url": "{CONTRACT}", "name": "Contract"}}, "{DASHBOARD}"]' AS attachments"""


def test_each_link_is_attached_once_and_a_dropped_one_deleted_only_if_the_sync_attached_it(sandbox):
    sandbox.write_model(LINKS)
    result = sandbox.sync()
    assert result.success, failure_text(result)
    assert materialization(result, "asana_tasks")["attachments_added"] == 2
    [task] = sandbox.tasks()
    assert attachments(sandbox, task["gid"]) == [(DASHBOARD, DASHBOARD), (CONTRACT, "Contract")]
    with writes_seen() as writes:
        assert sandbox.sync().success
    assert writes == []
    with sandbox.api("ada") as ada:
        ada.post("/attachments", data={"parent": task["gid"], "resource_subtype": "external", "url": "https://wiki.example/acme", "name": "Wiki"})
    sandbox.write_model(f"SELECT 'a' AS id, 'Acme' AS name, '{DASHBOARD}' AS attachments")
    result = sandbox.sync()
    assert result.success, failure_text(result)
    assert materialization(result, "asana_tasks")["attachments_deleted"] == 1
    assert attachments(sandbox, task["gid"]) == [(DASHBOARD, DASHBOARD), ("https://wiki.example/acme", "Wiki")]
    sandbox.write_model("SELECT 'a' AS id, 'Acme' AS name, NULL AS attachments")
    assert sandbox.sync().success
    assert attachments(sandbox, task["gid"]) == [("https://wiki.example/acme", "Wiki")]


def test_a_renamed_link_is_attached_again_under_its_new_name(sandbox):
    sandbox.write_model(f"""SELECT 'a' AS id, 'Acme' AS name, '{{"url": "{CONTRACT}", "name": "Contract"}}' AS attachments""")
    assert sandbox.sync().success
    sandbox.write_model(f"""SELECT 'a' AS id, 'Acme' AS name, '{{"url": "{CONTRACT}", "name": "Contract 2027"}}' AS attachments""")
    assert sandbox.sync().success
    [task] = sandbox.tasks()
    assert attachments(sandbox, task["gid"]) == [(CONTRACT, "Contract 2027")]


def test_a_link_that_is_not_one_rejects_its_row(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Acme' AS name, 'the dashboard' AS attachments")
    result = sandbox.sync()
    assert result.success, failure_text(result)
    [rejection] = sandbox.state_rows("rejections")
    assert (rejection["field"], rejection["reason"]) == ("attachments", "'the dashboard' is not an http(s) link")


def test_a_crash_between_the_post_and_its_record_never_attaches_twice(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Acme' AS name")
    assert sandbox.sync().success
    [task] = sandbox.tasks()
    attempted = datetime.now(UTC) - timedelta(seconds=1)
    with sandbox.api("sync") as api:  # what the crashed run did: the intent recorded, the POST answered, nothing more
        api.post("/attachments", data={"parent": task["gid"], "resource_subtype": "external", "url": DASHBOARD, "name": "Dash"})
    DuckDBStateStore(str(sandbox.state)).record_links(
        SyncScope("default", sandbox.project_gid), "crashed", [TaskLink("a", ATTACHMENT, DASHBOARD, task["gid"], None, "Dash", attempted)], []
    )
    sandbox.write_model(f"""SELECT 'a' AS id, 'Acme' AS name, '{{"url": "{DASHBOARD}", "name": "Dash"}}' AS attachments""")
    with writes_seen() as writes:
        result = sandbox.sync()
    assert result.success, failure_text(result)
    assert writes == []
    assert attachments(sandbox, task["gid"]) == [(DASHBOARD, "Dash")]
    [link] = DuckDBStateStore(str(sandbox.state)).links(SyncScope("default", sandbox.project_gid))
    assert link.link_gid is not None


def test_dropped_answers_never_attach_a_link_twice(tmp_path, monkeypatch):
    settings = EmulatorSettings(token=TOKEN, fault_rate=0.3, fault_kinds=("reset_after", "error_500"), slow_rate=0.1, slow_seconds=1.5, seed=5)
    with EmulatorServer(settings) as server:
        sandbox = Sandbox(server=server, warehouse=tmp_path / "warehouse.duckdb", state=tmp_path / "state.duckdb").bind(monkeypatch)
        sandbox.write_model(
            "SELECT 'acct-' || i AS id, 'Account ' || i AS name, "
            "'https://bi.example/' || i || ' https://docs.example/' || i AS attachments FROM range(20) t(i)"
        )
        resources = fast_recovery(sandbox)
        resources["asana"]["config"]["timeout_seconds"] = 1.0
        for _ in range(3):
            result = sandbox.sync(resources=resources)
            assert result.success, failure_text(result)
            if not sandbox.state_rows("rejections"):
                break
        tasks = {task["name"]: task["gid"] for task in sandbox.tasks()}
        assert len(tasks) == 20
        for i in range(20):
            urls = [url for url, _ in attachments(sandbox, tasks[f"Account {i}"])]
            assert urls == [f"https://bi.example/{i}", f"https://docs.example/{i}"], urls


def test_the_dry_run_lists_the_links_it_would_attach_and_delete(sandbox):
    from asana_sync_pipeline.definitions import build_definitions

    sandbox.write_model(LINKS)
    assert sandbox.sync().success
    sandbox.write_model(f"SELECT 'a' AS id, 'Acme' AS name, '{DASHBOARD} https://wiki.example/acme' AS attachments")
    result = build_definitions().resolve_job_def("asana_dry_run_job").execute_in_process(instance=sandbox.instance, raise_on_error=False)
    assert result.success, failure_text(result)
    planned = materialization(result, "asana_task_payloads")["planned_attachments"]
    [task] = sandbox.tasks()
    assert f"| a | {task['gid']} | https://wiki.example/acme | {CONTRACT} |" in planned
