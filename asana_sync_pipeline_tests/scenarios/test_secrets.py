"""The token, the alert webhook's URL and the state's PostgreSQL password never appear in logs
(any logger, at DEBUG), Dagster's event storage, metadata, exceptions, DuckDB or PostgreSQL; a token
pasted where a project GID goes is refused without being shown."""

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from asana_sync_pipeline.definitions import build_definitions, build_resources
from asana_sync_pipeline.engine.asana.client import AsanaClient
from asana_sync_pipeline.engine.state import DuckDBStateStore, PostgresStateStore
from asana_sync_pipeline.lib.resources import AsanaResource
from asana_sync_pipeline.lib.sync_spec import AlertSettings, SyncSpec
from asana_sync_pipeline_tests.conftest import TOKEN, failure_text
from asana_sync_pipeline_tests.webhook import SECRET_PART, Sync

WRONG_STATE_PASSWORD = "Wr0ng-state-passw0rd"
REJECTED_TOKEN = "1/1200000000000010:feedfacefeedfacefeedfacefeedface"


def _files_containing(root: Path, secret: str) -> list[str]:
    needle = secret.encode()
    return [str(path) for path in root.rglob("*") if path.is_file() and needle in path.read_bytes()]


def test_no_trace_of_the_token_after_a_rejected_and_an_accepted_run(sandbox, monkeypatch, tmp_path, capfd):
    sandbox.write_model("SELECT 'a' AS id, 'Task' AS name UNION ALL SELECT 'b', ''")
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(tempdir=str(home)) as instance:
        job = build_definitions().resolve_job_def("asana_sync_job")
        monkeypatch.setenv("ASANA_ACCESS_TOKEN", REJECTED_TOKEN)
        rejected = job.execute_in_process(instance=instance, raise_on_error=False)
        assert not rejected.success
        assert "invalid personal access token" in failure_text(rejected)
        monkeypatch.setenv("ASANA_ACCESS_TOKEN", TOKEN)
        accepted = build_definitions().resolve_job_def("asana_sync_job").execute_in_process(instance=instance, raise_on_error=False)
        assert accepted.success
        messages = [str(record) for record in instance.all_logs(accepted.run_id) + instance.all_logs(rejected.run_id)]
    captured = capfd.readouterr()
    for secret in (TOKEN, REJECTED_TOKEN):
        assert secret not in captured.out + captured.err
        assert not any(secret in message for message in messages)
        assert _files_containing(home, secret) == []
        assert _files_containing(tmp_path, secret) == []


def _state_rows_text(server, database: str) -> str:
    with server.connect(database) as connection:
        tables = ("synced_tasks", "create_intents", "rejections", "sync_runs")
        return "".join(connection.execute(f"SELECT coalesce(string_agg(t::text, ''), '') FROM {table} t").fetchone()[0] for table in tables)


def test_no_trace_of_the_state_password_after_a_refused_and_an_accepted_run(sandbox, postgres_server, monkeypatch, tmp_path, capfd):
    sandbox.write_model("SELECT 'a' AS id, 'Task' AS name UNION ALL SELECT 'b', ''")
    database = postgres_server.new_database()
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(tempdir=str(home)) as instance:
        monkeypatch.setenv("SYNC_STATE_URL", postgres_server.url(database, password=WRONG_STATE_PASSWORD))
        refused = build_definitions().resolve_job_def("asana_sync_job").execute_in_process(instance=instance, raise_on_error=False)
        assert not refused.success
        assert f"Cannot connect to the sync state at {postgres_server.masked_url(database)}" in failure_text(refused)
        monkeypatch.setenv("SYNC_STATE_URL", postgres_server.url(database))
        accepted = build_definitions().resolve_job_def("asana_sync_job").execute_in_process(instance=instance, raise_on_error=False)
        assert accepted.success, failure_text(accepted)
        messages = [str(record) for record in instance.all_logs(accepted.run_id) + instance.all_logs(refused.run_id)]
    [task] = sandbox.tasks()
    captured = capfd.readouterr()
    stored = _state_rows_text(postgres_server, database)
    assert task["gid"] in stored
    for secret in (postgres_server.password, WRONG_STATE_PASSWORD):
        assert secret not in captured.out + captured.err
        assert not any(secret in message for message in messages)
        assert secret not in stored
        assert _files_containing(home, secret) == []
        assert _files_containing(tmp_path, secret) == []


def test_the_resource_hides_the_token_from_repr():
    resource = AsanaResource(access_token=TOKEN, project_gid="1")
    assert TOKEN not in repr(resource) and TOKEN not in str(resource)
    settings = resource.settings_for(SyncSpec())
    assert settings.access_token == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in repr(AsanaClient(settings))


