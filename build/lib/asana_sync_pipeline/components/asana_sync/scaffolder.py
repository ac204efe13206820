"""`dg scaffold defs asana_sync_pipeline.AsanaSyncComponent <folder>`: a defs.yaml to fill in."""

from __future__ import annotations

from dagster.components.component.component_scaffolder import Scaffolder
from dagster.components.component_scaffolding import scaffold_component
from dagster.components.scaffold.scaffold import ScaffoldRequest

PROJECT_GID_HINT = "  # the Asana project's GID: the number after /0/ in its URL"


class AsanaSyncScaffolder(Scaffolder):
    """`dg scaffold defs asana_sync_pipeline.AsanaSyncComponent <folder>` writes a defs.yaml to fill in."""

    def scaffold(self, request: ScaffoldRequest) -> None:
        name = request.target_path.name.replace("-", "_").lower()
        scaffold_component(
            request,
            {
                "name": name,
                "model": {"query": f"SELECT * FROM {name}"},
                "project_gid": "",
                "primary_key": "id",
            },
        )
        if request.scaffold_format == "yaml" and not request.append:
            written = request.target_path / "defs.yaml"
            written.write_text(written.read_text().replace("project_gid: ''", f"project_gid: ''{PROJECT_GID_HINT}", 1))

