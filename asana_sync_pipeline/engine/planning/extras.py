"""Asana beyond one task, in the plan: what a row asks for besides its task's fields.

- `links`: the `depends_on` and `attachments` columns, canonical per row (JSON arrays), kept out of
  the row's values (and so of its payload hash and of what the state records as written): what the
  sync set of them is recorded on its own (`state.TaskLink`), and compared every run.
- `dependency_levels`: `depends_on` names other rows by primary key; a key that is no row, a row
  depending on itself, or a cycle rejects the row; the rest get a level (with `parent_key`'s) so the
  tasks depended on are created first.
- `template`: the task template new tasks are made from (`task_template`), as read once per run.
- `adopt_values`: the values of `adopt_existing`'s column, per row; `adoptions`: what a dry run saw
  would be adopted.

Pure: no requests (the runner reads the template and lists the project).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..fields.templates import TemplateRef
from ..fields.value_rules import ATTACHMENTS, DEPENDS_ON, is_null
from ..state import ATTACHMENT, DEPENDENCY, TaskLink

NEW_TASK = "(the new task of row {key})"
"""How a preview names the task a row is about to get."""
UNKNOWN_DEPENDENCY = "depends_on {key!r} is not the primary key of a row of the model"
OWN_DEPENDENCY = "a row cannot depend on itself"
DEPENDENCY_CYCLE = "depends_on makes a cycle: {cycle}"
MIXED_CYCLE = "depends_on and parent_key make a cycle: {cycle}"


@dataclass(frozen=True)
class Adoption:
    """A task of the project that a row without a task would adopt (`adopt_existing`), or the reason it cannot."""

    key: str
    task_gid: str | None
    value: str
    task_name: str = ""
    reason: str | None = None


@dataclass
class LinkWork:
    """What one row's task needs so that its links are the row's: dependencies to add and to remove (task
    GIDs), attachments to add ([url, name]) and to delete (the records of those the sync made), records to
    drop without a request (links of a task the row no longer has), and rows depended on that have no task
    yet (their link waits)."""

    key: str
    task_gid: str
    add_dependencies: list[str] = field(default_factory=list)
    remove_dependencies: list[str] = field(default_factory=list)
    add_attachments: list[tuple[str, str]] = field(default_factory=list)
    delete_attachments: list[TaskLink] = field(default_factory=list)
    unsettled: list[TaskLink] = field(default_factory=list)
    """Attachments whose POST is not known to have succeeded (an intent left by a crash or a lost answer)."""
    stale: list[TaskLink] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.add_dependencies or self.remove_dependencies or self.add_attachments or self.delete_attachments
            or self.unsettled or self.stale or self.waiting
        )  # fmt: skip

    @property
    def requests(self) -> bool:
        """Whether the work needs Asana (not only forgetting stale records)."""
        return bool(self.add_dependencies or self.remove_dependencies or self.add_attachments or self.delete_attachments or self.unsettled)


@dataclass
class Extras:
    """What the plan holds beyond each task's fields (see the module doc)."""

    links: dict[str, np.ndarray] = field(default_factory=dict)
    template: TemplateRef | None = None
    adopt_values: np.ndarray | None = None
    adoptions: list[Adoption] | None = None
    """What a dry run found it would adopt (None: not looked)."""
    planned_links: list[LinkWork] | None = None
    """What a dry run found the run would do to the tasks' dependencies and attachments (None: not looked)."""

    def link_values(self, name: str, position: int) -> list[Any]:
        """The row's canonical `depends_on` keys or `attachments` ([url, name] pairs); empty when none."""
        column = self.links.get(name)
        if column is None or is_null(column[position]):
            return []
        return list(json.loads(column[position]))

    def dependencies_of(self, position: int) -> list[str]:
        return [str(key) for key in self.link_values(DEPENDS_ON, position)]

    def attachments_of(self, position: int) -> list[tuple[str, str]]:
        return [(str(url), str(name)) for url, name in self.link_values(ATTACHMENTS, position)]


NO_EXTRAS = Extras()


def extras_of(plan: Any) -> Extras:
    """A plan's extras (a plan stored before they existed has none)."""
    return getattr(plan, "extras", None) or NO_EXTRAS