def test_the_state_url_is_bound_by_its_variable_name_and_chooses_postgresql():
    url = "postgresql://sync:s3cret-state-password@db.internal:5432/state"
    resource = build_resources({"SYNC_STATE_URL": url})["sync_state"]
    assert isinstance(resource.url, dg.EnvVar) and resource.url.env_var_name == "SYNC_STATE_URL"
    assert "s3cret" not in repr(resource)
    assert isinstance(build_resources({})["sync_state"].store(), DuckDBStateStore)
    store = resource.model_copy(update={"url": url}).store()
    assert isinstance(store, PostgresStateStore) and store.location == "postgresql://sync:***@db.internal:5432/state"


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def every_log_record() -> Iterator[list[logging.LogRecord]]:
    """Every record any logger of this process makes while the block runs, at DEBUG: the root, the
    HTTP clients' own loggers (set to DEBUG themselves, as a user chasing a problem would), and the
    loggers that do not pass their records up."""
    handler = _Everything()
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in ("httpx", "httpcore"))]
    loggers += [logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger) and not logger.propagate]
    levels = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        for logger, level in levels:
            logger.setLevel(level)
            logger.removeHandler(handler)


def _record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write of a record: its message, its arguments, its extras."""
    return f"{record.getMessage()} {record.args!r} {vars(record)!r}"


def test_no_log_record_at_debug_holds_the_token_or_the_webhook_url(sandbox, webhook, capfd):
    sandbox.write_model("SELECT 'k' || i AS id, 'Task ' || i AS name FROM range(3) t(i)")
    sync = Sync(sandbox, AlertSettings())
    with every_log_record() as records:
        failed = sync.run(query="SELECT * FROM no_such_model")
        sync.tick()
        assert sync.run().success, "a real sync: the connection test, reads and three creates against the emulator"
        sync.tick()
    assert not failed.success and len(webhook.texts()) == 2, "two alerts posted: failed, then recovered"
    assert len(sandbox.tasks()) == 3
    port = webhook.url.split("/")[2]
    assert any(record.getMessage().startswith(f"HTTP Request: POST http://{port}/… ") for record in records), "httpx's line, its path hidden"
    captured = capfd.readouterr()
    for secret in (TOKEN, webhook.url, SECRET_PART):
        leaks = [_record_text(record) for record in records if secret in _record_text(record)]
        assert leaks == [], leaks[:3]
        assert secret not in captured.out + captured.err


PASTED_TOKEN = "2/1200000000000010/1209999999999999:0123456789abcdef0123456789abcdef"


def test_a_token_pasted_as_the_project_gid_is_refused_without_being_shown(sandbox, monkeypatch, tmp_path):
    """On the command line, in a run (its stored logs) and loading a YAML sync (`dg check defs`)."""
    sandbox.write_model("SELECT 'a' AS id, 'Task' AS name")
    done = subprocess.run(
        [sys.executable, "-m", "asana_sync_pipeline", "--sync", "default"],
        env={**os.environ, **sandbox.environment(ASANA_PROJECT_GID=PASTED_TOKEN)}, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("Configuration error: Project GID must contain only digits")
    assert "not shown" in done.stderr and "ASANA_ACCESS_TOKEN" in done.stderr
    shown = [done.stdout + done.stderr]

    monkeypatch.setenv("ASANA_PROJECT_GID", PASTED_TOKEN)
    run = sandbox.sync()
    assert not run.success and "Project GID must contain only digits" in failure_text(run)
    shown += [failure_text(run), *(str(record) for record in sandbox.instance.all_logs(run.run_id))]

    root = tmp_path / "project"
    (root / "pasted" / "defs" / "launches").mkdir(parents=True)
    (root / "pasted" / "__init__.py").write_text("")
    (root / "pasted" / "definitions.py").write_text(
        "from pathlib import Path\n\nimport dagster as dg\n\n\n@dg.definitions\ndef defs():\n"
        "    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent.parent)\n"
    )
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [tool.dg]
            directory_type = "project"
            [tool.dg.project]
            root_module = "pasted"
            defs_module = "pasted.defs"
            registry_modules = ["asana_sync_pipeline"]
            """
        )
    )
    (root / "pasted" / "defs" / "launches" / "defs.yaml").write_text(
        "type: asana_sync_pipeline.AsanaSyncComponent\nattributes:\n  name: launches\n"
        f"  model: {{query: SELECT 1 AS id}}\n  project_gid: '{PASTED_TOKEN}'\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    checked = subprocess.run(
        [str(Path(sys.executable).with_name("dg")), "check", "defs"], cwd=root, env=env, capture_output=True, text=True, timeout=180
    )
    assert checked.returncode != 0
    assert "sync 'launches': project_gid must contain only digits" in checked.stdout + checked.stderr
    shown.append(checked.stdout + checked.stderr)
    for text in shown:
        assert PASTED_TOKEN not in text and "0123456789abcdef" not in text


@pytest.mark.parametrize("value", ["12ab", "Customer Success"])
def test_a_project_gid_that_cannot_be_a_secret_is_still_shown(sandbox, monkeypatch, value):
    sandbox.write_model("SELECT 'a' AS id, 'Task' AS name")
    monkeypatch.setenv("ASANA_PROJECT_GID", value)
    run = sandbox.sync()
    assert f"Project GID must contain only digits, got {value!r}" in failure_text(run)
