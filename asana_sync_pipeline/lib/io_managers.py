"""How the model and the plan travel between a sync's steps.

Dagster's filesystem IO manager pickles every output to a file and reads it back in the next
step: for a million-row model and its plan, seconds of pickling in a run whose steps all run in
one process (the sync jobs use the in-process executor). `SyncIOManager` hands the next step the
object itself when it runs in the same process, and writes the file as Dagster does, so that an
asset materialized on its own later (`asana_tasks` after a dry run) still finds its input;
except in a dry run (`asana_dry_run_job`), whose plan is shown, never handed on, so nothing is
written at all.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster._core.storage.fs_io_manager import PickledObjectFilesystemIOManager

DRY_RUN_TAG = "asana_sync/dry_run"
"""Tag of the dry-run jobs' runs: their outputs stay in memory."""

_in_process: dict[tuple[str, tuple[str, ...]], Any] = {}
"""(run id, asset key) -> the output, for the steps of that run still to come in this process."""


class SyncIOManager(dg.ConfigurableIOManager):
    """Outputs in memory for the rest of the run, and in files (pickled) for later runs unless the
    run is a dry run. `base_dir`: where the files go (default: the instance's storage folder)."""

    base_dir: str | None = None

    def _files(self, instance: dg.DagsterInstance) -> PickledObjectFilesystemIOManager:
        return PickledObjectFilesystemIOManager(base_dir=self.base_dir or instance.storage_directory())

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        for stale in [key for key in _in_process if key[0] != context.run_id]:
            del _in_process[stale]  # a finished run's leftovers (a step that failed before loading)
        _in_process[(context.run_id, tuple(context.asset_key.path))] = obj
        if context.step_context.dagster_run.tags.get(DRY_RUN_TAG) != "true":
            self._files(context.step_context.instance).handle_output(context, obj)

    def load_input(self, context: dg.InputContext) -> Any:
        upstream = context.upstream_output
        key = (upstream.run_id if upstream else "", tuple(context.asset_key.path))
        if key in _in_process:
            return _in_process.pop(key)
        try:
            return self._files(context.instance).load_input(context)
        except FileNotFoundError:
            raise dg.Failure(
                description=(
                    f"No stored {context.asset_key.to_user_string()} to read: a dry run (asana_dry_run_job) keeps its "
                    "plan in memory and stores nothing. Materialize it together with the assets that read it, or run "
                    "the sync's job (asana_sync_job)."
                )
            ) from None
