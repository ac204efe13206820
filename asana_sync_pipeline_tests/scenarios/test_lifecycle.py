"""The row lifecycle through Dagster against the emulator: rows that leave and come back, the guard
against emptying a project, hierarchies, and comments exactly once under faults."""

from __future__ import annotations

import asana

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline_tests.conftest import TOKEN, Sandbox, failure_text, materialization, people


def rows_sql(keys) -> str:
    return " UNION ALL ".join(f"SELECT '{key}' AS id, 'Task {key}' AS name" for key in keys)


def sdk_tasks(sandbox) -> dict[str, dict]:
    configuration = asana.Configuration()
    configuration.host = sandbox.server.base_url
    configuration.access_token = TOKEN
    tasks = asana.TasksApi(asana.ApiClient(configuration)).get_tasks_for_project(
        sandbox.project_gid, {"opt_fields": "name,completed,parent"}
    )
    return {task["name"]: task for task in tasks}


def removal_run(sandbox, keys, **settings):
    sandbox.write_model(rows_sql(keys))
    result = sandbox.sync(settings)
    assert result.success, failure_text(result)
    return {**materialization(result, "asana_tasks"), "plan": materialization(result, "asana_task_payloads")}


def test_complete_marks_a_removed_rows_task_done_once_and_reopens_it_when_it_returns(sandbox):
    policy = {"on_row_removed": "complete"}
    removal_run(sandbox, "abcdefghij", **policy)
    sandbox.reset_stats()
    first = removal_run(sandbox, "abcdefghi", **policy)
    assert (first["completed"], first["unchanged"], first["created"]) == (1, 9, 0)
    assert (first["plan"]["to_complete"], first["plan"]["to_delete"]) == (1, 0)
    assert f"| j | {sdk_tasks(sandbox)['Task j']['gid']} | complete |" in first["plan"]["planned_removals"]
    assert sandbox.stats()["write_requests"] == 1
    assert sdk_tasks(sandbox)["Task j"]["completed"] is True
    sandbox.reset_stats()
    still_away = removal_run(sandbox, "abcdefghi", **policy)
    assert still_away["completed"] == 0 and sandbox.stats()["write_requests"] == 0
    back = removal_run(sandbox, "abcdefghij", **policy)
    assert (back["reopened"], back["updated"], back["created"]) == (1, 1, 0)
    assert back["plan"]["to_reopen"] == 1 and "| j |" in back["plan"]["planned_reopenings"]
    tasks = sdk_tasks(sandbox)
    assert len(tasks) == 10 and tasks["Task j"]["completed"] is False
    runs = sandbox.state_rows("sync_runs")
    assert [run["completed"] for run in runs] == [0, 1, 0, 0] and runs[-1]["reopened"] == 1


def test_delete_removes_the_task_and_forgets_it_and_a_returning_row_gets_a_new_task(sandbox):
    policy = {"on_row_removed": "delete"}
    removal_run(sandbox, "abcdefghij", **policy)
    gid = {row["primary_key"]: row["task_gid"] for row in sandbox.state_rows("synced_tasks")}["j"]
    deleted = removal_run(sandbox, "abcdefghi", **policy)
    assert deleted["deleted"] == 1 and "Task j" not in sdk_tasks(sandbox)
    assert (deleted["plan"]["to_delete"], deleted["plan"]["to_complete"]) == (1, 0)
    assert f"| j | {gid} | delete |" in deleted["plan"]["planned_removals"]
    with sandbox.api() as api:
        assert api.get(f"/tasks/{gid}").status_code == 404
    assert "j" not in {row["primary_key"] for row in sandbox.state_rows("synced_tasks")}
    back = removal_run(sandbox, "abcdefghij", **policy)
    assert (back["created"], back["deleted"]) == (1, 0)
    assert len(sdk_tasks(sandbox)) == 10


def test_keep_leaves_removed_rows_tasks_alone(sandbox):
    removal_run(sandbox, "abcdefghij")
    sandbox.reset_stats()
    kept = removal_run(sandbox, "abc")
    assert (kept["completed"], kept["deleted"]) == (0, 0) and sandbox.stats()["write_requests"] == 0
    assert kept["plan"]["planned_removals"] == "_none_"
    assert len(sdk_tasks(sandbox)) == 10


def test_update_mode_reopens_but_cannot_recreate_and_insert_mode_creates_anew(sandbox):
    removal_run(sandbox, "abcdefghij", on_row_removed="complete")
    removal_run(sandbox, "abcdefghi", on_row_removed="complete")
    reopened = removal_run(sandbox, "abcdefghij", on_row_removed="complete", sync_mode="update")
    assert (reopened["reopened"], reopened["created"]) == (1, 0)
    removal_run(sandbox, "abcdefghi", on_row_removed="delete")
    inserted = removal_run(sandbox, "abcdefghij", on_row_removed="delete", sync_mode="insert")
    assert inserted["created"] == 1


