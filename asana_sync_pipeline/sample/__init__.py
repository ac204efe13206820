"""The sample project: its warehouse, a dbt project in `data/` (built, parsed for the code location,
and its figure on the outcomes). The code location (`definitions.py`) and the local tooling
(`local/`) both use it; it uses the engine alone."""
