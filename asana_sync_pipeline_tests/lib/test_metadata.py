"""What the UI shows of a plan, through the jobs' metadata: values as JSON (not Python's repr, where
a number read `Decimal('68000')`), and no `asana_read: false` beside `schema_reads: 4`."""

from __future__ import annotations

import json
import re

from asana_sync_pipeline_tests.conftest import failure_text, materialization

MODEL = (
    "SELECT 'a' AS id, 'Acme renewal' AS name, {arr}::DECIMAL(12, 2) AS \"custom_fields.ARR (USD)\", "
    "'Call them' AS notes, ['Analytics', 'Warehouse'] AS \"custom_fields.Products\""
)


def _payloads(result) -> dict:
    assert result.success, failure_text(result)
    return materialization(result, "asana_task_payloads")


def _bodies(preview: str) -> list[dict]:
    """Each request body the preview shows, read as JSON (it must be JSON)."""
    return [json.loads(body) for body in re.findall(r"`(\{.*?\})`", preview)]


def test_the_dry_runs_planned_values_are_json(sandbox):
    sandbox.write_model(MODEL.format(arr="68000"))
    created = _payloads(sandbox.sync(dry=True))["planned_payloads"]
    assert "Decimal(" not in created and "'" not in created, created
    [body] = _bodies(created)
    assert body["custom_fields"]["1200000000000302"] == 68000 and body["notes"] == "Call them", created

    assert sandbox.sync().success
    sandbox.write_model(MODEL.format(arr="71000"))
    planned = _payloads(sandbox.sync(dry=True))
    update = planned["planned_payloads"]
    assert "Decimal(" not in update and "'" not in update, update
    assert _bodies(update) == [{"custom_fields": {"1200000000000302": 71000}}], update
    changes = planned["planned_changes"]
    assert "| custom_fields.ARR (USD) | 68000 | 71000 |" in changes and "Decimal(" not in changes, changes


def test_a_plan_that_did_not_read_people_says_so_in_words_beside_the_schema_reads(sandbox):
    sandbox.write_model(MODEL.format(arr="68000"))
    planned = _payloads(sandbox.sync())  # the sync job: asana_tasks reads what people did, not the payloads
    assert "asana_read" not in planned
    assert planned["schema_reads"] > 0
    assert planned["people_changes"].startswith("not read by this step: asana_tasks reads what people changed")
    dry = _payloads(sandbox.sync(dry=True))  # a dry run with the token reads them
    assert "people_changes" not in dry and "asana_read" not in dry and dry["asana_reads"] >= 1
