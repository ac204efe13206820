"""The sync engine: field rules, planning, the Asana client, the state store and the executor.

Imports no Dagster, so each piece is a plain function or class that a test (or
another orchestrator) can drive directly; `asana_sync_pipeline`'s Dagster glue
is built on top of it.
"""