def test_an_emptied_model_fails_before_any_write_and_passes_when_the_setting_allows(sandbox):
    removal_run(sandbox, [f"k{n}" for n in range(20)], on_row_removed="delete")
    sandbox.write_model("SELECT 'k0' AS id, 'Task k0' AS name")
    sandbox.reset_stats()
    tripped = sandbox.sync({"on_row_removed": "delete"})
    assert not tripped.success
    message = failure_text(tripped)
    assert "would delete 19 of the sync's 20 live tasks (95%), more than max_removed_fraction (20%)" in message
    assert sandbox.stats()["write_requests"] == 0 and len(sdk_tasks(sandbox)) == 20
    evaluations = {evaluation.check_name: evaluation for evaluation in tripped.get_asset_check_evaluations()}
    assert not evaluations["removals_within_limit"].passed
    allowed = sandbox.sync({"on_row_removed": "delete", "max_removed_fraction": 1.0})
    assert materialization(allowed, "asana_tasks")["deleted"] == 19
    assert list(sdk_tasks(sandbox)) == ["Task k0"]


def test_a_few_removals_never_trip_the_guard(sandbox):
    removal_run(sandbox, "abcdef", on_row_removed="complete")
    assert removal_run(sandbox, "a", on_row_removed="complete")["completed"] == 5


HIERARCHY = """
SELECT * FROM (VALUES
    ('grandchild-1', 'Level 3: one', 'child-1'),
    ('child-1', 'Level 2: one', 'root'),
    ('grandchild-2', 'Level 3: two', 'child-2'),
    ('root', 'Level 1', NULL),
    ('child-2', 'Level 2: two', 'root'),
    ('loop-a', 'Loop A', 'loop-b'),
    ('loop-b', 'Loop B', 'loop-a'),
    ('self', 'Self', 'self'),
    ('orphan', 'Orphan', 'nobody'),
    ('under-orphan', 'Under orphan', 'orphan')
) AS t(id, name, parent_key)
"""


def test_a_three_level_hierarchy_builds_from_an_unordered_model_and_bad_links_are_rejected(sandbox):
    sandbox.write_model(HIERARCHY)
    result = sandbox.sync()
    assert result.success, failure_text(result)
    with sandbox.api() as api:
        tasks = {task["name"]: task for task in api.get(f"/projects/{sandbox.project_gid}/tasks", params={"opt_fields": "name,parent.name"}).json()["data"]}
    assert set(tasks) == {"Level 1", "Level 2: one", "Level 2: two", "Level 3: one", "Level 3: two"}
    assert tasks["Level 1"]["parent"] is None
    assert tasks["Level 2: one"]["parent"]["name"] == "Level 1"
    assert tasks["Level 3: two"]["parent"]["name"] == "Level 2: two"
    reasons = {row["primary_key"]: row["reason"] for row in sandbox.state_rows("rejections")}
    assert reasons["loop-a"].startswith("parent_key makes a cycle: loop-a -> loop-b -> loop-a") or reasons["loop-a"].startswith(
        "parent_key makes a cycle: loop-b -> loop-a -> loop-b"
    )
    assert reasons["self"] == "a row cannot be its own parent"
    assert reasons["orphan"] == "parent_key 'nobody' is not the primary key of a row of the model"
    assert reasons["under-orphan"] == "its parent row 'orphan' is rejected, so its task cannot be placed under it"
    planned = materialization(result, "asana_task_payloads")
    assert "grandchild-1" in planned["planned_parents"]


def test_a_new_parent_moves_the_task_and_a_null_one_makes_it_top_level(sandbox):
    sandbox.write_model(HIERARCHY)
    assert sandbox.sync().success
    moved = HIERARCHY.replace("('grandchild-1', 'Level 3: one', 'child-1')", "('grandchild-1', 'Level 3: one', 'child-2')")
    moved = moved.replace("('child-2', 'Level 2: two', 'root')", "('child-2', 'Level 2: two', NULL)")
    sandbox.write_model(moved)
    result = materialization(sandbox.sync(), "asana_tasks")
    assert result["updated"] == 2 and result["created"] == 0
    with sandbox.api() as api:
        tasks = {task["name"]: task for task in api.get(f"/projects/{sandbox.project_gid}/tasks", params={"opt_fields": "name,parent.name"}).json()["data"]}
    assert tasks["Level 3: one"]["parent"]["name"] == "Level 2: two"
    assert tasks["Level 2: two"]["parent"] is None


