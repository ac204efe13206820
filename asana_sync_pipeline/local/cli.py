"""`python -m asana_sync_pipeline`: run every sync once from the command line and print what each did.

Each sync reads its token from its own variable (ASANA_ACCESS_TOKEN for the default
sync; `access_token_env` in YAML). The syncs whose token is set run against the
Asana that ASANA_BASE_URL points to (real Asana by default), after their token, URL
and project GID are checked; the others are named and left out.

When no chosen sync has a token, or with --fixture, the syncs run against the
bundled Asana emulator on loopback instead, and nothing leaves this machine: the
demo. By default it builds the sample warehouse (always data/warehouse.duckdb, never
a file of yours), runs the sample's syncs (the default one, accounts at churn risk,
and `data_checks`, declared in YAML), then runs the default sync again with five
accounts marked done, to show that a second run updates only what changed. With
--fixture FILE (the emulator's workspace: docs/emulator.md) and --warehouse FILE
(read, never written) it tries syncs of your own, every one unless --sync says.
The local state lives in data/demo/ (never in SYNC_STATE_URL's database) and starts
fresh each time. With --keep, the emulator's workspace and the state are kept between
runs, in data/local/ (`make emulator` serves that workspace; see `local.emulator`).
--keep-tokens leaves a token variable already set as it is (to try a wrong token).
--sync chooses syncs; --sync-mode and --query apply to the chosen ones.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
from dagster._utils.error import SerializableErrorInfo
from pydantic import ValidationError

from ..engine import SYNC_MODES, AsanaSyncError, PostgresURL, SyncConfigError, SyncScope, environment
from ..lib.sync_spec import DEFAULT_SYNC, SyncSpec
from .cli_log import one_line_console
from .emulator import KEPT_DIR, KeptWorkspace
from .emulator_setup import DEMO_PERSON, apply_to_process, local_asana, local_environment, local_warehouse

SAMPLE_SYNCS = (DEFAULT_SYNC, "data_checks")


@dataclass(frozen=True)
class LocalOptions:
    """How a local run treats the emulator and the state: kept in a folder (`keep`) or fresh, and
    whether the tokens set in the environment are kept (`keep_tokens`)."""

    keep: str | None = None
    fresh: bool = False
    keep_tokens: bool = False


DEMO_SECOND_QUERY = (
    "SELECT * REPLACE (CASE WHEN id IN (SELECT id FROM asana_task_model WHERE completed IS NOT TRUE "
    "AND task_gid IS NULL ORDER BY id LIMIT 5) THEN true ELSE completed END AS completed) FROM asana_task_model"
)


def _unexpected(error: SerializableErrorInfo) -> str:
    """The original exception (Dagster wraps it in its own) with its trace: what a bug report needs."""
    while error.cause is not None:
        error = error.cause
    return f"{error.message.strip()}\n(unexpected: please report it with this trace)\n{''.join(error.stack)}"


def _failures(result: dg.ExecuteInProcessResult) -> list[str]:
    lines = []
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            if data.user_failure_data:
                description = data.user_failure_data.description
            elif data.error is not None:
                description = _unexpected(data.error)
            else:
                description = "no reason recorded"
            lines.append(f"FAILED in {event.step_key}: {description}")
    return lines


def _warnings(result: dg.ExecuteInProcessResult) -> list[str]:
    lines = []
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            details = ", ".join(f"{name}={value.value}" for name, value in evaluation.metadata.items())
            description = f" {evaluation.description.rstrip('.')}." if evaluation.description else ""
            lines.append(f"check {evaluation.check_name} did not pass:{description} ({details})")
    return lines


def sync_jobs() -> dict[str, dg.JobDefinition]:
    """Every sync of the code location (the default one and those in defs/), by name."""
    from ..definitions import build_definitions
    from ..lib.jobs import SYNC_TAG

    repository = build_definitions().get_repository_def()
    jobs = {job.tags[SYNC_TAG]: job for job in repository.get_all_jobs() if SYNC_TAG in job.tags}
    return dict(sorted(jobs.items(), key=lambda item: (item[0] != DEFAULT_SYNC, item[0])))


def check_connection_settings(spec: SyncSpec) -> None:
    """The token, URL, project GID and state URL a run of `spec` would use, checked before it starts
    (no request)."""
    from ..lib.resources import AsanaResource

    asana = AsanaResource(base_url=str(environment.BASE_URL.read(os.environ)))
    asana.settings_for(spec)
    asana.scope_for(spec)
    if environment.STATE_URL.is_set(os.environ):
        PostgresURL.parse(os.environ[environment.STATE_URL.name])


def _configuration_error(error: BaseException) -> AsanaSyncError | None:
    """The configuration error behind one raised while Dagster loaded the definitions, if any: the
    project's own, or an attribute pydantic refused (named with its reason, never its value)."""
    where = str(error).splitlines()[0].rstrip(":") if str(error).startswith("Error while") else ""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, AsanaSyncError):
            return cause
        if isinstance(cause, ValidationError):
            reasons = "; ".join(f"{'.'.join(map(str, item['loc'])) or 'attributes'}: {item['msg']}" for item in cause.errors())
            return SyncConfigError(f"{where}: {reasons}" if where else reasons)
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _run_once(
    label: str, spec: SyncSpec, job: dg.JobDefinition, query: str | None, sync_mode: str | None, *, list_rejections: bool = True
) -> bool:
    ops: dict = {spec.op_name("asana_task_payloads"): {"config": {"sync_mode": sync_mode}}} if sync_mode else {}
    if query:
        ops[spec.op_name("warehouse_model")] = {"config": {"query": query}}
    run_config = {"ops": ops, "loggers": {"one_line": {}}}
    result = job.with_logger_defs({"one_line": one_line_console}).execute_in_process(
        run_config=run_config, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    print(f"\n== {label} ==")
    for line in _failures(result):
        print(line)
    if not result.success:
        return False
    metadata = result.asset_materializations_for_node(spec.op_name("asana_tasks"))[0].metadata
    for name in ("created", "updated", "unchanged", "rejected"):
        print(f"{name:>10}: {metadata[name].value}")
    for line in _warnings(result):
        print(f"WARNING: {line}")
    if metadata["rejected"].value and list_rejections:
        print("Rejected rows (primary key | field | reason):")
        print(metadata["rejections"].value)
    elif metadata["rejected"].value:
        print("(the same rows as above are rejected again; they stay in the rejections table until fixed)")
    return True


def _run_all(
    chosen: list[str], jobs: dict[str, dg.JobDefinition], query: str | None, sync_mode: str | None, label: str = ""
) -> bool:
    """Run the chosen syncs once each, in order."""
    from ..definitions import sync_specs

    specs = sync_specs()
    for name in chosen:
        check_connection_settings(specs[name])
    ok = True
    for name in chosen:
        ok = _run_once(f"Sync {name!r}{label}", specs[name], jobs[name], query, sync_mode) and ok
    return ok


def _choose(specs: dict[str, SyncSpec], names: list[str], only: list[str] | None, query: str | None) -> list[str]:
    """The syncs to run: those named (each must exist), else `only`, else every one; --query needs exactly one.
    Read from the syncs' specs: their jobs are built once the run's environment is set."""
    syncs = sorted(specs, key=lambda name: (name != DEFAULT_SYNC, name))  # as sync_jobs orders them
    unknown = sorted(set(names) - set(syncs))
    if unknown:
        raise SyncConfigError(f"no sync named {', '.join(unknown)}; the syncs are: {', '.join(syncs)}")
    chosen = names or [name for name in syncs if only is None or name in only]
    if query and len(chosen) != 1:
        raise SyncConfigError(f"--query applies to one sync; choose it with --sync (the syncs are: {', '.join(syncs)})")
    return chosen


def _with_tokens(specs: dict[str, SyncSpec], names: list[str]) -> tuple[list[str], list[str]]:
    """Of the chosen syncs (every one without `names`): those whose token variable is set, and the others."""
    chosen = [name for name in (names or list(specs)) if name in specs]
    have = [name for name in chosen if specs[name].access_token_env in os.environ]
    return have, [name for name in chosen if name not in have]


def _local_choice(specs: dict[str, SyncSpec], fixture: str | None, warehouse: str | None) -> tuple[list[str] | None, str]:
    """Which syncs a local run takes when none is named (None: every one), and the line naming the
    others: the sample's against the sample warehouse, yours against yours."""
    own = [name for name in specs if name not in SAMPLE_SYNCS]
    if fixture is None and not warehouse:
        left = f"Not in the demo (the sample's syncs only; choose one with --sync): {', '.join(sorted(own))}" if own else ""
        return [name for name in specs if name in SAMPLE_SYNCS], left
    if warehouse and own:
        left = ", ".join(sorted(set(specs) - set(own)))
        return own, f"Not run against your warehouse (the sample's syncs; choose one with --sync): {left}"
    return None, ""


def _run_with_tokens(
    specs: dict[str, SyncSpec], chosen: list[str], missing: list[str], query: str | None, sync_mode: str | None,
    warehouse: str | None,
) -> bool:
    """Against Asana: the chosen syncs, whose tokens are set; `missing` those left out for want of theirs."""
    if warehouse:
        os.environ[environment.WAREHOUSE_PATH.name] = str(local_warehouse(warehouse)[0])
    if missing:
        print(
            "Not run, their token is not set: "
            + ", ".join(f"{name} ({specs[name].access_token_env})" for name in missing)
        )
    return _run_all(chosen, sync_jobs(), query, sync_mode)


def _run_locally(
    specs: dict[str, SyncSpec], chosen: list[str], left_out: str, query: str | None, sync_mode: str | None,
    fixture: str | None, warehouse: str | None, local: LocalOptions,
) -> bool:
    """Against the bundled emulator: the demo, or syncs of your own with --fixture and --warehouse;
    `left_out` names the syncs not run. With --keep, against the kept workspace, keeping the state."""
    kept = KeptWorkspace(local.keep) if local.keep is not None else None
    person = secrets.token_urlsafe(24)
    # A broken fixture fails here, before any file is touched.
    asana = local_asana(fixture, keep=kept, fresh=local.fresh, person_token=person)
    model, sample = local_warehouse(warehouse)
    if sample:
        print(f"Sample warehouse: {model}")
    with asana as (server, state, where):
        print(where)
        apply_to_process(local_environment(server, specs.values(), warehouse=model, state=state, keep_tokens=local.keep_tokens))
        jobs = sync_jobs()  # bound to the emulator
        if left_out:
            print(left_out)
        ok = _run_all(chosen, jobs, query, sync_mode, label="" if kept else ": first run, every valid row becomes a task")
        if ok and sample and kept is None and query is None and DEFAULT_SYNC in chosen and fixture is None:
            _a_person_completes_a_task(server.base_url, server.project_gid, person)
            ok = _run_once(
                f"Sync {DEFAULT_SYNC!r}: second run, five accounts marked done in the warehouse",
                specs[DEFAULT_SYNC],
                jobs[DEFAULT_SYNC],
                DEMO_SECOND_QUERY,
                sync_mode,
                list_rejections=False,
            )
            if ok:
                _print_follow_up_figure(model)
        print(f"\nThe emulator now holds {server.task_count()} tasks; sync state in {state}")
        if kept:
            print("Both are kept: change tasks in the emulator, or the model, then run again with KEEP=1 (--keep)")
    return ok


def _a_person_completes_a_task(base_url: str, project_gid: str, token: str) -> None:
    """The demo's person completes one open task in "Asana" (the emulator), under her own token, as a
    colleague would between two runs: the outcomes then say who did it. She takes the task of the last
    row by key, so it is never one of the five the warehouse marks done next (the first five by key)."""
    from ..definitions import state_store_from

    synced = state_store_from(os.environ).synced(SyncScope(DEFAULT_SYNC, project_gid))
    last_rows_first = synced.sort_values("primary_key", ascending=False)["task_gid"].astype(str)
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as person:
        for gid in last_rows_first:
            task = person.get(f"/tasks/{gid}", params={"opt_fields": "name,completed"}).raise_for_status().json()["data"]
            if not task.get("completed"):
                person.put(f"/tasks/{gid}", json={"data": {"completed": True}}).raise_for_status()
                print(f"\nIn Asana, Ada Lovelace ({DEMO_PERSON}) completes {task['name']!r} by hand")
                return


def _print_follow_up_figure(warehouse: Path) -> None:
    """The sample's figure, built by dbt on the default sync's outcomes in the warehouse."""
    from ..sample.warehouse import FIGURE_MODEL, build_follow_up_figure

    figure = build_follow_up_figure(warehouse)
    share = float(str(figure.get("share") or 0.0))
    print(
        f"\n== What became of the work ({FIGURE_MODEL}, from asana_sync.asana_task_outcomes) ==\n"
        f"{figure.get('followed_up_within_7_days')} of {figure.get('accounts')} churn-risk accounts followed up within 7 "
        f"days ({share:.0%}); {figure.get('completed_by_people')} completed by a person in Asana"
    )


def _clear_releases(names: list[str], keys: list[str]) -> int:
    """Forget released tasks in the state of the chosen syncs (no request to Asana)."""
    from ..definitions import state_store_from, sync_specs
    from ..lib.paths import project_path
    from ..lib.resources import AsanaResource

    specs = sync_specs()
    unknown = sorted(set(names) - set(specs))
    if unknown:
        raise SyncConfigError(f"no sync named {', '.join(unknown)}; the syncs are: {', '.join(specs)}")
    if not environment.STATE_URL.is_set(os.environ):
        path = project_path(str(environment.STATE_PATH.read(os.environ)), environment.STATE_PATH.name)
        if not path.is_file():
            raise SyncConfigError(
                f"the sync state {path} does not exist, so no release was forgotten; point "
                f"{environment.STATE_PATH.name} (or {environment.STATE_URL.name}) at the state your runs use"
            )
    asana, store = AsanaResource(), state_store_from(os.environ)
    for name in names or list(specs):
        scope = asana.scope_for(specs[name])
        cleared = store.clear_releases(scope, keys or None)
        shown = f": {', '.join(cleared[:20])}{', …' if len(cleared) > 20 else ''}" if cleared else ""
        print(f"Sync {name!r}: {len(cleared)} released task(s) forgotten{shown}; their rows get a task on the next run")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m asana_sync_pipeline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sync-mode", default=None, type=str.lower, choices=SYNC_MODES, help="for this run (default: each sync's own)"
    )
    parser.add_argument("--query", default=None, help="model query of the one chosen sync (default: the sync's own)")
    parser.add_argument("--sync", action="append", default=[], help="a sync to run (repeatable; default: every sync)")
    parser.add_argument(
        "--clear-releases",
        nargs="*",
        metavar="KEY",
        default=None,
        help="instead of running: forget the tasks released to people (of these primary keys, or all) in the chosen "
        "syncs' state, so that their rows get a task again on the next run",
    )
    parser.add_argument(
        "--fixture",
        default=None,
        help="run against the bundled Asana emulator holding this workspace (JSON, docs/emulator.md), even when tokens "
        "are set: every sync, or those --sync names",
    )
    parser.add_argument(
        "--warehouse", default=None, help="the DuckDB warehouse the models read (default: WAREHOUSE_DUCKDB_PATH; locally, the sample)"
    )
    parser.add_argument(
        "--keep",
        nargs="?",
        const=str(KEPT_DIR),
        default=None,
        metavar="DIR",
        help="run against the local emulator's kept workspace (the one `make emulator` serves, else served for this "
        "run), even when tokens are set, keeping it and the sync state between runs, in DIR (default: data/local/)",
    )
    parser.add_argument("--fresh", action="store_true", help="with --keep: start the kept workspace and its state afresh")
    parser.add_argument(
        "--keep-tokens",
        action="store_true",
        help="locally, leave a sync's token variable as it is when set (to try a wrong token against the emulator); "
        "the unset ones get the emulator's",
    )
    args = parser.parse_args(argv)
    if args.fresh and args.keep is None:
        args.keep = str(KEPT_DIR)
    options = LocalOptions(args.keep, args.fresh, args.keep_tokens)
    try:
        if args.clear_releases is not None:
            return _clear_releases(args.sync, args.clear_releases)
        from ..definitions import sync_specs

        specs = sync_specs()  # as the environment is now; the runs read them again once it is set
        have, missing = _with_tokens(specs, args.sync)
        local = args.fixture is not None or args.keep is not None or not have
        only, left_out = _local_choice(specs, args.fixture, args.warehouse) if local else (have, "")
        chosen = _choose(specs, args.sync, only, args.query)  # before a warehouse is built or an emulator started
        if local:
            ok = _run_locally(
                specs, chosen, "" if args.sync else left_out, args.query, args.sync_mode, args.fixture, args.warehouse, options
            )
        else:
            ok = _run_with_tokens(specs, chosen, [] if args.sync else missing, args.query, args.sync_mode, args.warehouse)
        return 0 if ok else 1
    except Exception as exc:
        error = _configuration_error(exc)
        if error is None:
            raise
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2

