"""Where the engine's progress messages go: any callable taking one line (a Dagster logger's
`info`, `print`, a list's `append` in a test)."""

from collections.abc import Callable

Log = Callable[[str], None]
