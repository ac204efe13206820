"""The local loop as a newcomer meets it, through the commands `make` runs: `make emulator` with
a fixture of theirs, `make run KEEP=1` twice with an edit in "Asana" between them, the emulator
stopped and started again; a wrong token tried locally (`KEEP_TOKENS=1`); `--clear-releases`
pointed at a state that is not there."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import httpx

from asana_sync_pipeline.lib.paths import PROJECT_ROOT

LOCAL_VARIABLES = (
    "ASANA_ACCESS_TOKEN", "ASANA_BASE_URL", "ASANA_PROJECT_GID", "WAREHOUSE_DUCKDB_PATH", "SYNC_STATE_DUCKDB_PATH",
    "SYNC_STATE_URL",
)  # fmt: skip
FIXTURE = {
    "workspace": {"gid": "1", "name": "Acme"},
    "users": [{"gid": "10", "name": "Bot", "email": "bot@acme.example"}],
    "projects": [{"gid": "100", "name": "Onboarding", "sections": [{"gid": "40", "name": "New"}]}],
}


def _files(tmp_path: Path) -> tuple[Path, Path]:
    fixture = tmp_path / "workspace.json"
    fixture.write_text(json.dumps(FIXTURE))
    warehouse = tmp_path / "mine.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(
            "CREATE TABLE asana_task_model AS SELECT 'c' || i AS id, 'Welcome customer ' || i AS name, "
            "'Call them' AS notes FROM range(3) t(i)"
        )
    return fixture, warehouse


def _environment(**extra: str) -> dict[str, str]:
    return {**{key: value for key, value in os.environ.items() if key not in LOCAL_VARIABLES}, **extra}


def make_command(target: str, **variables: str) -> list[str]:
    """The command `make TARGET VARIABLE=…` runs (its last line under `make -n`), as a list."""
    assigned = [f"{name}={value}" for name, value in variables.items()]
    printed = subprocess.run(["make", "-n", target, *assigned], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    command = shlex.split(printed.stdout.strip().splitlines()[-1])
    return [sys.executable, *command[1:]] if command[0].endswith("python") else command


def run(command: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=_environment(**env), capture_output=True, text=True, timeout=180, cwd=PROJECT_ROOT)


@contextmanager
def make_emulator(**variables: str) -> Iterator[tuple[str, str, list[str]]]:
    """`make emulator …` in the background: its API root, the token it prints, and what it printed."""
    command = make_command("emulator", EMULATOR_PORT="0", **variables)
    process = subprocess.Popen(
        command, env=_environment(), cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    printed: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while not any(line.startswith("Ctrl-C") for line in printed):
            line = process.stdout.readline()
            assert line or process.poll() is None, "".join(printed)
            printed.append(line)
            assert time.monotonic() < deadline, "".join(printed)
        found = re.search(r"Asana emulator: (\S+/api/1\.0) \(token: (\S+?);", "".join(printed))
        assert found, "".join(printed)
        yield found.group(1), found.group(2), printed
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        rest = process.communicate(timeout=30)[0]
        printed.append(rest)


def test_the_local_loop_keeps_the_emulator_and_the_state_between_runs(tmp_path):
    fixture, warehouse = _files(tmp_path)
    kept = tmp_path / "kept"
    sync = make_command("run", KEEP=str(kept), WAREHOUSE=str(warehouse)) + ["--sync", "default"]

    first = run(make_command("run", KEEP=str(kept), FIXTURE=str(fixture), WAREHOUSE=str(warehouse)) + ["--sync", "default"])
    assert first.returncode == 0, first.stdout + first.stderr
    assert "created: 3" in first.stdout and "token: emulator-token" in first.stdout
    assert "Workspace (new, from the fixture" in first.stdout and "Both are kept" in first.stdout

    with make_emulator(FIXTURE=str(fixture), KEEP=str(kept)) as (api, token, printed):
        assert token == "emulator-token" and "Workspace (reloaded)" in "".join(printed), "make emulator honours FIXTURE, keeps"
        with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}) as person:
            tasks = person.get("/projects/100/tasks", params={"opt_fields": "name"}).raise_for_status().json()["data"]
            assert sorted(task["name"] for task in tasks) == [f"Welcome customer {n}" for n in range(3)]
            deleted, edited = tasks[0]["gid"], tasks[1]["gid"]
            person.delete(f"/tasks/{deleted}").raise_for_status()
            person.put(f"/tasks/{edited}", json={"data": {"notes": "Called: call back in May"}}).raise_for_status()

        again = run(sync)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "served by make emulator" in again.stdout
        assert "created: 1" in again.stdout and "unchanged: 2" in again.stdout, "only the task deleted by hand, again"
        assert "People deleted 1 task of this sync in Asana since the last run: 1 created again" in again.stdout
        assert "People edited 1 task in Asana since the last run (notes on 1): kept as they are" in again.stdout
    assert any("its workspace is saved" in line for line in printed), printed

    with make_emulator(KEEP=str(kept)) as (api, token, printed):  # started again: nothing lost
        with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}) as person:
            notes = {task["name"]: task["notes"] for task in person.get("/projects/100/tasks", params={"opt_fields": "name,notes"}).json()["data"]}
        assert len(notes) == 3 and "Called: call back in May" in notes.values()
    third = run(sync)  # no emulator running: the run serves the kept workspace itself
    assert third.returncode == 0, third.stdout + third.stderr
    assert "created: 0" in third.stdout and "unchanged: 3" in third.stdout and "People" not in third.stdout

    fresh = run(sync + ["--fresh"])
    assert "Workspace (new, from the fixture" in fresh.stdout and "created: 3" in fresh.stdout, fresh.stdout + fresh.stderr
    other = run(make_command("run", KEEP=str(kept), FIXTURE=str(tmp_path / "other.json")) + ["--sync", "default"])
    assert other.returncode == 2 and "no such file" in other.stderr


def test_a_kept_workspace_is_not_replaced_by_another_fixture_without_being_asked(tmp_path):
    fixture, warehouse = _files(tmp_path)
    kept = tmp_path / "kept"
    assert run(make_command("run", KEEP=str(kept), WAREHOUSE=str(warehouse)) + ["--sync", "default"]).returncode == 0
    mine = run(make_command("run", KEEP=str(kept), FIXTURE=str(fixture), WAREHOUSE=str(warehouse)) + ["--sync", "default"])
    assert mine.returncode == 2
    assert "holds a workspace made from another fixture" in mine.stderr and "FRESH=1" in mine.stderr
    with make_emulator(KEEP=str(kept)):
        refused = run(make_command("run", KEEP=str(kept), FIXTURE=str(fixture), WAREHOUSE=str(warehouse)) + ["--sync", "default"])
    assert refused.returncode == 2 and "made from another fixture than" in refused.stderr


def test_a_wrong_token_can_be_tried_locally(tmp_path):
    _, warehouse = _files(tmp_path)
    kept = str(tmp_path / "kept")
    forced = run(make_command("run", KEEP=kept, WAREHOUSE=str(warehouse)) + ["--sync", "default"], ASANA_ACCESS_TOKEN="0/not-the-token")
    assert forced.returncode == 0 and "created: 3" in forced.stdout, "by default every token is the emulator's"
    wrong = run(
        make_command("run", KEEP=kept, KEEP_TOKENS="1", WAREHOUSE=str(warehouse)) + ["--sync", "default"],
        ASANA_ACCESS_TOKEN="0/not-the-token",
    )
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "Authentication failed: invalid personal access token. Check that ASANA_ACCESS_TOKEN" in wrong.stdout
    assert "0/not-the-token" not in wrong.stdout + wrong.stderr


FAKE_DG = """
import os, sys, httpx
answer = httpx.get(os.environ["ASANA_BASE_URL"] + "/users/me", headers={"Authorization": "Bearer " + os.environ["ASANA_ACCESS_TOKEN"]})
open(os.environ["FAKE_DG_OUT"], "w").write(str(answer.status_code))
"""


def test_make_dev_lets_a_wrong_token_through_to_the_emulator_when_asked(tmp_path):
    """`make dev`'s command, with `dg dev` replaced by a stand-in that asks the emulator who its token is."""
    _, warehouse = _files(tmp_path)
    fake = tmp_path / "fake_dg.py"
    fake.write_text(textwrap.dedent(FAKE_DG))
    script = tmp_path / "dg"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {fake}\n")
    script.chmod(0o755)
    out = tmp_path / "status"
    for variables, status in (({}, "200"), ({"KEEP_TOKENS": "1"}, "401")):
        command = make_command("dev", KEEP=str(tmp_path / "kept"), WAREHOUSE=str(warehouse), EMULATOR_PORT="0", **variables)
        launcher = f"import sys; import asana_sync_pipeline.local.dev as dev; dev.DG = {str(script)!r}; sys.exit(dev.main(sys.argv[1:]))"
        done = run([sys.executable, "-c", launcher, *command[3:]], ASANA_ACCESS_TOKEN="0/not-the-token", FAKE_DG_OUT=str(out))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "token: emulator-token" in done.stdout
        assert out.read_text() == status, variables


def test_clearing_releases_in_a_state_that_does_not_exist_names_the_file(tmp_path):
    missing = tmp_path / "nowhere" / "sync_state.duckdb"
    done = run(
        [sys.executable, "-m", "asana_sync_pipeline", "--clear-releases", "--sync", "default"],
        SYNC_STATE_DUCKDB_PATH=str(missing), ASANA_PROJECT_GID="1200000000000100",
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"Configuration error: the sync state {missing} does not exist" in done.stderr
    assert "forgotten" not in done.stdout and not missing.exists() and not missing.parent.exists()
