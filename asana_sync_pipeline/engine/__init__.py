"""The sync engine, in the order a row travels: `model` (read the warehouse), `fields` (rules
and names), `planning` (one operation per row), `writing` (to Asana, exactly once) through
`asana` (the HTTP client), remembering in `state`; `runner` runs them in order.

Imports no Dagster, so each piece is a plain function or class that a test (or another
orchestrator) can drive directly. Imports point down these layers, never back up: the
foundation (`settings`, `errors`, `json_text`, `log`), `asana`, `model`, `state`, `fields`,
`planning`, `writing`, `runner`.
"""
