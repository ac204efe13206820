"""The executor of every sync job: Dagster's in-process executor, with a wait for the token's pool
that a dead run cannot block.

Each sync's `asana_tasks` is in its token's pool (`SyncSpec.pool`, a limit of 1 in the shipped
instances). Dagster 1.13's in-process executor waits for a pool slot in a loop that never sleeps
(`InstanceConcurrencyContext.interval_to_next_pending_claim_check` returns at most 0: a core at
100%), that takes SIGTERM only inside a step (a waiting run ignores it), and that waits forever
for a slot whose run died without freeing it: a run killed with SIGKILL, or on a lost machine,
stays STARTED, and Dagster frees a run's slots only once the run has ended, from the daemon's run
monitoring (`free_slots_after_run_end_seconds`, set in the shipped instances).

`sync_executor` is the in-process executor (same name, same config) with `PoolWait` in place of
Dagster's wait:
- it sleeps between checks (at most `POLL_SECONDS`; the instance is asked at most every
  `CLAIM_SECONDS`, so a freed slot is taken within that);
- it stops on SIGTERM (or a termination from the UI) while it waits: the run fails as interrupted
  and leaves the pool's queue;
- it says which pool it waits for, which run holds the slot, and how to stop, at once and every
  `TELL_SECONDS`;
- every `HOLDERS_SECONDS` it looks at the runs holding (or queued ahead for) the slot, through the
  instance's event log storage: a run that ended, no longer exists, or whose process is gone (each
  run records its process in the `WORKER_TAG` tag when it starts) is marked failed if it was not,
  and its slots are freed with `free_concurrency_slots_for_run`, as run monitoring would.

A process is judged gone only on this machine and in this PID namespace (its PID no longer names a
process started when it was): one elsewhere is left to run monitoring, or to a person who marks its
run failed in the UI, which this wait then notices.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import dagster as dg
from dagster._core.definitions.executor_definition import IN_PROC_CONFIG
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import DagsterEvent, EngineEventData, JobFailureData, RunFailureReason
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.context.system import PlanExecutionContext, PlanOrchestrationContext
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.execute_plan import inner_plan_execution_iterator
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.executor.in_process import InProcessExecutor
from dagster._utils.interrupts import check_captured_interrupt

WORKER_TAG = "asana_sync/worker"
"""The process that runs a run's steps (host, PID, start), recorded when the run starts."""
POLL_SECONDS = 1.0
CLAIM_SECONDS = 2.0
HOLDERS_SECONDS = 5.0
TELL_SECONDS = 60.0
ENDED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _started(pid: int) -> str:
    """When process `pid` started, as this machine's kernel counts it (boot, then ticks since
    boot), so that a PID used again by another process does not pass for it; '' where unknown."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return ""
    return f"{_read('/proc/sys/kernel/random/boot_id')}:{stat.rsplit(')', 1)[1].split()[19]}"


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


@dataclass(frozen=True)
class Worker:
    """A run's process, as recorded in its `WORKER_TAG`."""

    host: str
    pid: int
    started: str
    namespace: str

    @classmethod
    def this_process(cls) -> Worker:
        return cls(socket.gethostname(), os.getpid(), _started(os.getpid()), _pid_namespace())

    def to_tag(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_tag(cls, text: str | None) -> Worker | None:
        try:
            fields = json.loads(text or "")
            return cls(str(fields["host"]), int(fields["pid"]), str(fields["started"]), str(fields["namespace"]))
        except (ValueError, TypeError, KeyError):
            return None

    def __str__(self) -> str:
        return f"pid {self.pid} on host {self.host}"

    def is_gone(self) -> bool | None:
        """True when the process no longer runs; None when this process cannot tell (another
        machine or PID namespace)."""
        here = Worker.this_process()
        if (self.host, self.namespace) != (here.host, here.namespace):
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # a process of another user: it exists
        return bool(self.started) and _started(self.pid) != self.started


@dataclass(frozen=True)
class Holder:
    """A run holding a pool's slot or queued for it, and whether it can still free it."""

    run_id: str
    job: str
    dead: bool
    reason: str


def describe_holder(instance: dg.DagsterInstance, run_id: str) -> Holder:
    run = instance.get_run_by_id(run_id)
    if run is None:
        return Holder(run_id, "?", True, "the run no longer exists")
    if run.status in ENDED:
        return Holder(run_id, run.job_name, True, f"the run has ended ({run.status.value})")
    worker = Worker.from_tag(run.tags.get(WORKER_TAG))
    if worker is None:
        return Holder(run_id, run.job_name, False, f"{run.status.value}, its process unknown")
    gone = worker.is_gone()
    if gone:
        return Holder(run_id, run.job_name, True, f"its process ({worker}) is gone")
    if gone is None:
        return Holder(run_id, run.job_name, False, f"{run.status.value}, {worker}: another machine, which this run cannot see")
    return Holder(run_id, run.job_name, False, f"{run.status.value}, {worker}")


class PoolWait(InstanceConcurrencyContext):
    """Dagster's claims of pool slots for one run, waiting as the module says."""

    def __init__(self, instance: dg.DagsterInstance, dagster_run: dg.DagsterRun, log: Callable[[str], None]):
        super().__init__(instance, dagster_run)
        self._log = log
        self._since: dict[str, float] = {}
        self._told: dict[str, float] = {}
        self._looked = 0.0

    def claim(self, concurrency_key: str, step_key: str, step_priority: int = 0) -> bool:
        if step_key in self._since and check_captured_interrupt():
            raise DagsterExecutionInterruptedError(f"Stopped while step {step_key} waited for pool {concurrency_key}")
        if super().claim(concurrency_key, step_key, step_priority):
            if step_key in self._since:
                waited = time.monotonic() - self._since.pop(step_key)
                self._log(f"Step {step_key} took its slot in pool {concurrency_key} after waiting {waited:.0f} s")
            return True
        now = time.monotonic()
        self._since.setdefault(step_key, now)
        if step_key in self._pending_timeouts:  # Dagster backs off to 15 s between claims
            self._pending_timeouts[step_key] = min(self._pending_timeouts[step_key], time.time() + CLAIM_SECONDS)
        if now - self._looked < HOLDERS_SECONDS:
            return False
        self._looked = now
        holders = self._free_the_dead(concurrency_key)
        if holders is None:  # some were freed: try again at once
            self._pending_timeouts.pop(step_key, None)
            return self.claim(concurrency_key, step_key, step_priority)
        if now - self._told.get(step_key, -TELL_SECONDS) >= TELL_SECONDS:
            self._told[step_key] = now
            self._tell(concurrency_key, step_key, holders, now - self._since[step_key])
        return False

    def _free_the_dead(self, pool: str) -> list[Holder] | None:
        """The runs holding the pool's slots; None when some were dead and their slots freed."""
        storage = self._instance.event_log_storage
        info = storage.get_concurrency_info(pool)
        holding = dict.fromkeys(slot.run_id for slot in info.claimed_slots)
        queued = dict.fromkeys(step.run_id for step in info.pending_steps)
        freed = False
        holders = []
        for run_id in [*holding, *(run_id for run_id in queued if run_id not in holding)]:
            if run_id == self._run_id:
                continue
            holder = describe_holder(self._instance, run_id)
            if not holder.dead:
                if run_id in holding:
                    holders.append(holder)
                continue
            run = self._instance.get_run_by_id(run_id)
            if run is not None and run.status not in ENDED:
                self._instance.report_run_failed(
                    run,
                    f"Marked failed by run {self._run_id}, waiting for pool {pool}: {holder.reason}.",
                    JobFailureData(error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION),
                )
            storage.free_concurrency_slots_for_run(run_id)
            place = "the slot" if run_id in holding else "the place in the queue"
            self._log(f"Freed {place} of pool {pool} held by run {run_id} ({holder.job}): {holder.reason}")
            freed = True
        return None if freed else holders

    def _tell(self, pool: str, step_key: str, holders: list[Holder], waited: float) -> None:
        limit = self.get_pool_info(pool)
        held = "; ".join(f"run {holder.run_id} ({holder.job}, {holder.reason})" for holder in holders) or "runs queued before it"
        self._log(
            f"Step {step_key} waits for pool {pool} (limit {limit.limit if limit else '?'}, {waited:.0f} s so far): "
            f"held by {held}. It starts as soon as a slot is free. A run that died holding a slot is found "
            "here and its slot freed; one on another machine once it is marked failed (the run's page in the UI: "
            "Terminate, or Dagster's run monitoring). To stop waiting: SIGTERM this process, or Terminate this run in the UI."
        )

    def interval_to_next_pending_claim_check(self) -> float:
        """How long the executor sleeps before its next look: until the next claim, at most `POLL_SECONDS`
        (Dagster's own returns at most 0, and the loop spins)."""
        if not self._pending_claims:
            return 0.0
        due = min(self._pending_timeouts.values(), default=time.time()) - time.time()
        return max(0.0, min(due, POLL_SECONDS))


def _execution_iterator(job_context: PlanExecutionContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
    with PoolWait(job_context.instance, job_context.dagster_run, job_context.log.info) as pool_wait:
        yield from inner_plan_execution_iterator(job_context, execution_plan, pool_wait)


class SyncExecutor(InProcessExecutor):
    """`InProcessExecutor.execute`, with `PoolWait` and the run's `WORKER_TAG`."""

    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        worker = Worker.this_process()
        plan_context.instance.add_run_tags(plan_context.run_id, {WORKER_TAG: worker.to_tag()})
        steps = execution_plan.step_keys_to_execute
        yield DagsterEvent.engine_event(
            plan_context, f"Executing steps in process ({worker})", event_specific_data=EngineEventData.in_process(worker.pid, steps)
        )
        started = time.monotonic()
        yield from iter(
            ExecuteRunWithPlanIterable(
                execution_plan=plan_context.execution_plan,
                iterator=_execution_iterator,
                execution_context_manager=PlanExecutionContextManager(
                    job=plan_context.job,
                    retry_mode=plan_context.retry_mode,
                    execution_plan=plan_context.execution_plan,
                    run_config=plan_context.run_config,
                    dagster_run=plan_context.dagster_run,
                    instance=plan_context.instance,
                    raise_on_error=plan_context.raise_on_error,
                    output_capture=plan_context.output_capture,
                    step_dependency_config=self.step_dependency_config,
                ),
            )
        )
        yield DagsterEvent.engine_event(
            plan_context,
            f"Finished steps in process ({worker}) in {time.monotonic() - started:.1f} s",
            event_specific_data=EngineEventData.in_process(worker.pid, steps),
        )


@dg.executor(name="in_process", config_schema=IN_PROC_CONFIG)
def sync_executor(init_context: dg.InitExecutorContext) -> SyncExecutor:
    """Dagster's in-process executor (same name and config) whose wait for a pool survives a dead
    holder, sleeps, stops on SIGTERM and says what it waits for (see the module)."""
    base = dg.in_process_executor.executor_creation_fn(init_context)  # type: ignore[misc]
    return SyncExecutor(retries=base.retries, step_dependency_config=base.step_dependency_config)
