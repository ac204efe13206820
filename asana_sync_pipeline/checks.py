"""Asset checks: the model's identity before anything is planned, and the rejection rate after a sync."""

import dagster as dg
import pandas as pd
from pydantic import Field

from .assets import SyncConfig, asana_tasks, warehouse_model
from .engine.planning import primary_key_column


def run_sync_config(context: dg.AssetCheckExecutionContext) -> SyncConfig:
    """The sync settings of this run (asana_task_payloads' config), so the checks judge the
    same primary key and name column as the sync."""
    ops = (context.run.run_config or {}).get("ops", {})
    return SyncConfig(**ops.get("asana_task_payloads", {}).get("config", {}))


class RejectionRateConfig(dg.Config):
    max_rejection_rate: float = Field(default=0.05, description="Warn when more than this share of written rows is rejected.")


@dg.asset_check(
    asset=warehouse_model,
    blocking=True,
    description="The primary key is present and unique: without it rows cannot be told apart across runs.",
)
def primary_key_unique_and_not_null(context: dg.AssetCheckExecutionContext, warehouse_model: pd.DataFrame) -> dg.AssetCheckResult:
    primary_key = run_sync_config(context).primary_key
    if primary_key not in warehouse_model.columns:
        return dg.AssetCheckResult(passed=False, description=f"The model has no column {primary_key!r}")
    keys = pd.Series(primary_key_column(warehouse_model[primary_key]), dtype=object)
    missing = int(keys.isna().sum())
    duplicated = keys[keys.notna() & keys.duplicated(keep=False)]
    return dg.AssetCheckResult(
        passed=missing == 0 and duplicated.empty,
        metadata={
            "primary_key": primary_key,
            "null_keys": missing,
            "duplicated_keys": int(duplicated.nunique()),
            "examples": ", ".join(map(str, duplicated.unique()[:10])) or "none",
        },
    )


@dg.asset_check(
    asset=warehouse_model,
    description="Rows without a task_gid need a name to be created; those without one will be rejected.",
)
def names_present_for_new_rows(context: dg.AssetCheckExecutionContext, warehouse_model: pd.DataFrame) -> dg.AssetCheckResult:
    sources = {field: column for column, field in run_sync_config(context).field_mapping.items()}
    name_column, gid_column = sources.get("name", "name"), sources.get("task_gid", "task_gid")
    if name_column not in warehouse_model.columns:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, description=f"The model has no {name_column!r} column")
    if gid_column in warehouse_model.columns:
        new_rows = warehouse_model[gid_column].isna()
    else:
        new_rows = pd.Series(True, index=warehouse_model.index)
    names = warehouse_model[name_column]
    blank = names.isna() | (names.astype("str").str.strip() == "")
    nameless = int((new_rows & blank).sum())
    return dg.AssetCheckResult(passed=nameless == 0, severity=dg.AssetCheckSeverity.WARN, metadata={"rows_without_name": nameless})


@dg.asset_check(asset=asana_tasks, description="Warns when the last sync rejected too large a share of the rows it wrote.")
def rejection_rate_below_threshold(context: dg.AssetCheckExecutionContext, config: RejectionRateConfig) -> dg.AssetCheckResult:
    event = context.instance.get_latest_materialization_event(asana_tasks.key)
    if event is None or event.asset_materialization is None:
        return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.WARN, description="No sync has run yet")
    metadata = event.asset_materialization.metadata
    counts = {name: int(metadata[name].value) for name in ("created", "updated", "rejected") if name in metadata}
    attempted = sum(counts.values())
    rate = counts.get("rejected", 0) / attempted if attempted else 0.0
    return dg.AssetCheckResult(
        passed=rate <= config.max_rejection_rate,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rejection_rate": round(rate, 4), "rejected": counts.get("rejected", 0), "attempted": attempted},
    )
