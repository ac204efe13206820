"""The project's Dagster components (`dg list components` offers them)."""
