"""Shared fixtures: a live Asana emulator on loopback, DuckDB files in tmp_path, a throwaway
PostgreSQL server (one per test process), and running the job."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest

from asana_sync_pipeline.emulator import EmulatorServer, EmulatorSettings
from asana_sync_pipeline.emulator.observe import Exchange, observing
from asana_sync_pipeline.engine.asana.budget import BUDGET_DIR_ENV
from asana_sync_pipeline_tests.emulator.openapi_contract import asana_response_contract  # noqa: F401 (autouse: every emulator answer must match Asana's OpenAPI spec)
from asana_sync_pipeline_tests.postgres_server import PostgresServer, start_server
from asana_sync_pipeline_tests.webhook import WEBHOOK_ENV, Webhook

# Token budgets (engine/asana/budget.py) of this test process only: tests in other workers that use the
# same token against the same fake URL would otherwise share its pace. Subprocesses inherit it.
os.environ.setdefault(BUDGET_DIR_ENV, tempfile.mkdtemp(prefix="asana-sync-budgets-"))

# dagster-dbt runs the `dbt` on PATH: this environment's, as `make dev` and an activated environment find it.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

TOKEN = "1/1200000000000010:4f6d2c0a9b8e7d6c5b4a39281706f5e4"
"""The sync's token: the fixture's `me` (Sync Bot)."""
PERSON = "ada"
"""Who acts in Asana when a test plays the people, unless it names someone else."""


def person_token(name: str) -> str:
    """The token of a person of the fixture (`ada`, `grace`, ...: the part of their email before the @)."""
    return f"person-{name}-token"


def with_people(fixture: dict) -> dict:
    """The fixture with a token for each user but the sync's own (`me`, else the first), so that tests act
    in Asana as people, under their own tokens (the emulator then names them in events and stories)."""
    fixture = json.loads(json.dumps(fixture))
    users = fixture.get("users") or []
    me = fixture.get("me") or (users[0]["gid"] if users else None)
    for user in users:
        if user["gid"] != me and user.get("email") and not user.get("token"):
            user["token"] = person_token(user["email"].split("@")[0].lower())
    return fixture
TASK_FIELDS = (
    "name,notes,html_notes,due_on,due_at,start_on,completed,assignee.email,tags.name,"
    "custom_fields,resource_subtype,projects,memberships.section,followers.email,parent"
)


@dataclass
class Sandbox:
    """Everything one integration test touches: emulator, warehouse and state files."""

    server: EmulatorServer
    warehouse: Path
    state: Path
    instance: dg.DagsterInstance = field(default_factory=dg.DagsterInstance.ephemeral)
    """One Dagster instance per sandbox, so an asset run alone loads what an earlier run stored."""

    @property
    def project_gid(self) -> str:
        return self.server.project_gid

    def environment(self, **extra: str) -> dict[str, str]:
        """The variables that point a sync at this sandbox (for a subprocess, or to bind)."""
        return {
            "ASANA_ACCESS_TOKEN": TOKEN,
            "ASANA_BASE_URL": self.server.base_url,
            "ASANA_PROJECT_GID": self.project_gid,
            "WAREHOUSE_DUCKDB_PATH": str(self.warehouse),
            "SYNC_STATE_DUCKDB_PATH": str(self.state),
            **extra,
        }

    def bind(self, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
        """Point this process's syncs at the sandbox."""
        for name, value in self.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("SYNC_STATE_URL", raising=False)
        return self

    def api(self, as_user: str = PERSON) -> httpx.Client:
        """Asana's API as a person of the fixture (`ada` by default), or as the sync itself (`as_user="sync"`)."""
        token = TOKEN if as_user == "sync" else person_token(as_user)
        return httpx.Client(base_url=self.server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def tasks(self) -> list[dict]:
        """Every task of the project, read through the emulator's HTTP API (as the sync's user: reading is no edit)."""
        found, offset = [], None
        with self.api("sync") as api:
            while True:
                params = {"limit": 100, "opt_fields": TASK_FIELDS}
                if offset:
                    params["offset"] = offset
                page = api.get(f"/projects/{self.project_gid}/tasks", params=params).raise_for_status().json()
                found.extend(page["data"])
                if not page.get("next_page"):
                    return found
                offset = page["next_page"]["offset"]

    def tasks_by_name(self) -> dict[str, dict]:
        return {task["name"]: task for task in self.tasks()}

    def move_out_by_hand(self, gid: str, to_project: str) -> None:
        """A person files the task in another project and takes it out of the sandbox's."""
        with self.api() as person:
            person.post(f"/tasks/{gid}/addProject", json={"data": {"project": to_project}}).raise_for_status()
            person.post(f"/tasks/{gid}/removeProject", json={"data": {"project": self.project_gid}}).raise_for_status()

    def stats(self) -> dict:
        return httpx.get(f"{self.server.url}/_emulator/stats").raise_for_status().json()

    def reset_stats(self) -> None:
        httpx.post(f"{self.server.url}/_emulator/reset_stats").raise_for_status()

    def write_model(self, sql: str) -> None:
        """Replace the warehouse model with the result of `sql`."""
        with duckdb.connect(str(self.warehouse)) as connection:
            connection.execute(f"CREATE OR REPLACE TABLE asana_task_model AS {sql}")

    def state_rows(self, table: str) -> list[dict]:
        with duckdb.connect(str(self.state), read_only=True) as connection:
            return connection.execute(f"SELECT * FROM {table}").df().to_dict("records")

    def sync(
        self,
        sync: dict | None = None,
        query: str | None = None,
        resources: dict | None = None,
        *,
        dry: bool = False,
        only: tuple[str, ...] = (),
    ) -> dg.ExecuteInProcessResult:
        """One run of the default sync's job (`dry`: the model and the payloads alone, a dry run;
        `only`: these assets alone, e.g. `asana_tasks` from the plan a dry run stored)."""
        from asana_sync_pipeline.definitions import build_definitions

        ops: dict = {"asana_task_payloads": {"config": sync or {}}}
        if query:
            ops["warehouse_model"] = {"config": {"query": query}}
        run_config: dict = {"ops": ops}
        if resources:
            run_config["resources"] = resources
        job = build_definitions().resolve_job_def("asana_sync_job")
        chosen = ("warehouse_model", "asana_task_payloads") if dry else only
        selection = [dg.AssetKey(name) for name in chosen] or None
        if "asana_task_payloads" not in chosen and chosen:
            ops.pop("asana_task_payloads")
        return job.execute_in_process(
            run_config=run_config, instance=self.instance, raise_on_error=False, asset_selection=selection
        )


def people(settings: EmulatorSettings) -> EmulatorSettings:
    """`settings` with a token for each person of its fixture (`with_people`): for a test that starts its own emulator."""
    return dataclasses.replace(settings, fixture=with_people(settings.load_fixture()))


@contextmanager
def exchanges_seen() -> Iterator[list[Exchange]]:
    """Every request the emulators of this process answer while the block runs (batched actions
    are seen on their own too)."""
    seen: list[Exchange] = []
    with observing(seen.append):
        yield seen


@contextmanager
def writes_seen() -> Iterator[list[tuple[str, str, object]]]:
    """Every write the emulators of this process answer while the block runs: (method, path, data sent)."""
    seen: list[tuple[str, str, object]] = []

    def observe(exchange: Exchange) -> None:
        if exchange.method != "GET" and not exchange.path.startswith("/batch"):
            sent = json.loads(exchange.request_body) if exchange.request_body else {}
            seen.append((exchange.method, exchange.path, sent.get("data") if isinstance(sent, dict) else sent))

    with observing(observe):
        yield seen


def materialization(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    """The metadata of an asset's materialization, as plain values."""
    event = result.asset_materializations_for_node(asset)[0]
    return {name: value.value for name, value in event.metadata.items()}


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    texts = []
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            if data.user_failure_data:
                texts.append(data.user_failure_data.description)
                continue
            error = data.error
            while error is not None:
                texts.append(error.message)
                error = error.cause
    return "\n".join(texts)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test process, started on first use and stopped at the end."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> Iterator[str]:
    """The URL (password included) of a fresh, empty database, dropped after the test."""
    database = postgres_server.new_database()
    yield postgres_server.url(database)
    postgres_server.drop_database(database)


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(token=TOKEN)


@pytest.fixture
def sandbox(tmp_path, monkeypatch, emulator_settings) -> Iterator[Sandbox]:
    with EmulatorServer(people(emulator_settings)) as server:
        yield Sandbox(server=server, warehouse=tmp_path / "warehouse.duckdb", state=tmp_path / "state.duckdb").bind(monkeypatch)


@pytest.fixture
def webhook(monkeypatch) -> Iterator[Webhook]:
    """A local alert webhook (fails, hangs and recovers on demand), named by the default sync's variable."""
    hook = Webhook()
    monkeypatch.setenv(WEBHOOK_ENV, hook.url)
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://dagster.example")
    yield hook
    hook.stop()


def synced(sandbox, settings=None, *, dry=False, **expect):
    """One sync run that must succeed: its `asana_tasks` metadata (a dry run: none), the plan's as `plan`, the
    checks by name as `checks`; each `expect`ed count compared (a dry run: the plan's)."""
    result = sandbox.sync(settings or {}, dry=dry)
    assert result.success, failure_text(result)
    found = {} if dry else materialization(result, "asana_tasks")
    found["plan"] = materialization(result, "asana_task_payloads")
    found["checks"] = {check.check_name: check for check in result.get_asset_check_evaluations()}
    for name, value in expect.items():
        shown = found["plan"][name] if dry else found[name]
        assert shown == value, (name, shown, {k: v for k, v in found.items() if k not in ("plan", "checks")})
    return found
