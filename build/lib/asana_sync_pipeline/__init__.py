"""Reverse ETL for Asana, as a Dagster project.

`asana_sync_pipeline.engine` does the work and imports no Dagster;
`asana_sync_pipeline.definitions` is the code location; `AsanaSyncComponent`
declares more syncs in YAML under `defs/`.
"""

from typing import Any

__all__ = ["AsanaSyncComponent"]


def __getattr__(name: str) -> Any:
    """`AsanaSyncComponent` loads Dagster on first use, so the emulator and the engine start fast."""
    if name == "AsanaSyncComponent":
        from .components.asana_sync.component import AsanaSyncComponent

        return AsanaSyncComponent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """Lists `AsanaSyncComponent`, so that dg's registry (which scans `dir()`) finds it."""
    return sorted([*globals(), *__all__])
