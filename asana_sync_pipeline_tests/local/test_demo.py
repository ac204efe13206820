"""`make run`'s demo, end to end in a process of its own, as a newcomer runs it: the sample warehouse
built by dbt, two runs of the default sync with a person's completion in Asana between them, and the
figure the sample's dbt project builds on the outcomes the sync wrote back into the warehouse."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import duckdb
import pytest

from asana_sync_pipeline.lib.paths import PROJECT_ROOT
from asana_sync_pipeline.local.emulator_setup import DEMO_PERSON, SAMPLE_WAREHOUSE

pytestmark = pytest.mark.xdist_group("local_data")  # the demo writes data/warehouse.duckdb and data/demo/


def test_the_demo_keeps_a_persons_completion_and_reports_what_became_of_the_work():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ASANA_", "WAREHOUSE_", "SYNC_STATE_", "MARKETING_"))}
    env.pop("DAGSTER_HOME", None)
    done = subprocess.run([sys.executable, "-m", "asana_sync_pipeline"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr

    completed = re.search(rf"In Asana, Ada Lovelace \({re.escape(DEMO_PERSON)}\) completes '([^']+)' by hand", done.stdout)
    assert completed, done.stdout
    second = done.stdout.split("second run, five accounts marked done in the warehouse")[1]
    assert re.search(r"\bcreated: 0\b", second) and re.search(r"\bupdated: 5\b", second), second
    figure = re.search(r"(\d+) of (\d+) churn-risk accounts followed up within 7 days \((\d+)%\); (\d+) completed by a person in Asana", done.stdout)
    assert figure, done.stdout

    with duckdb.connect(str(SAMPLE_WAREHOUSE), read_only=True) as warehouse:
        outcomes = warehouse.execute(
            "SELECT name, completed, completed_by, sync_status FROM asana_sync.asana_task_outcomes ORDER BY name"
        ).fetchall()
        [row] = warehouse.execute("SELECT accounts, followed_up_within_7_days, completed_by_people FROM main.churn_follow_up_rate").fetchall()
    by_name = {name: (done_, by, status) for name, done_, by, status in outcomes}
    assert by_name[completed.group(1)] == (True, DEMO_PERSON, "live"), "the second run left Ada's completion as she made it"
    assert row == (len(outcomes), int(figure.group(1)), 1) and int(figure.group(2)) == len(outcomes)
    assert sum(1 for done_, by, _ in by_name.values() if done_ and by != DEMO_PERSON) >= 5, "the five the model completed, by the sync"