def dependency_levels(
    keys: np.ndarray, depends_on: np.ndarray, parents: np.ndarray, blocked: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's level over `parent_key` and `depends_on` together (a row after its parent and after the
    rows it depends on), and (mask, reasons) of the rows `depends_on` rejects.

    `depends_on`: each row's canonical keys (a JSON array, or None); `parents`: each row's parent row
    (-1: none), as `lifecycle.parent_levels` found them; `blocked`: rows already rejected, whose links are
    not followed (a row depending on one waits for its task; it is not rejected for it)."""
    size = len(keys)
    first = np.flatnonzero(~pd.Index(keys, dtype=object).duplicated(keep="first") & pd.notna(keys))
    position_of = {keys[at]: int(at) for at in first}
    reasons = np.full(size, None, dtype=object)
    edges: list[list[int]] = [[] for _ in range(size)]
    for row in range(size):
        if blocked[row]:
            continue
        if parents[row] >= 0 and not blocked[parents[row]]:
            edges[row].append(int(parents[row]))
        value = depends_on[row]
        if is_null(value):
            continue
        for key in json.loads(value):
            at = position_of.get(str(key))
            if at is None:
                reasons[row] = reasons[row] or UNKNOWN_DEPENDENCY.format(key=key)
            elif at == row:
                reasons[row] = reasons[row] or OWN_DEPENDENCY
            elif not blocked[at]:
                edges[row].append(at)
    for refused in np.flatnonzero(pd.notna(reasons)):
        edges[refused] = []
    levels = np.zeros(size, dtype=np.int64)
    state = np.zeros(size, dtype=np.int8)  # 0 unvisited, 1 on the path, 2 done
    for start in range(size):
        if state[start]:
            continue
        path: list[tuple[int, int]] = [(start, 0)]
        state[start] = 1
        while path:
            row, next_edge = path[-1]
            if next_edge < len(edges[row]):
                path[-1] = (row, next_edge + 1)
                before = edges[row][next_edge]
                if state[before] == 0:
                    state[before] = 1
                    path.append((before, 0))
                elif state[before] == 1:
                    members = [member for member, _ in path]
                    cycle = members[members.index(before) :]
                    ring = [*cycle, cycle[0]]
                    shown = " -> ".join(str(keys[member]) for member in ring)
                    through_parent = any(parents[member] == after for member, after in zip(ring, ring[1:]))
                    reason = (MIXED_CYCLE if through_parent else DEPENDENCY_CYCLE).format(cycle=shown)
                    for member in cycle:
                        reasons[member] = reasons[member] or reason
                    edges[row] = [edge for edge in edges[row] if edge != before]
                    path[-1] = (row, next_edge)
                continue
            path.pop()
            state[row] = 2
            levels[row] = max((levels[before] + 1 for before in edges[row] if reasons[before] is None), default=0)
    rejected = pd.notna(reasons)
    levels[rejected] = 0
    return levels, rejected, reasons


def link_work(extras: Extras, position: int, key: str, task_gid: str, tasks: dict[str, str], recorded: list[TaskLink]) -> LinkWork:
    """The row's link work (pure): what it asks for (`extras`, a column the model lacks asks for nothing and
    leaves what the sync set), against what the sync set on its task (`recorded`: its `TaskLink`s). Only
    links the sync set are ever removed; `tasks`: row key -> task GID of every row that has a task."""
    work = LinkWork(key, task_gid)
    current = [link for link in recorded if link.task_gid == task_gid]
    work.stale = [link for link in recorded if link.task_gid != task_gid]
    if DEPENDS_ON in extras.links:
        wanted: list[str] = []
        for other in extras.dependencies_of(position):
            gid = tasks.get(other)
            if gid is None:
                work.waiting.append(other)
            elif gid not in wanted:
                wanted.append(gid)
        have = [link.target for link in current if link.kind == DEPENDENCY]
        work.add_dependencies = [gid for gid in wanted if gid not in have]
        work.remove_dependencies = [gid for gid in have if gid not in wanted]
    if ATTACHMENTS in extras.links:
        wanted_links = dict(extras.attachments_of(position))
        made = {link.target: link for link in current if link.kind == ATTACHMENT}
        work.unsettled = [link for link in made.values() if link.link_gid is None]
        for url, name in wanted_links.items():
            link = made.get(url)
            if link is None or (link.link_gid is not None and link.name != name):
                work.add_attachments.append((url, name))
        work.delete_attachments = [
            link for url, link in made.items()
            if link.link_gid is not None and (url not in wanted_links or wanted_links[url] != link.name)
        ]  # fmt: skip
    return work
