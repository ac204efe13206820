"""Run config of a sync's assets, generated from the engine's `SyncSettings`.

One list of settings (`SyncSettings.described()`) feeds the Launchpad schema of
`asana_task_payloads`, the component's YAML attributes and the engine: a new
setting is added in one place. Each sync gets config classes whose defaults are
its own settings, so the Launchpad shows what the sync will do.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import dagster as dg
from pydantic import Field, create_model

from .engine.settings import SyncSettings
from .sync_spec import SyncSpec


class ModelQueryConfig(dg.Config):
    query: str = Field(description="SQL run against the warehouse DuckDB; one row per task.")


class SyncConfig(dg.Config):
    """The sync settings of one run; `settings()` validates them."""

    def settings(self) -> SyncSettings:
        return SyncSettings(**self.model_dump())


def config_type(annotation: Any) -> Any:
    """Enums are typed as their values in run config (`upsert`, not `SyncMode.UPSERT`)."""
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return str
    return annotation


def config_default(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def setting_fields(defaults: dict[str, Any]) -> dict[str, Any]:
    """Pydantic field definitions for every sync setting, with `defaults` replacing the engine's."""
    definitions = {}
    for name, annotation, default, description in SyncSettings.described():
        value = config_default(defaults.get(name, default))
        definitions[name] = (config_type(annotation), Field(default=value, description=description))
    return definitions


def _class_name(spec: SyncSpec, suffix: str) -> str:
    return "".join(part.capitalize() for part in spec.name.split("_")) + suffix


def sync_config_class(spec: SyncSpec) -> type[SyncConfig]:
    """`ops.<payloads op>.config` of this sync, defaulting to the sync's own settings."""
    defaults = {name: getattr(spec.sync_settings(), name) for name, *_ in SyncSettings.described()}
    return create_model(_class_name(spec, "SyncConfig"), __base__=SyncConfig, **setting_fields(defaults))


def model_query_config_class(spec: SyncSpec) -> type[ModelQueryConfig]:
    """`ops.<model op>.config.query`, defaulting to the sync's query."""
    return create_model(
        _class_name(spec, "ModelQueryConfig"),
        __base__=ModelQueryConfig,
        query=(str, Field(default=spec.model_query, description=ModelQueryConfig.model_fields["query"].description)),
    )
