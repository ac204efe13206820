"""The settings of Asana beyond one task: `task_template` and `adopt_existing`, checked once."""

from __future__ import annotations

import pytest

from asana_sync_pipeline.engine.errors import SyncConfigError
from asana_sync_pipeline.engine.settings import SyncSettings


def test_task_template_is_a_name_or_gid_and_blank_is_none():
    assert SyncSettings(task_template=" Churn playbook ").task_template == "Churn playbook"
    assert SyncSettings(task_template="  ").task_template is None


def test_adopt_existing_takes_a_field_and_a_column():
    assert SyncSettings(adopt_existing={"match": " name ", "column": "account"}).adopt_existing == {"match": "name", "column": "account"}
    assert SyncSettings(adopt_existing={"match": "custom_fields.Account ID", "column": "id"}).adopt_existing["match"] == "custom_fields.Account ID"
    assert SyncSettings().adopt_existing == {}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"match": "name"}, "needs both match"),
        ({"match": "due_on", "column": "x"}, "cannot read"),
        ({"match": "name", "column": "x", "fuzzy": True}, "not fuzzy"),
        ("name", "must be"),
    ],
)
def test_adopt_existing_that_cannot_work_is_refused_naming_the_choices(given, message):
    with pytest.raises(SyncConfigError, match=message):
        SyncSettings(adopt_existing=given)
