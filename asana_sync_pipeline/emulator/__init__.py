"""A local Asana for development, tests, benchmarks and the demo.

Real HTTP (Starlette + uvicorn) serving Asana's REST API under /api/1.0, with
Asana's response shapes, validation rules, error bodies, pagination, bearer-token
check, rate and concurrency limits, plus latency and fault injection.

API served (all under /api/1.0, bodies wrapped in `{"data": ...}`; answers as Asana's
OpenAPI spec documents them, which the tests check for every answer):
  GET  /users/me, /users/{gid|me|email}, /users?workspace=G (paged), /workspaces/{gid}/users
  GET  /workspaces, /workspaces/{gid}, /workspaces/{gid}/tags, /tags/{gid}, /tags/{gid}/tasks
  POST /workspaces/{gid}/tags                      (names need not be unique)
  GET  /projects/{gid}, /projects/{gid}/custom_field_settings, /projects/{gid}/sections,
       /projects/{gid}/tasks, /sections/{gid}, /sections/{gid}/tasks
  POST /projects/{gid}/sections, /sections/{gid}/addTask
  GET  /tasks?project=G|section=S|assignee=U&workspace=W [modified_since, completed_since]
  POST /tasks; GET, PUT, DELETE /tasks/{gid}; GET /tasks/{gid}/subtasks
  GET, POST /tasks/{gid}/stories                   (comments; system stories on joining a project)
  POST /tasks/{gid}/addTag, removeTag, addFollowers, removeFollowers, addProject,
       removeProject, setParent
  POST /batch (up to 10 actions, each charged as one request against the rate limit)
Every project has a section ("Untitled section" if the fixture names none) and every
task in a project sits in one. The fixture format is described in `fixture`.

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
  reset_after   processed (the write IS done: task, comment, tag...), then TCP reset, no response
`slow_rate` / `slow_seconds`: processed, then answered only after `slow_seconds`.
`seed` makes the draws reproducible.

Observers (`create_app(..., observers=)`, `EmulatorServer(..., observers=)`, or
`observe.observing(callback)` for every emulator of the process) see each answer.

The token is never printed or logged; `EmulatorSettings` keeps it out of its repr.
"""

from __future__ import annotations

from .app import create_app
from .fixture import FixtureError
from .observe import Exchange, observing
from .server import EmulatorServer
from .settings import FAULT_KINDS, EmulatorSettings, default_fixture
from .store import AsanaStore

__all__ = [
    "AsanaStore", "EmulatorServer", "EmulatorSettings", "Exchange", "FAULT_KINDS", "FixtureError", "create_app",
    "default_fixture", "observing",
]
