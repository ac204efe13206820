"""Run config of a sync's assets, and the sync settings as YAML attributes: static classes whose
fields are the engine's `SyncSettings`, each with the engine's description and default.

Every setting is optional here: unset means "this sync's own setting" (its YAML, or
the engine's default), so a run launched from the asset graph without config does
what the sync says, and a Launchpad override changes only what it names. The sync
job's default run config spells out the sync's settings, so the Launchpad shows them.
A test keeps these fields equal to `SyncSettings`'.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import BaseModel, Field

from ..engine import AsanaSettings, SyncSettings, environment


def _sync_setting(name: str) -> Any:
    setting = SyncSettings.setting(name)
    shown = setting.shown_default
    default = f" Default: {shown}." if shown not in (None, {}, "") else ""
    return Field(default=None, description=f"{setting.description}{default}")


class SyncSettingsFields(BaseModel):
    """Every sync setting, optional: what a run, or a YAML sync, sets explicitly."""

    sync_mode: str | None = _sync_setting("sync_mode")
    primary_key: str | None = _sync_setting("primary_key")
    field_mapping: dict[str, str] | None = _sync_setting("field_mapping")
    sync_key_field: str | None = _sync_setting("sync_key_field")
    allow_tasks_outside_project: bool | None = _sync_setting("allow_tasks_outside_project")
    create_missing_tags: bool | None = _sync_setting("create_missing_tags")
    create_missing_sections: bool | None = _sync_setting("create_missing_sections")
    on_row_removed: str | None = _sync_setting("on_row_removed")
    max_removed_fraction: float | None = _sync_setting("max_removed_fraction")
    max_rejection_rate: float | None = _sync_setting("max_rejection_rate")
    field_policies: dict[str, str] | None = _sync_setting("field_policies")
    max_cleared_fraction: float | None = _sync_setting("max_cleared_fraction")
    on_task_deleted: str | None = _sync_setting("on_task_deleted")
    on_asana_edit: str | None = _sync_setting("on_asana_edit")
    max_replaced_fraction: float | None = _sync_setting("max_replaced_fraction")
    outcome_fields: dict[str, str] | None = _sync_setting("outcome_fields")
    sync_log_days: int | None = _sync_setting("sync_log_days")
    task_template: str | None = _sync_setting("task_template")
    adopt_existing: dict[str, str] | None = _sync_setting("adopt_existing")

    def given_settings(self) -> dict[str, Any]:
        """The settings set explicitly (not None)."""
        names = [setting.name for setting in SyncSettings.described()]
        return {name: value for name in names if (value := getattr(self, name)) is not None}


class SyncConfig(dg.Config, SyncSettingsFields):
    """`ops.<asana_task_payloads>.config`: the sync settings of one run, over the sync's own."""


class ModelQueryConfig(dg.Config):
    """`ops.<warehouse_model>.config`: the model's query for one run."""

    query: str | None = Field(
        default=None, description="SQL run against the warehouse DuckDB; one row per task. Unset: the sync's query."
    )


def default_run_config(model_op: str | None, payloads_op: str, settings: SyncSettings, query: str | None) -> dict[str, Any]:
    """A sync job's default run config: the sync's query and settings, as the Launchpad shows them."""
    shown = {
        setting.name: _plain(getattr(settings, setting.name))
        for setting in SyncSettings.described()
        if getattr(settings, setting.name) is not None
    }
    ops: dict[str, Any] = {payloads_op: {"config": shown}}
    if model_op is not None and query is not None:
        ops[model_op] = {"config": {"query": query}}
    return {"ops": ops}


def _plain(value: Any) -> Any:
    """A setting's value as run config writes it: enums as their values, in dicts too."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value.value if hasattr(value, "value") else value


def _cell(value: Any) -> str:
    if value is None or value == {}:
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def environment_reference() -> str:
    """The environment variables' table, made from the engine's declarations (docs/configuration.md holds
    a copy, which a test keeps equal to this)."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{variable.name}` | {_cell(variable.default)} | {variable.description} |" for variable in environment.VARIABLES]
    return "\n".join(lines)


def settings_reference() -> str:
    """The configuration reference's tables, made from the engine's declarations (docs/configuration.md
    holds a copy, which a test keeps equal to this)."""
    lines = [
        "Sync settings: run config `ops.<asana_task_payloads op>.config.<setting>`, or a YAML sync's attribute of the same name.",
        "",
        "| setting | default | meaning |",
        "| --- | --- | --- |",
        *(f"| `{setting.name}` | {_cell(setting.shown_default)} | {setting.description} |" for setting in SyncSettings.described()),
        "",
        "Connection settings: fields of the `asana` resource, shared by every sync (an environment variable sets some of them).",
        "",
        "| setting | environment | default | meaning |",
        "| --- | --- | --- | --- |",
        *(
            f"| `{setting.name}` | {f'`{setting.env}`' if setting.env else '—'} | {_cell(setting.default)} | {setting.description} |"
            for setting in AsanaSettings.described()
        ),
    ]
    return "\n".join(lines)
