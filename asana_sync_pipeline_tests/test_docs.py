"""The docs match the code: the settings reference is made from the engine's declarations, every
link resolves (files and headings), and the README stays short."""

import re
from pathlib import Path

from asana_sync_pipeline.lib.config import environment_reference, settings_reference

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"(?ms)^```.*?^```", "", path.read_text())
    return {_anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_every_link_of_the_docs_resolves():
    broken = []
    for doc in DOCS:
        text = re.sub(r"(?ms)^```.*?^```", "", doc.read_text())
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (doc.parent / file_part).resolve() if file_part else doc
            if not resolved.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []


def test_the_configuration_reference_is_made_from_the_settings_declared_in_the_engine():
    text = (ROOT / "docs" / "configuration.md").read_text()
    found = re.search(r"<!-- settings-reference[^>]*-->\n(.*?)\n<!-- end settings-reference -->", text, re.S)
    assert found, "docs/configuration.md lost its settings reference markers"
    assert found.group(1) == settings_reference(), (
        "docs/configuration.md is out of date: replace its settings reference with the output of "
        "`python -c 'from asana_sync_pipeline.lib.config import environment_reference, settings_reference; print(settings_reference())'`"
    )


def test_the_environment_reference_is_made_from_the_variables_declared_in_the_engine():
    text = (ROOT / "docs" / "configuration.md").read_text()
    found = re.search(r"<!-- environment-reference[^>]*-->\n(.*?)\n<!-- end environment-reference -->", text, re.S)
    assert found, "docs/configuration.md lost its environment reference markers"
    assert found.group(1) == environment_reference(), (
        "docs/configuration.md is out of date: replace its environment table with the output of "
        "`python -c 'from asana_sync_pipeline.lib.config import environment_reference; print(environment_reference())'`"
    )


def test_no_environment_variable_is_named_by_a_literal_outside_its_declaration():
    from asana_sync_pipeline.engine.environment import VARIABLES

    found = []
    for path in (ROOT / "asana_sync_pipeline").rglob("*.py"):
        if path == ROOT / "asana_sync_pipeline" / "engine" / "environment.py" or "emulator" in path.parts:
            continue
        text = path.read_text()
        found += [f"{path.relative_to(ROOT)}: {variable.name}" for variable in VARIABLES if f'"{variable.name}"' in text]
    assert found == []


def test_the_readme_is_short_and_maps_every_doc():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for doc in (ROOT / "docs").glob("*.md"):
        assert f"(docs/{doc.name})" in readme, f"the README's map misses docs/{doc.name}"


def test_the_asset_checks_the_configuration_names_are_those_each_asset_carries():
    from asana_sync_pipeline.lib.assets import PLAN_CHECKS, RUN_CHECKS

    row = next(line for line in (ROOT / "docs" / "configuration.md").read_text().splitlines() if line.startswith("| asset checks |"))
    on_payloads, on_tasks = row.split("on `N/asana_task_payloads`")
    assert sorted(re.findall(r"`(\w+)`", on_payloads)) == sorted(PLAN_CHECKS), "the payloads' checks"
    assert sorted(re.findall(r"`(\w+)`", on_tasks.split("on `N/asana_tasks`")[0])) == sorted(RUN_CHECKS), "the tasks' checks"
