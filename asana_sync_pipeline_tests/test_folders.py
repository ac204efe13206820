"""The folders above the engine stack in one order, and no import runs back up it: the engine and
the emulator at the bottom, then the sample project and the Dagster surface, the component, the
code location (`definitions.py`), and the local tools at the top."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "asana_sync_pipeline"
FLOOR = {"engine": 0, "emulator": 0, "sample": 1, "lib": 1, "components": 2, "defs": 3, "definitions.py": 3, "local": 4}
"""Each folder's floor: a module may import its own floor and those below, never one above."""


def _target(path: Path, node: ast.ImportFrom) -> str:
    parts = ("asana_sync_pipeline", *path.relative_to(PACKAGE).parts[:-1])
    if not node.level:
        return node.module or ""
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join((*base, *(node.module.split(".") if node.module else ())))


def test_no_import_runs_back_up_the_folders():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        here = FLOOR.get(path.relative_to(PACKAGE).parts[0])
        if here is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            target = _target(path, node).split(".")
            if target[0] != "asana_sync_pipeline" or len(target) < 2:
                continue
            name = target[1] if target[1] in FLOOR else f"{target[1]}.py"
            there = FLOOR.get(name)
            if there is not None and there > here:
                upward.append(f"{path.relative_to(PACKAGE)} imports {'.'.join(target)}")
    assert upward == []
