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
  GET, POST /tasks/{gid}/stories                   (comments; system stories: the task's history)
  POST /tasks/{gid}/addTag, removeTag, addFollowers, removeFollowers, addProject,
       removeProject, setParent, addDependencies, removeDependencies, addDependents,
       removeDependents; GET /tasks/{gid}/dependencies, /tasks/{gid}/dependents
  POST /attachments (multipart/form-data, external links); GET /attachments?parent=T,
       GET, DELETE /attachments/{gid}
  GET  /task_templates?project=P, GET, DELETE /task_templates/{gid};
  POST /task_templates/{gid}/instantiateTask (a job); GET /jobs/{gid}
  GET  /events?resource=G&sync=T
  POST /batch (up to 10 actions, each charged as one request against the rate limit)
A request acts as its token's user: `--token` is `me`'s, the fixture's users may carry
tokens of their own (`auth`). Every project has a section ("Untitled section" if the
fixture names none) and every task in a project sits in one. The fixture format is
described in `fixture`; docs/emulator.md describes it all.

Not part of Asana's API, no token needed: the routes of `outside_api.TOKEN_FREE_ROUTES`
(counters, health, sync token expiry, undelete, and the app pages behind `permalink_url`,
which show Asana data only to a request with a token).

In front of the routes (`gate`): the token check (`auth`), the limits per token (`limits`:
a sliding window of `rate_limit_per_minute`, at most `max_concurrent_writes` (15) writes and
`max_concurrent_reads` (50) reads in flight), latency (`latency_ms`), and faults on writes
(`faults`: error_500, error_503, spurious_429, reset_before, reset_after; `slow_rate` /
`slow_seconds`; `seed`), counted in `stats`.

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
