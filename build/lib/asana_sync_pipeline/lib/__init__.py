"""The Dagster surface: one `SyncSpec` in, a sync's assets, checks, jobs, schedules and sensors
out (`factory.build_sync_definitions`), with the resources and IO manager they use. Thin glue
around the engine (`asana_sync_pipeline.engine`), which it reaches only through the engine's face."""
