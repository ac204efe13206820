"""The engine is plain Python: importing every engine module loads no Dagster."""

import pkgutil
import subprocess
import sys

import asana_sync_pipeline.engine as engine


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
