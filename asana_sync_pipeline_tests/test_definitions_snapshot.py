"""The code location as a reviewer reads it in a diff: every asset (with its group, kinds, upstream
assets and checks), job, schedule, sensor and resource of the sample, in `snapshots/definitions.txt`.

A change to the definitions changes that file in the same commit. To write it anew after a change
you mean: `ASANA_SYNC_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest asana_sync_pipeline_tests/test_definitions_snapshot.py`.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import dagster as dg

from asana_sync_pipeline.definitions import build_definitions

SNAPSHOT = Path(__file__).with_name("snapshots") / "definitions.txt"
ENV = {"ASANA_PROJECT_GID": "1200000000000100"}
"""The environment of a fresh checkout with a project set: no token, no webhook, default paths."""


def describe(defs: dg.Definitions) -> str:
    repository = defs.get_repository_def()
    graph = repository.asset_graph
    lines = ["# assets: key | group | kinds | upstream | checks"]
    for key in sorted(graph.get_all_asset_keys(), key=lambda key: key.to_user_string()):
        node = graph.get(key)
        upstream = ", ".join(sorted(parent.to_user_string() for parent in node.parent_keys)) or "-"
        checks = ", ".join(sorted(check.name for check in node.check_keys)) or "-"
        kinds = ", ".join(sorted(node.kinds)) or "-"
        source = " (external)" if not node.is_materializable else ""
        lines.append(f"{key.to_user_string()}{source} | {node.group_name} | {kinds} | {upstream} | {checks}")
    lines.append("")
    lines.append("# jobs: name | assets")
    for job in sorted(repository.get_all_jobs(), key=lambda job: job.name):
        if job.name.startswith("__"):
            continue
        selected = job.asset_layer.asset_graph.get_all_asset_keys() if job.asset_layer else []
        executable = sorted(key.to_user_string() for key in selected if job.asset_layer.asset_graph.get(key).is_executable)
        lines.append(f"{job.name} | {', '.join(executable) or 'ops: ' + ', '.join(sorted(node.name for node in job.nodes))}")
    lines.append("")
    lines.append("# schedules: name | cron | job | default status")
    for schedule in sorted(repository.schedule_defs, key=lambda schedule: schedule.name):
        lines.append(f"{schedule.name} | {schedule.cron_schedule} | {schedule.job_name} | {schedule.default_status.value}")
    lines.append("")
    lines.append("# sensors: name | job | default status")
    for sensor in sorted(repository.sensor_defs, key=lambda sensor: sensor.name):
        jobs = ", ".join(sorted(target.job_name for target in sensor.targets)) or "-"
        lines.append(f"{sensor.name} | {jobs} | {sensor.default_status.value}")
    lines.append("")
    lines.append("# resources: key | type")
    for key, resource in sorted((defs.resources or {}).items()):
        lines.append(f"{key} | {type(resource).__name__}")
    return "\n".join(lines) + "\n"


def test_the_definitions_are_as_the_snapshot_says(monkeypatch):
    for name in ("ASANA_ACCESS_TOKEN", "ASANA_SYNC_ALERT_WEBHOOK_URL", "ASANA_SYNC_CRON", "SYNC_STATE_URL"):
        monkeypatch.delenv(name, raising=False)
    found = describe(build_definitions(ENV))
    if os.environ.get("ASANA_SYNC_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(found)
    expected = SNAPSHOT.read_text()
    diff = "".join(difflib.unified_diff(expected.splitlines(True), found.splitlines(True), "snapshot", "definitions"))
    assert not diff, f"the definitions changed; if you meant it, write the snapshot anew (see this module's doc):\n{diff}"
