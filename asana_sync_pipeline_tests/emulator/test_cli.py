"""`python -m asana_sync_pipeline.emulator` as a script uses it: one line with the URL,
a clean stop on SIGTERM and SIGINT, and never the token in its output."""

import json
import re
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from asana_sync_pipeline.emulator import FAULT_KINDS, default_fixture

SECRET = "1/1234567890123456:deadbeefdeadbeefdeadbeefdeadbeef"
COMMAND = [sys.executable, "-m", "asana_sync_pipeline.emulator"]


def start(*flags: str) -> tuple[subprocess.Popen, str, str]:
    process = subprocess.Popen([*COMMAND, "--port", "0", *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    found = re.search(r"(http://\S+/api/1\.0)", line)
    if not found:
        process.kill()
        pytest.fail(f"no URL in the first line: {line!r} {process.stderr.read()}")
    return process, line, found.group(1)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_the_command_line_serves_stops_cleanly_and_never_prints_the_token(stop):
    flags = ["--token", SECRET, "--project-gid", "42", "--fault-rate", "0.5", "--seed", "3", "--access-log"]
    process, line, base_url = start(*flags)
    try:
        assert line.startswith("Asana emulator listening on http://127.0.0.1:")
        assert httpx.get(f"{base_url}/users/me", headers={"Authorization": "Bearer wrong"}).status_code == 401
        auth = {"Authorization": f"Bearer {SECRET}"}
        assert httpx.get(f"{base_url}/projects/42", headers=auth).json()["data"]["gid"] == "42"
        for _ in range(6):
            try:
                httpx.post(f"{base_url}/tasks", headers=auth, json={"data": {"projects": ["42"], "name": SECRET}})
            except httpx.TransportError:
                pass
    finally:
        process.send_signal(stop)
        output, errors = process.communicate(timeout=10)
    assert process.returncode == 0, errors
    assert "GET /api/1.0/projects/42 200" in errors
    assert "Traceback" not in errors
    assert SECRET not in line + output + errors


def test_a_fixture_file_replaces_the_bundled_one(tmp_path):
    fixture = default_fixture()
    fixture["project"] = {"gid": "1300000000000100", "name": "Renewals"}
    path = tmp_path / "fixture.json"
    path.write_text(json.dumps(fixture))
    process, _, base_url = start("--fixture", str(path))
    try:
        project = httpx.get(f"{base_url}/projects/1300000000000100", headers={"Authorization": "Bearer emulator-token"})
        assert project.json()["data"]["name"] == "Renewals"
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_help_documents_every_fault():
    help_text = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, check=True).stdout
    for word in (*FAULT_KINDS, "--slow-seconds", "--seed", "/_emulator/stats"):
        assert word in help_text


def test_settings_it_cannot_use_are_one_line_on_stderr_never_a_traceback(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "wrong.json").write_text(json.dumps({**default_fixture(), "users": []}))
    cases = {
        "port in use": (["--port", str(taken.getsockname()[1])], 1, "cannot listen on 127.0.0.1:"),
        "port too high": (["--port", "70000"], 2, "--port must be between 0 and 65535, got 70000"),
        "port negative": (["--port", "-1"], 2, "--port must be between 0 and 65535, got -1"),
        "port not a number": (["--port", "http"], 2, "argument --port: invalid int value: 'http'"),
        "no fixture": (["--fixture", str(tmp_path / "missing.json")], 2, "missing.json: no such file"),
        "fixture a folder": (["--fixture", str(tmp_path)], 2, "cannot be read (IsADirectoryError"),
        "fixture not JSON": (["--fixture", str(tmp_path / "bad.json")], 2, "bad.json: not valid JSON"),
        "fixture without users": (["--fixture", str(tmp_path / "wrong.json")], 2, "fixture: users must list at least one user"),
        "bad fault kind": (["--fault-kinds", "flood"], 2, "unknown fault kinds: flood"),
    }
    try:
        running = {name: subprocess.Popen([*COMMAND, *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for name, (flags, _, _) in cases.items()}
        answers = {name: (process.communicate(timeout=30), process.returncode) for name, process in running.items()}
    finally:
        taken.close()
    for name, ((output, errors), status) in answers.items():
        _, expected_status, expected_text = cases[name]
        assert (status, output) == (expected_status, ""), (name, errors)
        assert errors.count("\n") == 1 and errors.startswith("python -m asana_sync_pipeline.emulator: error: "), (name, errors)
        assert expected_text in errors and "Traceback" not in errors, (name, errors)
