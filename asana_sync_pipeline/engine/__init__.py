"""The sync engine: warehouse rows in, Asana tasks out, exactly once; no Dagster.

This module is the engine's face: what the Dagster layer, the command line and any other
orchestrator need, in one `__all__`. They import from here, never from the stages below
(a test holds them to it), so the stages can change shape without touching them.

The stages, in the order a row travels (docs/architecture.md numbers them the same way):
1. `model`: read the warehouse's model (`read_model`, on `model_connection`);
2. `fields`: map columns to Asana fields, check each value, resolve names;
3. `planning`: one operation per row, the guards (`read_guards`);
4. `asana`: the HTTP client, paced and retried;
5. `observing`: what people did in Asana since the last run;
6. `writing`: creates (exactly once), updates, removals, comments;
7. `state`: which task each row became (`StateStore`, `open_state_store`);
8. `outcomes`: what became of each task, kept fresh and given back as tables (`outcome_tables`);
and `runner` runs them in order (`plan_sync`, `run_sync`). Imports point down the layers
(foundation, `asana`, `model`, `state`, `fields`, `planning`, `observing`, `writing`,
`outcomes`, `runner`), never back up.

    plan = plan_sync(read_model(connection, query), settings, store=store, scope=scope, asana=asana)
    info, report = run_sync(plan, asana=asana, scope=scope, store=store, run_id=run_id, log=print)
"""

from . import environment
from .asana.connection import ConnectionInfo
from .duckdb_files import connect as connect_duckdb
from .errors import AsanaSyncError, GuardError, ModelQueryRefused, SyncConfigError
from .fields.rule_selection import NAMED_FIELDS
from .fields.value_rules import CUSTOM_FIELD_PREFIX, PARENT_KEY
from .http_logs import quiet_http_logs
from .json_text import dumps as json_text
from .log import Log, counted
from .model.access import model_connection
from .model.warehouse import (
    check_warehouse_file,
    count_rows,
    model_fingerprint,
    read_model,
    resolve_table,
    table_parts,
    table_query,
    tables_read,
)
from .outcomes.frames import OUTCOME_COLUMNS, OutcomeTables, outcome_tables
from .outcomes.refresh import OutcomeReading
from .planning import (
    COMPLETE,
    DELETE,
    EMPTY_KEY,
    NAME_REQUIRED,
    PLAN_FORMAT,
    REPEATED_KEY,
    Edit,
    Guard,
    GuardReading,
    Operation,
    Plan,
    Planned,
    PlannedRow,
    RebuildPreview,
    read_guards,
)
from .planning.extras import extras_of
from .runner import plan_sync, refresh_outcomes_now, run_sync, test_connection
from .settings import DEFAULT_BASE_URL, DEFAULT_TOKEN_ENV, SYNC_MODES, AsanaSettings, FieldPolicy, SyncSettings, check_gid, positive_int
from .state import DEFAULT_SYNC, StateStore, SyncScope, open_state_store, utc_now
from .state.postgres_url import PostgresURL
from .writing.field_requests import requests_for
from .writing.report import SyncReport

__all__ = [
    "environment",
    "COMPLETE",
    "CUSTOM_FIELD_PREFIX",
    "DEFAULT_BASE_URL",
    "DEFAULT_SYNC",
    "DEFAULT_TOKEN_ENV",
    "DELETE",
    "EMPTY_KEY",
    "NAMED_FIELDS",
    "NAME_REQUIRED",
    "OUTCOME_COLUMNS",
    "PARENT_KEY",
    "PLAN_FORMAT",
    "REPEATED_KEY",
    "SYNC_MODES",
    "AsanaSettings",
    "AsanaSyncError",
    "ConnectionInfo",
    "Edit",
    "FieldPolicy",
    "Guard",
    "GuardError",
    "GuardReading",
    "Log",
    "ModelQueryRefused",
    "Operation",
    "OutcomeReading",
    "OutcomeTables",
    "Plan",
    "Planned",
    "PlannedRow",
    "RebuildPreview",
    "PostgresURL",
    "StateStore",
    "SyncConfigError",
    "SyncReport",
    "SyncScope",
    "SyncSettings",
    "check_gid",
    "connect_duckdb",
    "check_warehouse_file",
    "count_rows",
    "counted",
    "extras_of",
    "json_text",
    "model_connection",
    "model_fingerprint",
    "open_state_store",
    "outcome_tables",
    "plan_sync",
    "positive_int",
    "quiet_http_logs",
    "read_guards",
    "read_model",
    "refresh_outcomes_now",
    "requests_for",
    "resolve_table",
    "run_sync",
    "table_parts",
    "table_query",
    "tables_read",
    "test_connection",
    "utc_now",
]
