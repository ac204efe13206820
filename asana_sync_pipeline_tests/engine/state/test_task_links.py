"""What the sync set beside a task's fields (dependencies, attachments) and the jobs of template creates:
recorded per (sync, project), in both stores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from asana_sync_pipeline.engine.state import ATTACHMENT, DEPENDENCY, DuckDBStateStore, PostgresStateStore, SyncScope, TaskLink

SCOPE = SyncScope("default", "100")
OTHER = SyncScope("other", "100")
AT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["duckdb", "postgres"])
def store(request, tmp_path):
    if request.param == "duckdb":
        return DuckDBStateStore(str(tmp_path / "state.duckdb"))
    return PostgresStateStore(request.getfixturevalue("postgres_url"))


def test_links_are_recorded_replaced_and_dropped_per_sync(store):
    store.record_links(
        SCOPE, "run-1",
        [TaskLink("a", DEPENDENCY, "7", "5"), TaskLink("a", ATTACHMENT, "https://x.example/1", "5", None, "Dash", AT)],
        [],
    )  # fmt: skip
    store.record_links(OTHER, "run-1", [TaskLink("a", DEPENDENCY, "9", "6")], [])
    assert store.links(SCOPE) == [
        TaskLink("a", ATTACHMENT, "https://x.example/1", "5", None, "Dash", AT),
        TaskLink("a", DEPENDENCY, "7", "5"),
    ]
    store.record_links(SCOPE, "run-2", [TaskLink("a", ATTACHMENT, "https://x.example/1", "5", "88", "Dash")], [("a", DEPENDENCY, "7")])
    assert store.links(SCOPE) == [TaskLink("a", ATTACHMENT, "https://x.example/1", "5", "88", "Dash")]
    assert store.links(OTHER) == [TaskLink("a", DEPENDENCY, "9", "6")]


def test_a_renamed_key_keeps_its_links(store):
    store.record_links(SCOPE, "run-1", [TaskLink("1.00", DEPENDENCY, "7", "5")], [])
    store.rekey(SCOPE, {"1.00": "1"})
    assert store.links(SCOPE) == [TaskLink("1", DEPENDENCY, "7", "5")]


def test_the_job_of_a_template_create_is_kept_with_its_intent_until_the_create_is_sent_again(store):
    store.record_intents(SCOPE, "run-1", [("a", {"task_template": "900", "name": "A"})])
    store.note_job(SCOPE, "a", "4242")
    [intent] = store.open_intents(SCOPE)
    assert (intent.primary_key, intent.job_gid, intent.payload) == ("a", "4242", {"task_template": "900", "name": "A"})
    store.record_intents(SCOPE, "run-2", [("a", {"task_template": "900", "name": "A"})])
    assert store.open_intents(SCOPE)[0].job_gid is None
