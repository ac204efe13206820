"""What the emulator gives away without a token, and where it refuses to listen: the app pages
behind `permalink_url` show Asana data only to a request with a token, the default token is
refused off loopback, and the routes that take no token are the ones `--help` and
docs/emulator.md list."""

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings, default_fixture
from asana_sync_pipeline.emulator.auth import exposure_problem, is_loopback
from asana_sync_pipeline.emulator.outside_api import TOKEN_FREE_ROUTES
from asana_sync_pipeline_tests.emulator.conftest import TOKEN

PROJECT, TAG = "1200000000000100", "1200000000000201"
DOCS = Path(__file__).parents[2] / "docs" / "emulator.md"
COMMAND = [sys.executable, "-m", "asana_sync_pipeline.emulator"]
ROUTE = re.compile(r"\b(GET|POST) (/_emulator/[^\s`,;:)]+)")


def test_a_permalink_shows_the_task_only_to_a_request_with_a_token(shared_server, http):
    task = http.post("/tasks", json={"data": {"name": "Renew Acme: secret terms", "projects": [PROJECT]}}).json()["data"]
    link = task["permalink_url"]
    assert link == f"{shared_server.url}/_emulator/app/0/{PROJECT}/{task['gid']}"
    anonymous = httpx.get(link)
    assert anonymous.status_code == 200 and anonymous.headers["content-type"].startswith("text/html")
    assert "secret" not in anonymous.text and task["gid"] not in anonymous.text and "Sign in" in anonymous.text
    unknown = httpx.get(f"{shared_server.url}/_emulator/app/0/{PROJECT}/1299999999999999")
    assert unknown.text == anonymous.text, "without a token the page does not even tell whether the task exists"
    assert httpx.get(link, headers={"Authorization": "Bearer wrong"}).text == anonymous.text
    shown = httpx.get(link, headers={"Authorization": f"Bearer {TOKEN}"}).json()["data"]
    assert (shown["gid"], shown["name"]) == (task["gid"], "Renew Acme: secret terms")
    assert httpx.get(f"{shared_server.url}/_emulator/app/0/{PROJECT}/1299999999999999",
                     headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_the_project_and_tag_links_have_pages_with_the_same_rule(shared_server, http):
    project = http.get(f"/projects/{PROJECT}", params={"opt_fields": "permalink_url"}).json()["data"]["permalink_url"]
    assert project == f"{shared_server.url}/_emulator/app/0/{PROJECT}"
    assert "Sign in" in httpx.get(project).text
    assert httpx.get(project, headers={"Authorization": f"Bearer {TOKEN}"}).json()["data"]["name"] == "Customer Success Follow-ups"
    tag = http.get(f"/tags/{TAG}").json()["data"]["permalink_url"]
    assert httpx.get(tag, headers={"Authorization": f"Bearer {TOKEN}"}).json()["data"]["name"] == "churn-risk"
    forbidden = httpx.get(f"{shared_server.url}/_emulator/app/0/1200000000000199", headers={"Authorization": f"Bearer {TOKEN}"})
    assert forbidden.status_code == 404


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("emulator.internal", False),
])
def test_only_loopback_addresses_count_as_loopback(host, loopback):
    assert is_loopback(host) is loopback
    assert (exposure_problem(host, "emulator-token") is None) is loopback
    assert exposure_problem(host, TOKEN) is None, "a token of one's own may be served anywhere"


def test_the_command_line_refuses_the_default_token_off_loopback_in_one_line():
    done = subprocess.run([*COMMAND, "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and "refusing to listen on 0.0.0.0 with the default token" in done.stderr
    assert "emulator-token" not in done.stderr and "Traceback" not in done.stderr


def test_the_server_class_refuses_it_too():
    with pytest.raises(RuntimeError, match="refusing to listen on 0.0.0.0 with the default token"):
        EmulatorServer(EmulatorSettings(), host="0.0.0.0").start()


def _routes(text: str) -> set[str]:
    return {f"{method} {path}" for method, path in ROUTE.findall(text)}


def test_help_docs_and_the_app_name_the_same_token_free_routes(shared_server):
    listed = {f"{method} {path}" for method, path, _ in TOKEN_FREE_ROUTES}
    help_text = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, check=True, timeout=60).stdout
    assert _routes(help_text) == listed
    assert _routes(DOCS.read_text()) == listed
    served = {route.path for route in shared_server.app.routes if route.path.startswith("/_emulator")}
    assert {"/".join(path.split("/")[:3]) for path in served} == {"/".join(entry.split(" ", 1)[1].split("/")[:3]) for entry in listed}
    for entry in listed:
        method, path = entry.split(" ", 1)
        concrete = path.replace("{project}", PROJECT).replace("{task}", "1299999999999999").replace("{tag}", TAG)
        answer = httpx.request(method, f"{shared_server.url}{concrete}")
        assert answer.status_code in (200, 404) and answer.status_code != 401, entry


def test_a_fixture_token_is_never_in_an_answer_or_a_page():
    fixture = default_fixture()
    fixture["users"][1] = {**fixture["users"][1], "token": "user-secret-token-1"}
    with EmulatorServer(EmulatorSettings(token=TOKEN, fixture=fixture)) as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer user-secret-token-1"}) as http:
            answers = [http.get("/users", params={"opt_fields": "name,email,photo,workspaces"}).text,
                       http.get("/users/me").text, httpx.get(f"{server.url}/_emulator/stats").text,
                       httpx.get(f"{server.url}/_emulator/app/0/{PROJECT}").text]
        assert not any("user-secret-token-1" in answer for answer in answers)
        assert "user-secret-token-1" not in repr(server.settings) + repr(server.store.users)
