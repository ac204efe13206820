"""Trying syncs on this machine: the command line (`python -m asana_sync_pipeline`), the local
Dagster UI (`python -m asana_sync_pipeline.local.dev`, `make dev`), the bundled emulator's
environment and the sample warehouse. Nothing here is needed to run syncs in production."""
