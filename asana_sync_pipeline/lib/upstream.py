"""What sits above a sync in lineage: the table assets of the code location (dbt models, Sling and
dlt tables, any asset with `dagster/table_name` metadata), how a sync's model finds its table, and
the check that every asset a sync names is defined.

- `model: {asset: key}`: the sync's payloads take that asset as their input, through the sync's IO
  manager (`io_managers.SyncIOManager`), which hands on a `TableModel` when the asset names a table
  (in its definition, or in the metadata of its latest materialization) and its value otherwise;
  the payloads then read that table from the warehouse on the model connection.
- `model: {table: schema.name, deps: [key, ...]}`: the payloads read the table, below `deps`.
- A query (the default sync's `SELECT * FROM asana_task_model`): its `warehouse_model` sits below
  `deps`, and, for the default sync, below the table assets of the code location whose tables the
  query reads (`query_upstreams`): in the sample, the dbt model `asana_task_model`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import dagster as dg

from ..engine import SyncConfigError, table_parts, tables_read
from .sync_spec import SyncSpec

TABLE_NAME = "dagster/table_name"
"""Dagster's metadata naming the table an asset materializes (dagster-dbt, -sling, -dlt, DuckDB IO managers)."""
MODEL_OF = "asana_sync/model_of"
"""Metadata of a sync's model input: the sync's name (the IO manager reads it)."""


@dataclass(frozen=True)
class TableModel:
    """A sync's model is this table of the warehouse, materialized by the asset `asset`."""

    table: str
    asset: str


def table_name_in(metadata: Mapping[str, object] | None) -> str | None:
    """The table `dagster/table_name` names in `metadata` (plain, or a metadata value), if any."""
    value = (metadata or {}).get(TABLE_NAME)
    value = getattr(value, "value", value)
    return str(value) if isinstance(value, str) and value.strip() else None


def asset_specs(defs: dg.Definitions) -> list[dg.AssetSpec]:
    """Every asset spec of `defs`, without resolving the repository."""
    found: list[dg.AssetSpec] = []
    for item in defs.assets or []:
        if isinstance(item, dg.AssetSpec):
            found.append(item)
        elif isinstance(item, dg.AssetsDefinition):
            found.extend(item.specs)
    return found


def table_assets(defs: dg.Definitions) -> dict[dg.AssetKey, str]:
    """The assets of `defs` whose definition names the table they materialize, with that table."""
    return {spec.key: table for spec in asset_specs(defs) if (table := table_name_in(spec.metadata))}


def same_table(table_name: str, reference: str) -> bool:
    """Whether `reference` (as a query writes it: name, schema.name, catalog.schema.name) names the
    table `table_name` (as `dagster/table_name` gives it); a reference without a schema reads `main`."""
    try:
        table, read = [part.lower() for part in table_parts(table_name)], [part.lower() for part in table_parts(reference)]
    except SyncConfigError:
        return False
    if table[-1] != read[-1]:
        return False
    schema = read[-2] if len(read) >= 2 else "main"
    if len(table) >= 2 and table[-2] != schema:
        return False
    return len(read) < 3 or len(table) < 3 or read[0] == table[0]


def query_upstreams(query: str, tables: Mapping[dg.AssetKey, str]) -> tuple[str, ...]:
    """The assets (as `a/b` keys) among `tables` whose table `query` reads."""
    read = tables_read(query)
    return tuple(
        sorted(key.to_user_string() for key, table in tables.items() if any(same_table(table, name) for name in read))
    )


def check_model_upstreams(defs: dg.Definitions, specs: Iterable[SyncSpec]) -> None:
    """Load-time check of a code location: every asset a sync names (its model asset, its deps) is
    defined there; an error names the sync, the key, and the keys that are."""
    defined = {spec.key for spec in asset_specs(defs)}
    for spec in specs:
        for key in spec.upstream_keys:
            if key not in defined:
                raise SyncConfigError(missing_asset(spec.name, key, defined))


def missing_asset(sync: str, key: dg.AssetKey, defined: Iterable[dg.AssetKey]) -> str:
    """The message for a sync naming an asset that no definition holds."""
    names = sorted(known.to_user_string() for known in defined)
    close = difflib.get_close_matches(key.to_user_string(), names, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    listed = ", ".join(names[:40]) + (f", … ({len(names)} in all)" if len(names) > 40 else "") if names else "none"
    return (
        f"sync {sync!r}: no definition in this code location holds the asset {key.to_user_string()} its model names."
        f"{hint} Assets defined: {listed}"
    )
