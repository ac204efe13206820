"""Where the engine's progress messages go: any callable taking one line (a Dagster logger's
`info`, `print`, a list's `append` in a test)."""

from collections.abc import Callable

Log = Callable[[str], None]


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`1 row`, `2 rows`, `10,000 tasks`: a count and its noun, for messages."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"
