"""What the scenarios of Asana beyond one task share: a fixture with task templates, the requests a run
sent, and reading a task's subtasks, dependencies and attachments as people see them."""

from __future__ import annotations

import json
from collections import Counter

from asana_sync_pipeline.emulator.settings import default_fixture
from asana_sync_pipeline_tests.conftest import Sandbox

PROJECT = "1200000000000100"
QBR = "1200000000000110"
INCIDENTS = "1200000000000120"
FORBIDDEN = "1200000000000199"
PLAYBOOK = "1200000000000901"
ESCALATION = "1200000000000902"
QBR_PREP = "1200000000000903"
SYNC_KEY_FIELD = "1200000000000301"
HEALTH, RED, GREEN = "1200000000000303", "1200000000000313", "1200000000000311"
ACCOUNT_ID = "1200000000000309"
PLAYBOOK_STEPS = ["Call the champion", "Review product usage", "Agree on a success plan"]


def templates_fixture() -> dict:
    """The bundled fixture with the team's templates: two of the sync's project, one of another."""
    data = default_fixture()
    data["custom_fields"].append({"gid": ACCOUNT_ID, "name": "Account ID", "resource_subtype": "text"})
    data["project"]["custom_fields"].append(ACCOUNT_ID)
    data["task_templates"] = [
        {
            "gid": PLAYBOOK, "name": "Churn playbook", "project": PROJECT, "notes": "Work through the churn playbook.",
            "subtasks": [{"name": step} for step in PLAYBOOK_STEPS], "custom_fields": {HEALTH: RED}, "due_on_offset_days": 14,
        },
        {"gid": ESCALATION, "name": "Escalation", "project": PROJECT, "notes": "Escalate.", "subtasks": [{"name": "Page on-call"}]},
        {"gid": QBR_PREP, "name": "QBR prep", "project": QBR, "notes": "Prepare the QBR.", "subtasks": []},
    ]  # fmt: skip
    return data


def writes_by_kind(exchanges) -> Counter:
    """Requests by what they did (`POST /task_templates/*/instantiateTask`, `GET /jobs/*`, ...): GIDs as `*`."""
    kinds: Counter = Counter()
    for exchange in exchanges:
        path = "/".join("*" if part.isdigit() else part for part in exchange.path.split("?")[0].split("/"))
        kinds[f"{exchange.method} {path}"] += 1
    return kinds


def subtasks(sandbox: Sandbox, task_gid: str) -> list[dict]:
    with sandbox.api("sync") as api:
        return api.get(f"/tasks/{task_gid}/subtasks", params={"opt_fields": "name,completed"}).raise_for_status().json()["data"]


def dependencies(sandbox: Sandbox, task_gid: str) -> list[str]:
    with sandbox.api("sync") as api:
        return [task["gid"] for task in api.get(f"/tasks/{task_gid}/dependencies").raise_for_status().json()["data"]]


def attachments(sandbox: Sandbox, task_gid: str) -> list[tuple[str, str]]:
    with sandbox.api("sync") as api:
        found = api.get("/attachments", params={"parent": task_gid, "opt_fields": "name,view_url"}).raise_for_status().json()["data"]
    return sorted((attachment["view_url"], attachment["name"]) for attachment in found)


def sync_log(sandbox: Sandbox) -> list[dict]:
    return sorted(sandbox.state_rows("sync_log"), key=lambda row: row["logged_at"])


def changes_of(entry: dict) -> dict:
    return json.loads(entry["fields"]) if entry.get("fields") else {}


HUB_OF_31 = (
    "SELECT 'hub' AS id, 'Hub' AS name, [ 'dep-' || i FOR i IN range(31)] AS depends_on "
    "UNION ALL SELECT 'dep-' || i, 'Dependency ' || i, NULL FROM range(31) t(i)"
)
"""A row depending on 31 others: Asana refuses more than 30 dependents and dependencies (a 400)."""
