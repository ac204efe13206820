"""How one emulator behaves: its token, fixture, limits and faults.

One dataclass, so that the CLI flags, `create_app` and `EmulatorServer` share a
single definition (each CLI flag is the field of the same name).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .auth import DEFAULT_TOKEN
from .fixture import read_fixture_file

FAULT_KINDS = ("error_500", "error_503", "spurious_429", "reset_before", "reset_after")


def default_fixture(tokens: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The bundled workspace (read as package data, so it works from an installed wheel); `tokens`
    (a user's email -> a token of their own) lets those people act in it under their own names."""
    text = resources.files("asana_sync_pipeline.emulator").joinpath("default_fixture.json").read_text()
    found = json.loads(text)
    for user in found["users"]:
        if user.get("email") in (tokens or {}):
            user["token"] = (tokens or {})[user["email"]]
    return found


@dataclass
class EmulatorSettings:
    """Settings of one emulator; the token is kept out of `repr` so it never lands in a log."""

    token: str = field(default=DEFAULT_TOKEN, repr=False)
    """The token of `me`; the fixture's users may carry tokens of their own (see `auth`)."""
    project_gid: str | None = None
    latency_ms: float = 0
    rate_limit_per_minute: int | None = None
    rate_window_seconds: float = 60.0
    """Asana counts its limit over a sliding minute; a shorter window (the same rate: 600/min over 6 s
    is 60 requests) lets a test see a limit shared or overrun in seconds."""
    max_concurrent_writes: int = 15
    max_concurrent_reads: int = 50
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    seed: int | None = None
    access_log: bool = False
    events_token_ttl_seconds: float | None = None
    job_seconds: float | None = None
    """How long a template instantiation job takes (default: the fixture's `job_seconds`, else 0.2 s)."""
    max_concurrent_jobs: int = 5
    """Template instantiation jobs of one user running at once before a 429 (Asana: about 5)."""
    fixture: str | Path | dict[str, Any] | None = field(default=None, repr=False)
    data_file: str | Path | None = None
    """Keep the workspace in this JSON file: loaded at start when it exists (then the fixture is the
    one saved in it), saved as it changes and when the emulator stops (see `data_file`)."""

    def __post_init__(self) -> None:
        if isinstance(self.fault_kinds, str):
            self.fault_kinds = tuple(kind.strip() for kind in self.fault_kinds.split(",") if kind.strip())
        self.fault_kinds = tuple(self.fault_kinds)
        unknown = sorted(set(self.fault_kinds) - set(FAULT_KINDS))
        if unknown:
            raise ValueError(f"unknown fault kinds: {', '.join(unknown)} (known: {', '.join(FAULT_KINDS)})")
        if not self.token or any(character.isspace() for character in self.token):
            raise ValueError("the token must be non-empty and contain no whitespace")
        for name in ("fault_rate", "slow_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.fault_rate and not self.fault_kinds:
            raise ValueError("fault_rate needs at least one fault kind")
        if self.rate_limit_per_minute is not None and self.rate_limit_per_minute < 1:
            raise ValueError("rate_limit_per_minute must be at least 1 (None means unlimited)")
        if self.rate_window_seconds <= 0:
            raise ValueError("rate_window_seconds must be positive")
        if self.max_concurrent_writes < 1 or self.max_concurrent_reads < 1:
            raise ValueError("concurrency limits must be at least 1")
        if self.events_token_ttl_seconds is not None and self.events_token_ttl_seconds <= 0:
            raise ValueError("events_token_ttl_seconds must be positive (None: tokens never expire)")
        if self.job_seconds is not None and self.job_seconds < 0:
            raise ValueError("job_seconds cannot be negative")
        if self.max_concurrent_jobs < 1:
            raise ValueError("max_concurrent_jobs must be at least 1")
        if self.latency_ms < 0 or self.slow_seconds < 0:
            raise ValueError("latency_ms and slow_seconds cannot be negative")
        if self.project_gid is not None and not str(self.project_gid).isdigit():
            raise ValueError("project_gid must be numeric")

    def load_fixture(self) -> dict[str, Any]:
        """The fixture as JSON data (checked when the store is built); `FixtureError` for a bad file."""
        if self.fixture is None:
            return default_fixture()
        if isinstance(self.fixture, dict):
            return self.fixture
        return read_fixture_file(self.fixture)
