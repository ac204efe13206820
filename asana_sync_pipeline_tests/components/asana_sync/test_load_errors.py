"""A misspelt attribute in a defs.yaml is refused in one line that names the file and line, the
sync and the nearest attribute; under `dg check defs` that line comes first, before a short trace
(it was the 30 valid names alone, inside a 38-line trace)."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from asana_sync_pipeline.components.asana_sync.load_errors import load_yaml_syncs
from asana_sync_pipeline.engine import SyncConfigError
from asana_sync_pipeline.local.cli import _configuration_error
from asana_sync_pipeline_tests.components.asana_sync.test_component import DG, project_with

TYPO = """\
type: asana_sync_pipeline.AsanaSyncComponent
attributes:
  name: launches
  model:
    query: SELECT 1 AS launch_id, 'x' AS name
  project_gid: "1200000000000100"
  primary_keys: launch_id
"""
EXPECTED = "sync 'launches': unknown attribute(s) primary_keys (did you mean primary_key?); attributes are: "


def test_a_misspelt_attribute_names_the_file_the_sync_and_the_nearest_attribute(tmp_path, monkeypatch):
    root = project_with(tmp_path, {"launches": TYPO}, monkeypatch)
    [written] = root.glob("*/defs/launches/defs.yaml")
    with pytest.raises(SyncConfigError) as raised:
        load_yaml_syncs(root)
    message = str(raised.value)
    assert message.startswith(f"{written}:7: {EXPECTED}"), message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__, "the one line alone, not Dagster's chain"
    assert str(_configuration_error(raised.value)) == message, "the command line prints this line"


def test_a_token_named_by_a_wrong_attribute_is_hinted_and_never_shown(tmp_path, monkeypatch):
    secret = "0/9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    root = project_with(tmp_path, {"bad": TYPO.replace("primary_keys: launch_id", f"access_token: {secret}")}, monkeypatch)
    with pytest.raises(SyncConfigError) as raised:
        load_yaml_syncs(root)
    assert "access_token (did you mean access_token_env?)" in str(raised.value)
    assert "A token never goes in YAML" in str(raised.value) and secret not in str(raised.value)


def test_dg_check_defs_prints_the_one_line_first(tmp_path, monkeypatch):
    root = project_with(tmp_path, {"launches": TYPO}, monkeypatch)
    [package] = [path for path in root.iterdir() if (path / "defs").is_dir()]
    (package / "definitions.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path

            import dagster as dg

            from asana_sync_pipeline.components.asana_sync.load_errors import load_yaml_syncs


            @dg.definitions
            def defs() -> dg.Definitions:
                return load_yaml_syncs(Path(__file__).parent)
            """
        )
    )
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f'code_location_target_module = "{package.name}.definitions"\n')
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "NO_COLOR": "1"}
    checked = subprocess.run([DG, "check", "defs"], cwd=root, env=env, capture_output=True, text=True, timeout=180)
    output = checked.stdout + checked.stderr
    assert checked.returncode != 0
    lines = [line for line in output.splitlines() if line.strip()]
    first = next(position for position, line in enumerate(lines) if "Error" in line and "launches" in line)
    assert EXPECTED in lines[first] and f"{Path('defs') / 'launches' / 'defs.yaml'}:7" in lines[first], output
    assert "Stack Trace" not in "\n".join(lines[:first]) and "caused by" not in output, output
    assert len(lines) <= 25, output
