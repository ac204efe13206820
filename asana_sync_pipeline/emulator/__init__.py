"""A local Asana for development, tests, benchmarks and the demo.

Real HTTP (Starlette + uvicorn) serving Asana's REST API under /api/1.0, with
Asana's response shapes, validation rules, error bodies, pagination, bearer-token
check, rate and concurrency limits, plus latency and fault injection.

API served (all under /api/1.0, bodies wrapped in `{"data": ...}`):
  GET  /users/me, /users/{gid|me|email}, /users?workspace=G, /workspaces/{gid}/users
  GET  /workspaces, /workspaces/{gid}, /workspaces/{gid}/tags, /tags/{gid}, /tags/{gid}/tasks
  GET  /projects/{gid}, /projects/{gid}/custom_field_settings, /projects/{gid}/sections,
       /projects/{gid}/tasks, /sections/{gid}, /sections/{gid}/tasks
  GET  /tasks?project=G|section=S|assignee=U&workspace=W [modified_since, completed_since]
  POST /tasks; GET, PUT, DELETE /tasks/{gid}; GET /tasks/{gid}/subtasks
  POST /tasks/{gid}/addTag, removeTag, addFollowers, removeFollowers, addProject,
       removeProject, setParent
  POST /batch (up to 10 actions, each charged as one request against the rate limit)

Not part of Asana's API (no token needed):
  GET  /_emulator/stats        requests by method and by status, write requests, batch
                               actions, 429s from the limits (`rate_limited`), faults by
                               kind, requests in flight and their peaks
                               (`max_writes_in_flight`, `max_reads_in_flight`), `tasks` held
  POST /_emulator/reset_stats  zero the counters (tasks are kept)
  GET  /_emulator/health       {"ok": true}

Limits (per token): `rate_limit_per_minute` (sliding 60-s window; rejected requests
count too; 429 with `Retry-After` = seconds until the window admits one more, and
Asana's body), at most `max_concurrent_writes` (15) writes and
`max_concurrent_reads` (50) reads in flight (429, `Retry-After: 1`). Latency
(`latency_ms`) is added to every admitted request while it holds its slot.

Faults (a fraction `fault_rate` of writes, kind drawn uniformly from `fault_kinds`):
  error_500     500 with a `phrase`, nothing done
  error_503     503, nothing done
  spurious_429  429 with `Retry-After: 1`, nothing done
  reset_before  TCP reset before processing, no response; nothing done
  reset_after   processed (the task IS created/updated), then TCP reset, no response
`slow_rate` / `slow_seconds`: processed, then answered only after `slow_seconds`.
`seed` makes the draws reproducible.

The token is never printed or logged; `EmulatorSettings` keeps it out of its repr.
"""

from __future__ import annotations

from .app import create_app
from .settings import FAULT_KINDS, EmulatorSettings, default_fixture
from .server import EmulatorServer
from .store import AsanaStore

__all__ = ["AsanaStore", "EmulatorServer", "EmulatorSettings", "FAULT_KINDS", "create_app", "default_fixture"]
