"""The engine is plain Python, layered: importing it loads no Dagster, and its imports point down
the stages (a row's way through the engine), never back up."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import asana_sync_pipeline.engine as engine

ENGINE = Path(engine.__file__).parent
LAYERS = ["", "asana", "model", "state", "fields", "planning", "observing", "writing", "outcomes", "runner"]
"""Bottom to top: "" is the engine's foundation (errors, settings, exact JSON, the log type)."""


def test_engine_modules_import_no_dagster():
    modules = [info.name for info in pkgutil.walk_packages(engine.__path__, prefix=f"{engine.__name__}.")]
    assert len(modules) >= 10
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0].startswith('dagster')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _layer(parts: tuple[str, ...]) -> int:
    """The layer of a module given by its path inside the engine (("writing", "creates"), ("settings",))."""
    if parts and parts[0] in LAYERS:
        return LAYERS.index(parts[0])
    return 0


def _imported(path: Path) -> list[tuple[str, ...]]:
    """Engine modules `path` imports, as paths inside the engine."""
    package = path.relative_to(ENGINE).parent.parts
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = (*base, *(node.module.split(".") if node.module else ()))
            elif node.module and node.module.startswith(engine.__name__ + "."):
                target = tuple(node.module.split(".")[2:])
            else:
                continue
            found.append(target or tuple(alias.name for alias in node.names[:1]))
        elif isinstance(node, ast.Import):
            found += [tuple(alias.name.split(".")[2:]) for alias in node.names if alias.name.startswith(engine.__name__ + ".")]
    return found


def test_engine_imports_point_down_the_stages():
    upward = []
    for path in sorted(ENGINE.rglob("*.py")):
        own = path.relative_to(ENGINE).with_suffix("").parts
        if own[-1] == "__init__":
            own = own[:-1]
        if not own:
            continue  # the engine's face stands above every stage: it hands their names on
        for target in _imported(path):
            if _layer(target) > _layer(own):
                upward.append(f"{'/'.join(own)} imports {'.'.join(target)}")
    assert upward == [], "imports running back up the engine's stages"


def test_the_engine_imports_nothing_of_the_dagster_layer_above_it():
    outside = []
    for path in ENGINE.rglob("*.py"):
        depth = len(path.relative_to(ENGINE).parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (
                node.level > depth
                or (node.level == 0 and (node.module or "").startswith("asana_sync_pipeline")
                    and not (node.module or "").startswith(engine.__name__))
            ):
                outside.append(f"{path.relative_to(ENGINE)}: {'.' * node.level}{node.module}")
    assert outside == []


def test_the_layers_above_reach_the_engine_only_through_its_face():
    """The Dagster layer, the component and the local tools import `asana_sync_pipeline.engine` (its
    `__all__`), never a module inside it."""
    package = ENGINE.parent
    inside = []
    for path in package.rglob("*.py"):
        parts = path.relative_to(package).parts
        if parts[0] in ("engine", "emulator"):
            continue
        location = ("asana_sync_pipeline", *parts[:-1])
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = location[: len(location) - (node.level - 1)]
                target = ".".join((*base, *(node.module.split(".") if node.module else ())))
            else:
                target = node.module or ""
            if target.startswith(engine.__name__ + "."):
                inside.append(f"{path.relative_to(package)}: {target}")
            elif target == engine.__name__:
                unknown = [alias.name for alias in node.names if alias.name not in engine.__all__]
                inside += [f"{path.relative_to(package)}: {name} is not in the engine's __all__" for name in unknown]
    assert inside == []
