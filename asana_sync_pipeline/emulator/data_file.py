"""An emulator that remembers (`--data-file FILE`): its workspace saved to a JSON file as it
changes, and loaded from it at the next start, so that a local loop (sync, edit in "Asana",
sync again) survives a restart of the emulator.

The file holds the fixture the workspace was made from (so it needs no `--fixture` to be
loaded again) and everything the API changed since: tasks, subtasks, stories, attachments, the
trash, tags and sections created, the events and the sync tokens handed out (valid again for
as long as `events_token_ttl_seconds` says, counted from the load), the templates still there,
and the GID sequences. It holds no token: tokens come from the settings and the fixture, as
ever. Template jobs still running when it is saved are not kept (their task, once made, is).

Saved within `SAVE_SECONDS` of each change (a write request, an undelete, a template job's
task) by a background thread, at once when the emulator stops, and written atomically (a
temporary file renamed over it), so a crash leaves the last complete save.

Loading checks that the file is one (`DataFileError` otherwise) and that a `--fixture` or
`--project-gid` given beside it is the one it was made with: a workspace is not silently
replaced by another (remove the file to start afresh).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import asdict
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .events import Event, _Token
from .fixture import FixtureError
from .stories import Story

if TYPE_CHECKING:
    from .store import AsanaStore, Task

FORMAT = "asana-emulator-data/1"
SAVE_SECONDS = 0.5


class DataFileError(FixtureError):
    """A data file that cannot be used: unreadable, not one, or made from another fixture."""


def read_data_file(path: str | Path) -> dict[str, Any] | None:
    """The saved workspace, or None when the file does not exist yet (a first start)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataFileError(f"cannot read the data file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise DataFileError(f"the data file {path} is not valid JSON ({exc}); remove it to start afresh") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataFileError(f"{path} is not an emulator data file ({FORMAT}); remove it or name another file")
    return data


def check_same_origin(path: str | Path, data: dict[str, Any], fixture: dict[str, Any] | None, project_gid: str | None) -> None:
    """A fixture or project GID given beside a data file must be the one it was made with."""
    if fixture is not None and fixture != data["fixture"]:
        raise DataFileError(
            f"the data file {path} holds a workspace made from another fixture; give the fixture it was made with "
            "(or none), or remove the file to start afresh from this one"
        )
    if project_gid is not None and project_gid != data["project_gid"]:
        raise DataFileError(
            f"the data file {path} holds a workspace whose project is {data['project_gid']}, not {project_gid}; "
            "remove the file to start afresh"
        )


def _next(counter: count) -> tuple[int, count]:
    """The next value of `counter`, and a counter that still starts there."""
    value = next(counter)
    return value, count(value)


def snapshot(store: AsanaStore, fixture: dict[str, Any], project_gid: str | None) -> dict[str, Any]:
    """Everything the API can change, as JSON data (taken under the store's lock)."""
    with store.lock, store.events._lock:
        next_task, store._gids = _next(store._gids)
        next_object, store._object_gids = _next(store._object_gids)
        return {
            "format": FORMAT,
            "fixture": fixture,
            "project_gid": project_gid,
            "next_task_gid": next_task,
            "next_object_gid": next_object,
            "clock": store.now.last.isoformat(),
            "tags": list(store.tags.values()),
            "sections": list(store.sections.values()),
            "project_sections": store.project_sections,
            "tasks": [asdict(task) for task in store.tasks.values()],
            "children": store.children,
            "stories": {gid: [asdict(story) for story in stories] for gid, stories in store.stories.items()},
            "attachments": list(store.attachments.values()),
            "trash": {
                gid: {"task": asdict(task), "stories": [asdict(story) for story in stories], "attachments": attachments}
                for gid, (task, stories, attachments) in store.trash.items()
            },
            "events": [{"record": event.record, "streams": sorted(event.streams)} for event in store.events._events],
            "event_tokens": {token: [held.resource, held.seq] for token, held in store.events._tokens.items()},
            "templates": sorted(store.templates.templates),
        }


def _task(data: dict[str, Any]) -> Task:
    from .store import Task

    return Task(**{**data, "memberships": [tuple(pair) for pair in data["memberships"]]})


def restore(store: AsanaStore, data: dict[str, Any]) -> None:
    """Put a snapshot back into a store freshly made from the same fixture."""
    from datetime import datetime

    with store.lock, store.events._lock:
        store._gids = count(int(data["next_task_gid"]))
        store._object_gids = count(int(data["next_object_gid"]))
        store.now.last = datetime.fromisoformat(data["clock"])
        store.tags = {tag["gid"]: tag for tag in data["tags"]}
        store.sections = {section["gid"]: section for section in data["sections"]}
        store.project_sections = {project: list(sections) for project, sections in data["project_sections"].items()}
        store.tasks = {task["gid"]: _task(task) for task in data["tasks"]}
        store.children = {parent: list(children) for parent, children in data["children"].items()}
        store.stories = {gid: [Story(**story) for story in stories] for gid, stories in data["stories"].items()}
        store.attachments = {attachment["gid"]: attachment for attachment in data["attachments"]}
        store.trash = {
            gid: (_task(held["task"]), [Story(**story) for story in held["stories"]], held["attachments"])
            for gid, held in data["trash"].items()
        }
        events = store.events
        events._events = [Event(seq, event["record"], frozenset(event["streams"])) for seq, event in enumerate(data["events"], 1)]
        now = time.monotonic()
        events._tokens = {token: _Token(resource, int(seq), now) for token, (resource, seq) in data["event_tokens"].items()}
        kept = set(data["templates"])
        store.templates.templates = {gid: template for gid, template in store.templates.templates.items() if gid in kept}


class DataFile:
    """Keeps one store saved in one file: `changed()` after a change, `start()` the saving thread,
    `stop()` (saves a last time)."""

    def __init__(self, path: str | Path, store: AsanaStore, fixture: dict[str, Any], project_gid: str | None):
        self.path = Path(path)
        self.store = store
        self.fixture = fixture
        self.project_gid = project_gid
        self._changes = 0
        self._saved = -1
        self._events_saved = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def changed(self) -> None:
        self._changes += 1

    def _dirty(self) -> bool:
        # a template job's task comes after its request: its events tell
        return self._changes != self._saved or len(self.store.events._events) != self._events_saved

    def save(self) -> None:
        """Write the workspace now (atomically), if it changed since the last save."""
        with self._lock:
            if not self._dirty():
                return
            changes, events = self._changes, len(self.store.events._events)
            data = snapshot(self.store, self.fixture, self.project_gid)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
            os.replace(temporary, self.path)
            self._saved, self._events_saved = changes, events

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self.save()  # a first start writes the fixture's workspace at once
        self._thread = threading.Thread(target=self._run, name="asana-emulator-data-file", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        told = False
        while not self._stop.wait(SAVE_SECONDS):
            try:
                self.save()
            except OSError as exc:  # a full or read-only disk: say so once, keep serving, try again
                if not told:
                    print(f"asana emulator: cannot save {self.path}: {exc.strerror or exc}", file=sys.stderr, flush=True)
                told = True

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.save()


class MarkChanges:
    """ASGI middleware: every request that may change the workspace (any method but GET and HEAD,
    whether or not it succeeds) tells the data file."""

    def __init__(self, app: Any, data_file: DataFile):
        self.app = app
        self.data_file = data_file

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
                self.data_file.changed()
