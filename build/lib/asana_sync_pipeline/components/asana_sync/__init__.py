"""`AsanaSyncComponent`: one sync declared in YAML, and its scaffolder."""

from .component import AsanaSyncComponent
from .scaffolder import AsanaSyncScaffolder

__all__ = ["AsanaSyncComponent", "AsanaSyncScaffolder"]
