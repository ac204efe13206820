"""Relative paths are read against the project folder, never the working directory."""

import pytest

from asana_sync_pipeline.definitions import build_resources
from asana_sync_pipeline.engine.errors import SyncConfigError
from asana_sync_pipeline.lib import paths


def test_in_a_checkout_relative_paths_start_at_the_project_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.project_path("data/state.duckdb") == paths.PROJECT_ROOT / "data/state.duckdb"
    assert (paths.PROJECT_ROOT / "pyproject.toml").is_file()
    assert paths.project_path(tmp_path / "abs.duckdb") == tmp_path / "abs.duckdb"


def test_an_installed_package_needs_a_project_folder_or_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "CHECKOUT", None)
    monkeypatch.delenv(paths.PROJECT_DIR_ENV, raising=False)
    with pytest.raises(SyncConfigError, match="SYNC_STATE_DUCKDB_PATH is relative .* set ASANA_SYNC_PROJECT_DIR"):
        paths.project_path("data/state.duckdb", "SYNC_STATE_DUCKDB_PATH")
    monkeypatch.setenv(paths.PROJECT_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(paths, "PROJECT_ROOT", tmp_path)
    assert paths.project_path("data/state.duckdb") == tmp_path / "data/state.duckdb"


def test_an_installed_package_with_its_state_in_postgresql_needs_no_state_file_path(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "CHECKOUT", None)
    monkeypatch.delenv(paths.PROJECT_DIR_ENV, raising=False)
    env = {"WAREHOUSE_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"), "SYNC_STATE_URL": "postgresql://sync@127.0.0.1/state"}
    assert build_resources(env)["sync_state"].url is not None
    with pytest.raises(SyncConfigError, match="SYNC_STATE_DUCKDB_PATH is relative"):
        build_resources({"WAREHOUSE_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")})
