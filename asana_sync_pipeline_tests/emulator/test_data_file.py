"""`--data-file`: an emulator that remembers its workspace across a restart (tasks, stories, tags,
the trash, events and their sync tokens, GID sequences), and refuses a file made from another
fixture or project rather than replace one workspace by another."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings, FixtureError, default_fixture

TOKEN = "data-file-token"


def api(server: EmulatorServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


def test_a_restarted_emulator_holds_what_it_held(tmp_path):
    path = tmp_path / "workspace.json"
    with EmulatorServer(EmulatorSettings(token=TOKEN, data_file=path)) as server, api(server) as client:
        project, workspace = server.project_gid, server.state.workspace["gid"]
        kept = client.post("/tasks", json={"data": {"name": "Kept", "projects": [project], "notes": "n"}}).json()["data"]
        client.post(f"/tasks/{kept['gid']}/subtasks", json={"data": {"name": "Child"}}).raise_for_status()
        client.post(f"/tasks/{kept['gid']}/stories", json={"data": {"text": "a comment"}}).raise_for_status()
        tag = client.post(f"/workspaces/{workspace}/tags", json={"data": {"name": "Local"}}).json()["data"]
        client.post(f"/tasks/{kept['gid']}/addTag", json={"data": {"tag": tag["gid"]}}).raise_for_status()
        gone = client.post("/tasks", json={"data": {"name": "Gone", "projects": [project]}}).json()["data"]
        client.delete(f"/tasks/{gone['gid']}").raise_for_status()
        sync = client.get("/events", params={"resource": project}).json()["sync"]
        before = client.get(f"/tasks/{kept['gid']}", params={"opt_fields": "name,notes,tags.name,num_subtasks,modified_at"}).json()
        stories = len(client.get(f"/tasks/{kept['gid']}/stories").json()["data"])
    with EmulatorServer(EmulatorSettings(token=TOKEN, data_file=path)) as server, api(server) as client:
        after = client.get(f"/tasks/{kept['gid']}", params={"opt_fields": "name,notes,tags.name,num_subtasks,modified_at"}).json()
        assert after == before
        assert len(client.get(f"/tasks/{kept['gid']}/stories").json()["data"]) == stories
        assert client.get(f"/tasks/{gone['gid']}").status_code == 404
        assert httpx.post(f"{server.url}/_emulator/undelete/{gone['gid']}").json() == {"undeleted": gone["gid"]}
        new = client.post("/tasks", json={"data": {"name": "New", "projects": [server.project_gid]}}).json()["data"]
        assert int(new["gid"]) > int(gone["gid"]), "the GIDs go on where they were"
        events = client.get("/events", params={"resource": server.project_gid, "sync": sync})
        assert events.status_code == 200, "a sync token handed out before the restart is still valid"
        assert [event["resource"]["name"] for event in events.json()["data"] if event["action"] == "added"] == ["Gone", "New"]
    assert TOKEN not in path.read_text()


def test_a_data_file_from_another_fixture_or_project_is_refused(tmp_path):
    path = tmp_path / "workspace.json"
    with EmulatorServer(EmulatorSettings(token=TOKEN, data_file=path)):
        pass
    other = {**default_fixture(), "workspace": {"gid": "1", "name": "Elsewhere"}}
    with pytest.raises(FixtureError, match="made from another fixture"):
        EmulatorServer(EmulatorSettings(token=TOKEN, data_file=path, fixture=other))
    with pytest.raises(FixtureError, match="whose project is 1200000000000100, not 42"):
        EmulatorServer(EmulatorSettings(token=TOKEN, data_file=path, project_gid="42"))
    assert EmulatorServer(EmulatorSettings(token=TOKEN, data_file=path, fixture=default_fixture())).project_gid
    path.write_text(json.dumps({"not": "ours"}))
    done = subprocess.run(
        [sys.executable, "-m", "asana_sync_pipeline.emulator", "--port", "0", "--data-file", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "is not an emulator data file" in done.stderr and "Traceback" not in done.stderr
