"""`AsanaSyncComponent`: one sync declared in YAML (`defs/<folder>/defs.yaml`).

    type: asana_sync_pipeline.AsanaSyncComponent
    attributes:
      name: data_checks
      model:
        query: SELECT * FROM failed_data_checks
      project_gid: "1200000000000120"
      primary_key: check_id
      schedule: "*/30 * * * *"

The attributes are the sync's name, its model (`query` against the `warehouse`
DuckDB; `asset`, an upstream Dagster asset: the table it materializes, a dbt model say, or the
DataFrame it returns; or `table`, a table of the warehouse, with the assets that build it as
`deps`), its project,
the environment variable holding its token, every sync setting of
`asana_task_payloads` under the same name, and its automation. Each instance
goes through the same factory as the default sync, and binds the resources the sync uses
(`asana`, `warehouse`, `sync_state`, `asana_sync_io_manager`, from the environment), so that it
loads and runs in any Dagster project where this package is installed.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Annotated, Any

import dagster as dg
from dagster.components.scaffold.scaffold import scaffold_with
from dagster.components.utils.translation import TranslationFn, TranslationFnResolver
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from ...engine import DEFAULT_TOKEN_ENV, AsanaSyncError, SyncConfigError
from ...lib.assets import SyncAssetBodies
from ...lib.bindings import default_sync_resources
from ...lib.config import SyncSettingsFields
from ...lib.factory import build_sync_definitions
from ...lib.sync_spec import DEFAULT_GROUP, DEFAULT_SYNC, AlertSettings, SyncSpec
from .load_errors import unknown_attributes
from .scaffolder import AsanaSyncScaffolder

RESERVED_NAMES = {
    DEFAULT_SYNC: "belongs to the default sync (its state and its unprefixed names)",
    DEFAULT_GROUP: "belongs to the default sync (its state and its unprefixed names)",
    "warehouse": "belongs to the default sync (its sensor is warehouse_model_sensor)",
}


class ModelSource(dg.Model):
    """Where a sync's rows come from: exactly one of `query`, `asset` or `table`."""

    query: str | None = Field(default=None, description="SQL run against the warehouse DuckDB; one row per task.")
    asset: str | None = Field(
        default=None,
        description=(
            "Key of an upstream asset, e.g. `marts/churn_risk`: the table it materializes (a dbt model, a Sling or dlt "
            "table, an asset with dagster/table_name metadata), read from the warehouse, or the pandas DataFrame it returns."
        ),
    )
    table: str | None = Field(
        default=None, description="A table of the warehouse DuckDB, `schema.name` (or `name`), read whole; one row per task."
    )
    deps: list[str] | None = Field(
        default=None,
        description="Keys of the assets that build the query's or the table's data: upstream of the sync in lineage.",
    )
    read_files_in: list[str] | None = Field(
        default=None,
        description=(
            "Folders whose files (Parquet, CSV) the query may read; none by default. Trusts whoever can write this "
            "sync's queries, its run config included, with every file in them."
        ),
    )

    @model_validator(mode="after")
    def exactly_one(self) -> ModelSource:
        if sum(given is not None for given in (self.query, self.asset, self.table)) != 1:
            raise ValueError("model needs exactly one of `query`, `asset` or `table`")
        return self


class Alerts(dg.Model):
    """Where a sync's alerts go: the variable holding the webhook URL (never the URL), and how many
    tasks edited in Asana in one run call for an alert."""

    webhook_url_env: str = Field(description="Name of the environment variable holding the webhook URL (Slack's shape).")
    edits_over: int = Field(default=25, description="Alert when more tasks than this were edited in Asana in one run.")


def _as_given(_: dg.ResolutionContext, source: ModelSource) -> ModelSource:
    return source




