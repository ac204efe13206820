"""`python -m asana_sync_pipeline.emulator` as a script uses it: one line with the URL,
a clean stop on SIGTERM and SIGINT, and never the token in its output."""

import json
import re
import signal
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


def test_help_documents_every_fault_and_bad_flags_are_refused():
    help_text = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, check=True).stdout
    for word in (*FAULT_KINDS, "--slow-seconds", "--seed", "/_emulator/stats"):
        assert word in help_text
    refused = subprocess.run([*COMMAND, "--fault-kinds", "flood"], capture_output=True, text=True)
    assert refused.returncode == 2 and "unknown fault kinds: flood" in refused.stderr