def comments_of(sandbox) -> dict[str, list[str]]:
    found = {}
    with sandbox.api() as api:
        for task in api.get(f"/projects/{sandbox.project_gid}/tasks", params={"opt_fields": "name"}).json()["data"]:
            stories = api.get(f"/tasks/{task['gid']}/stories", params={"opt_fields": "text,resource_subtype"}).json()["data"]
            found[task["name"]] = [story["text"] for story in stories if story["resource_subtype"] == "comment_added"]
    return found


def test_a_changed_comment_is_posted_once_and_an_unchanged_one_never(sandbox):
    sandbox.write_model("SELECT 'a' AS id, 'Task a' AS name, 'ARR down 10%' AS comment UNION ALL SELECT 'b', 'Task b', NULL")
    first = materialization(sandbox.sync(), "asana_tasks")
    assert first["comments"] == 1
    sandbox.reset_stats()
    assert materialization(sandbox.sync(), "asana_tasks")["comments"] == 0 and sandbox.stats()["write_requests"] == 0
    sandbox.write_model("SELECT 'a' AS id, 'Task a' AS name, 'ARR down 25%' AS comment UNION ALL SELECT 'b', 'Task b', 'New note'")
    dry = materialization(sandbox.sync(), "asana_task_payloads")
    assert dry["comments_to_post"] == 2
    assert "| a | unchanged | ARR down 25% |" in dry["planned_comments"] and "| b | unchanged | New note |" in dry["planned_comments"]
    assert comments_of(sandbox) == {"Task a": ["ARR down 10%", "ARR down 25%"], "Task b": ["New note"]}


def test_comments_land_exactly_once_under_lost_answers(tmp_path, monkeypatch):
    settings = EmulatorSettings(token=TOKEN, fault_rate=0.3, fault_kinds=("reset_after", "error_503"), seed=5)
    with EmulatorServer(people(settings)) as server:
        box = Sandbox(server=server, warehouse=tmp_path / "warehouse.duckdb", state=tmp_path / "state.duckdb")
        box.bind(monkeypatch)
        resources = {"asana": {"config": {"access_token": {"env": "ASANA_ACCESS_TOKEN"}, "project_gid": {"env": "ASANA_PROJECT_GID"},
                                          "base_url": server.base_url, "reconcile_grace_seconds": 0.05}}}
        for version in (1, 2):
            box.write_model(f"SELECT 'k' || i AS id, 'Task ' || i AS name, 'Figures v{version} for ' || i AS comment FROM range(30) t(i)")
            for _ in range(3):
                result = box.sync(resources=resources)
                assert result.success, failure_text(result)
        assert server.stats.faults.get("reset_after", 0) > 0
        server.settings.fault_rate = 0.0
        assert materialization(box.sync(resources=resources), "asana_tasks")["comments"] == 0
        found = comments_of(box)
        assert len(found) == 30
        assert all(comments == [f"Figures v1 for {name.split()[1]}", f"Figures v2 for {name.split()[1]}"] for name, comments in found.items()), found


def test_repeated_and_missing_keys_beside_parent_keys_reject_only_their_rows(sandbox):
    sandbox.write_model(
        "SELECT * FROM (VALUES ('a', 'A', NULL), ('a', 'A again', NULL), (NULL, 'No key', NULL), (NULL, 'No key 2', NULL), "
        "('b', 'B', NULL), ('c', 'C under B', 'b'), ('d', 'D under a', 'a')) AS t(id, name, parent_key)"
    )
    result = sandbox.sync()
    assert result.success, failure_text(result)
    assert sorted(task["name"] for task in sandbox.tasks()) == ["B", "C under B"]
    reasons = {row["primary_key"]: row["reason"] for row in sandbox.state_rows("rejections") if isinstance(row["primary_key"], str)}
    assert reasons["d"] == "its parent row 'a' is rejected, so its task cannot be placed under it"


def test_a_child_keeps_its_parent_when_the_parents_create_fails_this_run(sandbox):
    sandbox.write_model("SELECT 'p' AS id, 'Parent' AS name, NULL AS parent_key UNION ALL SELECT 'c', 'Child', 'p'")
    assert sandbox.sync().success
    sandbox.write_model(
        "SELECT 'p2' AS id, 'New parent' AS name, NULL AS parent_key, '1299999999999999' AS assignee "
        "UNION ALL SELECT 'p', 'Parent', NULL, NULL UNION ALL SELECT 'c', 'Child, moved', 'p2', NULL"
    )
    result = sandbox.sync()
    assert result.success, failure_text(result)
    tasks = {task["name"]: task for task in sandbox.tasks()}
    assert "New parent" not in tasks and tasks["Child"]["parent"]["gid"] == tasks["Parent"]["gid"]
    reasons = {row["primary_key"]: row["reason"] for row in sandbox.state_rows("rejections")}
    assert reasons["c"].startswith("its parent row 'p2' has no task yet")