@scaffold_with(AsanaSyncScaffolder)
class AsanaSyncComponent(dg.Component, dg.Resolvable, dg.Model, SyncSettingsFields, SyncAssetBodies):
    """A warehouse model kept in step with an Asana project: a task per row, created once, updated when the row changes.

    Attributes (YAML):
        name: lowercase letters, digits and underscores; prefixes the sync's assets, job and schedule.
        model: `{query: SQL}` against the `warehouse` DuckDB, `{asset: key/path}`, an upstream asset (the
            table it materializes, or the DataFrame it returns), or `{table: schema.name, deps: [key/path]}`.
        project_gid: the Asana project receiving the tasks.
        access_token_env: the environment variable holding the token (never the token).
        schedule, sensor: the sync's automation, off until enabled in the UI.
        translation: Dagster's asset attributes (owners, tags, automation_condition, ...) for each of
            the sync's assets, as in dagster-sling and dagster-dlt; `{{ data }}` is the asset's role.
        sync_mode, primary_key, field_mapping, ...: every sync setting (docs/configuration.md).

    A team changes what a sync's assets do by subclassing it and overriding a method of
    `SyncAssetBodies`: `get_asset_spec` (asset attributes; `translation` applies first), `read_model`,
    `plan` or `execute` (the bodies of `warehouse_model`, `asana_task_payloads` and `asana_tasks`),
    then naming the subclass as `type:` in defs.yaml (docs/configuration.md, "Subclassing the component")."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    name: str = Field(description="Lowercase letters, digits and underscores; prefixes the sync's assets, job and schedule.")
    model_source: Annotated[
        ModelSource,
        dg.Resolver(
            _as_given,
            model_field_name="model",
            description="`{query: SQL}`, `{asset: key/path}` or `{table: schema.name, deps: [key/path]}`.",
        ),
    ]
    """YAML `model` (a field of that name would shadow `Resolvable.model`)."""
    project_gid: str | None = Field(
        description="GID of the Asana project receiving the tasks (digits only).",
        json_schema_extra={"minLength": 1},  # `dg check yaml` points at an empty one; loading says what to write
    )
    access_token_env: str = Field(
        default=DEFAULT_TOKEN_ENV, description="Name of the environment variable holding the token (never the token)."
    )
    schedule: str | None = Field(default=None, description="Cron on which to run the sync (off until enabled in the UI).")
    sensor: bool = Field(default=False, description="Run the sync when its model changes (off until enabled in the UI).")
    outcomes_schedule: str | None = Field(
        default=None,
        description="Cron on which to refresh what became of the sync's tasks in the warehouse (off until enabled in the UI).",
    )
    alerts: Alerts | None = Field(
        default=None,
        description="`{webhook_url_env: NAME}`: post to that webhook once per change of the sync's state, and on recovery.",
    )
    translation: Annotated[TranslationFn[str], TranslationFnResolver[str](lambda role: {"data": role})] | None = None
    """Asset attributes for each of the sync's assets, given as in dagster-sling and dagster-dlt:
    a mapping (`owners`, `tags`, `automation_condition`, `group_name`, ...) or a template returning
    one; `{{ data }}` is the asset's role (`warehouse_model`, `asana_task_payloads`, `asana_tasks`)."""

    _path: Path | None = PrivateAttr(default=None)
    """The defs.yaml folder this instance was loaded from (for messages)."""

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        """The model Dagster validates a defs.yaml against (see `_refusing_unknown_attributes`)."""
        return _refusing_unknown_attributes(cls.model())

    def spec(self, unset_variables: list[str] | None = None) -> SyncSpec:
        """The sync as the factory takes it; `unset_variables`: those its YAML reads that are not set
        (named when a value turns out empty)."""
        if self.name in RESERVED_NAMES:
            raise SyncConfigError(f"the name {self.name!r} {RESERVED_NAMES[self.name]}; choose another")
        if not (self.project_gid or "").strip():
            unset = f": {', '.join(unset_variables)}" if unset_variables else ""
            raise SyncConfigError(
                f"sync {self.name!r}: project_gid is empty (or reads an environment variable that is unset{unset}): "
                "write the project's GID, the number after /0/ in its URL"
            )
        return SyncSpec(
            name=self.name,
            model_query=self.model_source.query,
            model_asset=self.model_source.asset,
            model_table=self.model_source.table,
            model_deps=tuple(self.model_source.deps or ()),
            project_gid=str(self.project_gid),
            access_token_env=self.access_token_env,
            settings=self.given_settings(),
            schedule=self.schedule,
            sensor=self.sensor,
            alerts=AlertSettings(self.alerts.webhook_url_env, self.alerts.edits_over) if self.alerts else None,
            read_files_in=tuple(self.model_source.read_files_in or ()),
            outcomes_schedule=self.outcomes_schedule,
        )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        try:
            spec = self.spec(_unset_variables(context.path))
            _check_against_other_syncs(self, context)
        except AsanaSyncError as exc:
            raise AsanaSyncError(f"{context.path}: {exc}") from None
        self._path = context.path
        return dg.Definitions.merge(
            build_sync_definitions(spec, bodies=self), dg.Definitions(resources=default_sync_resources(context.project_root))
        )

    def get_asset_spec(self, asset_spec: dg.AssetSpec, role: str) -> dg.AssetSpec:
        """One of the sync's assets with the YAML's `translation`; its key stays, since the sync's
        jobs, checks and state name it. Override (calling `super()`) to set attributes in code."""
        if self.translation is None:
            return asset_spec
        translated = self.translation(asset_spec, role)
        if translated.key != asset_spec.key:
            raise SyncConfigError(
                f"{self._path}: translation changes the key of {asset_spec.key.to_user_string()} to "
                f"{translated.key.to_user_string()}; a sync's asset keys are fixed (its name prefixes them): set the "
                "other attributes (owners, tags, automation_condition, group_name, ...) here"
            )
        return translated


