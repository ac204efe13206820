"""`SyncSpec`: everything that makes one sync what it is, and the Dagster names it gets.

The default sync (configured from the environment) and every `AsanaSyncComponent`
instance become a `SyncSpec`; `factory.build_sync_definitions` turns each into
the same assets, checks, job, schedule and sensor. The default sync keeps the
unprefixed names of the public interface; a sync named N gets assets under the
key prefix N, group N, and `N_`-prefixed job, schedule and sensor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from ..engine import DEFAULT_SYNC, DEFAULT_TOKEN_ENV, SyncConfigError, SyncSettings, check_gid, environment, table_parts

DEFAULT_QUERY = "SELECT * FROM asana_task_model"
OUTCOME_ROLES = ("asana_task_outcomes", "asana_task_history", "asana_sync_log")
DEFAULT_GROUP = "asana_sync"
DEFAULT_WEBHOOK_ENV = environment.ALERT_WEBHOOK_URL.name
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class AlertSettings:
    """Where a sync's alerts go and when (see `alerts`): the variable holding the webhook URL (a
    secret: never the URL itself), how many tasks edited in Asana in one run call for an alert, and
    how often the alert sensor looks at finished runs."""

    webhook_url_env: str = DEFAULT_WEBHOOK_ENV
    edits_over: int = 25
    interval_seconds: int = 15

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.webhook_url_env or ""):
            raise SyncConfigError(
                "alerts: webhook_url_env must name an environment variable (letters, digits and underscores, such as "
                f"{DEFAULT_WEBHOOK_ENV}); the URL itself never goes in YAML"
            )
        if self.edits_over < 0 or self.interval_seconds < 1:
            raise SyncConfigError("alerts: edits_over must be 0 or more and interval_seconds at least 1")


@dataclass(frozen=True)
class SyncSpec:
    """One sync: where its rows come from, where its tasks go, its settings and automation.

    `project_gid=None` (the default sync) means the `asana` resource's project. The model is one of
    `model_query` (run against the warehouse by the sync's own `warehouse_model`), `model_asset` (an
    upstream asset, `a/b`: the table it materializes, read from the warehouse, or the DataFrame it
    returns) or `model_table` (a table of the warehouse, `schema.name`); `model_deps` are the assets a
    query or a table is built by, upstream of the sync in lineage."""

    name: str = DEFAULT_SYNC
    model_query: str | None = DEFAULT_QUERY
    model_asset: str | None = None
    model_table: str | None = None
    model_deps: tuple[str, ...] = ()
    project_gid: str | None = None
    access_token_env: str = DEFAULT_TOKEN_ENV
    settings: dict[str, Any] = field(default_factory=dict)
    schedule: str | None = None
    sensor: bool = False
    description: str | None = None
    alerts: AlertSettings | None = None
    read_files_in: tuple[str, ...] = ()
    """Folders whose files the model query may read (`engine.model.access`); none by default."""
    outcomes_schedule: str | None = None
    """Cron of the outcomes' refresh (`asana_outcomes_schedule`); None: no schedule."""

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name or ""):
            raise SyncConfigError(
                f"sync name {self.name!r} must start with a lowercase letter and hold only lowercase letters, "
                "digits and underscores (it prefixes asset keys, job and schedule names)"
            )
        if sum(given is not None for given in (self.model_query, self.model_asset, self.model_table)) != 1:
            raise SyncConfigError(f"sync {self.name!r}: give the model as one of a query, an upstream asset or a table")
        if self.model_asset is not None and self.model_deps:
            raise SyncConfigError(
                f"sync {self.name!r}: deps go with a query or a table; an upstream asset is the model's only upstream"
            )
        if self.model_table is not None:
            table_parts(self.model_table)
        if self.model_query is not None and not self.model_query.strip():
            raise SyncConfigError(f"sync {self.name!r}: the model query is empty")
        if self.project_gid is not None:
            object.__setattr__(
                self,
                "project_gid",
                check_gid(self.project_gid, f"sync {self.name!r}: project_gid", hint="Copy the number after /0/ in the project's URL."),
            )
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.access_token_env or ""):
            raise SyncConfigError(
                f"sync {self.name!r}: access_token_env must name an environment variable (letters, digits and "
                f"underscores, such as {DEFAULT_TOKEN_ENV}); what it holds is not shown, in case it is a token: "
                "the token itself never goes in YAML"
            )
        if self.read_files_in and self.model_query is None:
            raise SyncConfigError(
                f"sync {self.name!r}: read_files_in applies to a model query; this sync's model is an asset or a table"
            )
        self.sync_settings()

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_SYNC

    def sync_settings(self, overrides: dict[str, Any] | None = None) -> SyncSettings:
        """The validated sync settings, with a run's overrides applied."""
        values = {**self.settings, **(overrides or {})}
        return SyncSettings(**values)

    # ---- Dagster names ------------------------------------------------------------

    @property
    def key_prefix(self) -> list[str]:
        return [] if self.is_default else [self.name]

    @property
    def group_name(self) -> str:
        return DEFAULT_GROUP if self.is_default else self.name

    def _prefixed(self, name: str) -> str:
        return name if self.is_default else f"{self.name}_{name}"

    @property
    def job_name(self) -> str:
        return self._prefixed("asana_sync_job")

    @property
    def dry_run_job_name(self) -> str:
        return self._prefixed("asana_dry_run_job")

    @property
    def alert_sensor_name(self) -> str:
        return self._prefixed("asana_sync_alerts")

    @property
    def schedule_name(self) -> str:
        return self._prefixed("asana_sync_schedule")

    @property
    def sensor_name(self) -> str:
        return "warehouse_model_sensor" if self.is_default else f"{self.name}_model_sensor"

    @property
    def connection_test_name(self) -> str:
        return "asana_connection_test" if self.is_default else f"{self.name}_asana_connection_test"

    @property
    def pool(self) -> str:
        """The concurrency pool of the sync's writes: one per token variable, so that syncs on one token
        take turns (its limits are shared across processes too) and syncs on different tokens do not wait."""
        return f"asana_token_{self.access_token_env.lower()}"

    @property
    def outcomes_job_name(self) -> str:
        return self._prefixed("asana_outcomes_job")

    @property
    def outcomes_schedule_name(self) -> str:
        return self._prefixed("asana_outcomes_schedule")

    @property
    def outcomes_schema(self) -> str:
        """The warehouse schema of the sync's outcome tables: the default sync's `asana_sync`, else its name."""
        return DEFAULT_GROUP if self.is_default else self.name

    @property
    def roles(self) -> list[str]:
        """The sync's own assets, in order (`warehouse_model` only when the model is a query)."""
        return ["warehouse_model", "asana_task_payloads", "asana_tasks"][1 if self.model_query is None else 0 :]

    @property
    def outcome_roles(self) -> list[str]:
        """The sync's outcome assets, below `asana_tasks`."""
        return list(OUTCOME_ROLES)

    def asset_key(self, role: str) -> dg.AssetKey:
        """The key of one of the sync's assets (`N/asana_tasks`)."""
        return dg.AssetKey([*self.key_prefix, role])

    @property
    def own_asset_keys(self) -> list[dg.AssetKey]:
        return [self.asset_key(role) for role in self.roles]

    @property
    def outcome_asset_keys(self) -> list[dg.AssetKey]:
        return [self.asset_key(role) for role in self.outcome_roles]

    def op_name(self, asset: str) -> str:
        """The op of one of the sync's assets, as run config addresses it (`N__asana_task_payloads`)."""
        return "__".join([*self.key_prefix, asset])

    @property
    def model_asset_key(self) -> list[str] | None:
        return asset_key_path(self.model_asset) if self.model_asset else None

    @property
    def upstream_keys(self) -> list[dg.AssetKey]:
        """The assets directly above the sync's first own asset: the model asset, or the model's deps."""
        return [dg.AssetKey(asset_key_path(key)) for key in ([self.model_asset] if self.model_asset else self.model_deps)]

    @property
    def model_label(self) -> str:
        """The model as the sync's messages name it."""
        if self.model_asset:
            return f"asset {self.model_asset}"
        return f"table {self.model_table}" if self.model_table else "query"


def asset_key_path(key: str) -> list[str]:
    """An asset key as YAML gives it (`marts/churn_risk`) in its parts."""
    return [part for part in key.split("/") if part]