TREE = "SELECT * FROM (VALUES ('h1', 'Root', NULL), ('h2', 'Child', {h2}), ('h3', 'Grandchild', 'h2'), ('h6', 'Sibling', {h6})) AS t(id, name, parent_key)"


def test_delete_never_takes_the_tasks_of_rows_still_in_the_model_with_it(sandbox):
    policy = {"on_row_removed": "delete"}
    sandbox.write_model(TREE.format(h2="'h1'", h6="'h1'"))
    assert sandbox.sync(policy).success
    sandbox.write_model(TREE.format(h2="'h1'", h6="'h1'") + " WHERE id <> 'h1'")
    held = materialization(sandbox.sync(policy), "asana_tasks")
    assert held["deleted"] == 0 and set(sdk_tasks(sandbox)) == {"Root", "Child", "Grandchild", "Sibling"}
    reasons = {row["primary_key"]: row["reason"] for row in sandbox.state_rows("rejections")}
    assert reasons["h1"].startswith("not deleted: 2 task(s) of rows still in the model sit beneath its task")
    sandbox.write_model(TREE.format(h2="NULL", h6="NULL") + " WHERE id <> 'h1'")
    moved = materialization(sandbox.sync(policy), "asana_tasks")
    assert (moved["deleted"], moved["updated"]) == (1, 2)
    tasks = sdk_tasks(sandbox)
    assert set(tasks) == {"Child", "Grandchild", "Sibling"} and tasks["Grandchild"]["parent"]["gid"] == tasks["Child"]["gid"]
    assert materialization(sandbox.sync(policy), "asana_tasks")["unchanged"] == 3


def test_switching_from_complete_to_delete_counts_completed_tasks_in_the_guard(sandbox):
    removal_run(sandbox, "abcdefghij", on_row_removed="complete")
    removal_run(sandbox, "abcd", on_row_removed="complete", max_removed_fraction=0.9)
    sandbox.write_model(rows_sql("abcd"))
    tripped = sandbox.sync({"on_row_removed": "delete"})
    assert not tripped.success
    assert "would delete 6 of the sync's 10 live tasks (60%), more than max_removed_fraction (20%)" in failure_text(tripped)
    allowed = removal_run(sandbox, "abcd", on_row_removed="delete", max_removed_fraction=0.7)
    assert allowed["deleted"] == 6 and len(sdk_tasks(sandbox)) == 4


def test_deletes_are_counted_once_each_under_lost_answers(tmp_path, monkeypatch):
    settings = EmulatorSettings(token=TOKEN, fault_rate=0.5, fault_kinds=("reset_after",), seed=3)
    with EmulatorServer(people(settings)) as server:
        box = Sandbox(server=server, warehouse=tmp_path / "warehouse.duckdb", state=tmp_path / "state.duckdb").bind(monkeypatch)
        resources = {"asana": {"config": {"access_token": {"env": "ASANA_ACCESS_TOKEN"}, "project_gid": {"env": "ASANA_PROJECT_GID"},
                                          "base_url": server.base_url, "reconcile_grace_seconds": 0.05}}}
        box.write_model(rows_sql("abcdefghijklmnopqrst"))
        while not box.sync({"on_row_removed": "delete"}, resources=resources).success:
            pass
        box.write_model(rows_sql("abcdefghijklmno"))
        deleted = 0
        for _ in range(5):
            result = box.sync({"on_row_removed": "delete"}, resources=resources)
            if result.success:
                deleted += materialization(result, "asana_tasks")["deleted"]
        server.settings.fault_rate = 0.0
        assert len(box.tasks()) == 15
    assert deleted == 5


def test_insert_mode_posts_comments_only_with_the_tasks_it_creates(sandbox):
    sandbox.write_model("SELECT 'm1' AS id, 'M1' AS name, 'first' AS comment UNION ALL SELECT 'm2', 'M2', NULL")
    assert materialization(sandbox.sync({"sync_mode": "insert"}), "asana_tasks")["comments"] == 1
    sandbox.write_model("SELECT 'm1' AS id, 'M1 renamed' AS name, 'second' AS comment UNION ALL SELECT 'm2', 'M2', 'hello'")
    sandbox.reset_stats()
    later = materialization(sandbox.sync({"sync_mode": "insert"}), "asana_tasks")
    assert (later["comments"], later["updated"]) == (0, 0) and sandbox.stats()["write_requests"] == 0
    assert comments_of(sandbox) == {"M1": ["first"], "M2": []}