ENV_TEMPLATE = re.compile(r"""\{\{\s*env(?:\.(\w+)|\(\s*['"](\w+)['"]\s*\))""")


def _unset_variables(folder: Path) -> list[str]:
    """The environment variables a sync's defs.yaml reads through Dagster's `env` template and
    that are unset or empty (Dagster renders them as empty before the component sees them)."""
    found = [path for path in (folder / "defs.yaml", folder / "defs.yml") if path.is_file()]
    names = {first or second for path in found for first, second in ENV_TEMPLATE.findall(path.read_text())}
    return sorted(name for name in names if not os.environ.get(name))


def _check_against_other_syncs(sync: AsanaSyncComponent, context: dg.ComponentLoadContext) -> None:
    """Two syncs of one name would share their state and their assets (say so before Dagster reports
    a duplicate asset key); two syncs writing their keys to one field of one project would adopt
    each other's tasks when they rebuild their state."""
    others = [other for other in context.component_tree.get_all_components(AsanaSyncComponent) if other is not sync]
    twins = [other for other in others if other.name == sync.name]
    if twins:
        raise SyncConfigError(
            f"{len(twins) + 1} syncs are named {sync.name!r}; each needs its own name (its state, assets and jobs are "
            "keyed by it)"
        )
    key_field = sync.sync_key_field
    sharing = sorted(
        other.name
        for other in others
        if key_field and other.sync_key_field == key_field and str(other.project_gid) == str(sync.project_gid)
    )
    if sharing:
        raise SyncConfigError(
            f"syncs {', '.join(repr(name) for name in sorted([sync.name, *sharing]))} write their keys to the same sync_key_field "
            f"{key_field} of project {sync.project_gid}: rebuilding its state, each would adopt the other's tasks. "
            "Give each sync its own text custom field"
        )


def _unknown_attributes_load_refuses(schema: dict[str, Any]) -> None:
    """The schema `dg check yaml` applies lets unknown attributes pass: it would print the offending
    YAML line, value and all, and a token pasted into YAML must not reach a terminal or a CI log.
    Loading refuses them by name, without their values."""
    schema["additionalProperties"] = True


@functools.cache
def _refusing_unknown_attributes(derived: type[BaseModel]) -> type[BaseModel]:
    """The model Dagster derives from the component's fields, refusing unknown attributes by name.

    Why a subclass at all: Dagster reports pydantic's own error for an unknown attribute, which
    quotes the attribute's value, and a token pasted into YAML must not reach a log. This one
    raises an `AsanaSyncError` instead, which pydantic passes on as it is."""

    class AsanaSyncAttributes(derived):  # type: ignore[misc, valid-type]
        model_config = ConfigDict(coerce_numbers_to_str=True, json_schema_extra=_unknown_attributes_load_refuses)

        @model_validator(mode="before")
        @classmethod
        def known_attributes_only(cls, data: Any) -> Any:
            if isinstance(data, dict):
                unknown = sorted(str(name) for name in set(data) - set(cls.model_fields))
                if unknown:
                    raise AsanaSyncError(unknown_attributes(data, unknown, list(cls.model_fields)))
            return data

    return AsanaSyncAttributes
