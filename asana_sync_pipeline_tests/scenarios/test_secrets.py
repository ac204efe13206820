"""The token, the alert webhook's URL and the state's PostgreSQL password never appear in logs
(any logger, at DEBUG), Dagster's event storage, metadata, exceptions, DuckDB or PostgreSQL."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

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

