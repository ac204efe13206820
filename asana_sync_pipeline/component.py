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
DuckDB, or `asset`, an upstream Dagster asset holding a DataFrame), its project,
the environment variable holding its token, every sync setting of
`asana_task_payloads` under the same name, and its automation. Each instance
goes through the same factory as the default sync.
"""

from __future__ import annotations

import functools
from typing import Any

import dagster as dg
from dagster.components.component.component_scaffolder import Scaffolder
from dagster.components.component_scaffolding import scaffold_component
from dagster.components.scaffold.scaffold import ScaffoldRequest, scaffold_with
import warnings

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from .config import setting_fields
from .engine.errors import AsanaSyncError, SyncConfigError
from .engine.settings import DEFAULT_TOKEN_ENV, SyncSettings
from .factory import build_sync_definitions
from .sync_spec import DEFAULT_GROUP, DEFAULT_SYNC, SyncSpec

RESERVED_NAMES = {
    DEFAULT_SYNC: "belongs to the default sync (its state and its unprefixed names)",
    DEFAULT_GROUP: "belongs to the default sync (its state and its unprefixed names)",
    "warehouse": "belongs to the default sync (its sensor is warehouse_model_sensor)",
}


class ModelSource(dg.Model):
    """Where a sync's rows come from: exactly one of `query` or `asset`."""

    query: str | None = Field(default=None, description="SQL run against the warehouse DuckDB; one row per task.")
    asset: str | None = Field(
        default=None, description="Key of an upstream asset whose value is a pandas DataFrame, e.g. `marts/churn_risk`."
    )

    @model_validator(mode="after")
    def exactly_one(self) -> ModelSource:
        if (self.query is None) == (self.asset is None):
            raise ValueError("model needs exactly one of `query` or `asset`")
        return self


class Attributes(dg.Model):
    """YAML attributes: unknown keys are errors; a GID written as a bare number is still its digits."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


SyncSettingsAttributes = create_model("SyncSettingsAttributes", __base__=Attributes, **setting_fields({}))
"""Every sync setting of `asana_task_payloads`, as a YAML attribute of the same name."""


class AsanaSyncScaffolder(Scaffolder):
    """`dg scaffold defs asana_sync_pipeline.AsanaSyncComponent <folder>` writes a defs.yaml to fill in."""

    def scaffold(self, request: ScaffoldRequest) -> None:
        name = request.target_path.name.replace("-", "_").lower()
        scaffold_component(
            request,
            {
                "name": name,
                "model": {"query": f"SELECT * FROM {name}"},
                "project_gid": "",
                "primary_key": "id",
            },
        )


# The attribute `model` (its public YAML name) shadows `Resolvable.model`; pydantic keeps fields out of
# the class namespace, so `AsanaSyncComponent.model()` still resolves to Resolvable's. Say nothing of it.
warnings.filterwarnings("ignore", message='Field name "model" in "AsanaSyncComponent" shadows', category=UserWarning)


@scaffold_with(AsanaSyncScaffolder)
class AsanaSyncComponent(dg.Component, SyncSettingsAttributes, dg.Resolvable):
    """A warehouse model kept in step with an Asana project: a task per row, created once, updated when the row changes."""

    name: str = Field(description="Lowercase letters, digits and underscores; prefixes the sync's assets, job and schedule.")
    model: ModelSource = Field(description="`{query: SQL}` or `{asset: key/path}`.")
    project_gid: str | None = Field(description="GID of the Asana project receiving the tasks (digits only).")
    access_token_env: str = Field(
        default=DEFAULT_TOKEN_ENV, description="Name of the environment variable holding the token (never the token)."
    )
    schedule: str | None = Field(default=None, description="Cron on which to run the sync (off until enabled in the UI).")
    sensor: bool = Field(default=False, description="Run the sync when its model changes (off until enabled in the UI).")

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        """The model Dagster validates a defs.yaml against: the one it derives from this class, which
        first names unknown attributes without quoting their values (a token pasted into YAML must
        not reach a log, and pydantic's own error would quote it)."""
        return _attributes_model(cls)

    def spec(self) -> SyncSpec:
        if self.name in RESERVED_NAMES:
            raise SyncConfigError(f"the name {self.name!r} {RESERVED_NAMES[self.name]}; choose another")
        if not (self.project_gid or "").strip():
            raise SyncConfigError(
                f"sync {self.name!r}: project_gid is empty (or reads an environment variable that is unset): write "
                "the project's GID, the number after /0/ in its URL"
            )
        settings: dict[str, Any] = {name: getattr(self, name) for name, *_ in SyncSettings.described()}
        return SyncSpec(
            name=self.name,
            model_query=self.model.query,
            model_asset=self.model.asset,
            project_gid=str(self.project_gid),
            access_token_env=self.access_token_env,
            settings=settings,
            schedule=self.schedule,
            sensor=self.sensor,
        )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        try:
            spec = self.spec()
            _check_against_other_syncs(self, context)
        except AsanaSyncError as exc:
            raise AsanaSyncError(f"{context.path}: {exc}") from None
        return build_sync_definitions(spec)


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
    key_field = getattr(sync, "sync_key_field", None)
    sharing = sorted(
        other.name
        for other in others
        if key_field and getattr(other, "sync_key_field", None) == key_field and str(other.project_gid) == str(sync.project_gid)
    )
    if sharing:
        raise SyncConfigError(
            f"syncs {', '.join(repr(name) for name in sorted([sync.name, *sharing]))} write their keys to the same sync_key_field "
            f"{key_field} of project {sync.project_gid}: rebuilding its state, each would adopt the other's tasks. "
            "Give each sync its own text custom field"
        )


@functools.cache
def _attributes_model(component: type[AsanaSyncComponent]) -> type[BaseModel]:
    derived = component.model()

    class AsanaSyncAttributes(derived):  # type: ignore[misc, valid-type]
        @model_validator(mode="before")
        @classmethod
        def known_attributes_only(cls, data: Any) -> Any:
            """An `AsanaSyncError`, which pydantic passes on as it is instead of quoting the input."""
            if isinstance(data, dict):
                unknown = sorted(str(name) for name in set(data) - set(cls.model_fields))
                if unknown:
                    hint = " A token never goes in YAML: name the variable holding it with access_token_env." if any(
                        "token" in name.lower() for name in unknown
                    ) else ""
                    raise AsanaSyncError(
                        f"unknown attribute(s) {', '.join(unknown)}; attributes are: {', '.join(cls.model_fields)}.{hint}"
                    )
            return data

    return AsanaSyncAttributes
