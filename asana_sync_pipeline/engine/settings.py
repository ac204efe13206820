"""Typed, validated settings: how rows become tasks (`SyncSettings`) and how to reach
Asana (`AsanaSettings`).

Values arrive from YAML, run config and environment variables, typed by people:
each is checked once here, with a message naming the setting and what to do,
so the rest of the engine can trust them. Pasting mistakes that have only one
meaning (a token with a trailing newline or a `Bearer ` prefix, `UPSERT` in
capitals) are cleaned rather than refused.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, field, fields
from enum import Enum, StrEnum
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from . import environment
from .errors import SyncConfigError

GID_PATTERN = re.compile(r"^[0-9]+$")
DEFAULT_BASE_URL = str(environment.BASE_URL.default)
API_PATH = "/api/1.0"
DEFAULT_TOKEN_ENV = environment.ACCESS_TOKEN.name


class Choice(StrEnum):
    """A setting with a few named values, accepted in any case and with surrounding spaces."""

    @classmethod
    def refused(cls, value: object) -> str:
        """The message for a value that is none of the choices."""
        return f"{value!r} is not one of {', '.join(choice.value for choice in cls)}"

    @classmethod
    def parse(cls, value: object) -> Any:
        if isinstance(value, cls):
            return value
        candidate = str(value).strip().lower()
        for choice in cls:
            if choice.value == candidate:
                return choice
        raise SyncConfigError(cls.refused(value))


class SyncMode(Choice):
    """What a sync may do to tasks: create them, update them, or both."""

    INSERT = "insert"
    UPDATE = "update"
    UPSERT = "upsert"

    @classmethod
    def refused(cls, value: object) -> str:
        return (
            f"sync_mode {value!r} is not supported for Asana; supported modes: "
            f"{', '.join(mode.value for mode in cls)}. Asana has no audience or membership sync (tasks are not "
            "members of a list), and no mirror mode: what happens to the tasks of rows that leave the model is "
            "on_row_removed (keep, complete or delete)."
        )

    @property
    def creates(self) -> bool:
        return self is not SyncMode.UPDATE

    @property
    def updates(self) -> bool:
        return self is not SyncMode.INSERT


SYNC_MODES = tuple(mode.value for mode in SyncMode)


class RemovalPolicy(Choice):
    """What happens to the task of a row that left the model."""

    KEEP = "keep"
    COMPLETE = "complete"
    DELETE = "delete"

    @classmethod
    def refused(cls, value: object) -> str:
        return (
            f"on_row_removed {value!r} is not a policy; choose keep (leave the task), complete (mark it done) "
            "or delete (move it to Asana's trash)"
        )


class FieldPolicy(Choice):
    """Who owns a field once the task exists: the model, or the people working in Asana."""

    SYNC = "sync"
    SKIP_NULLS = "skip_nulls"
    ON_CREATE = "on_create"
    IF_EMPTY = "if_empty"

    @classmethod
    def refused(cls, value: object) -> str:
        return (
            f"field_policies: {value!r} is not a policy; choose sync (the model's value, a NULL clears), "
            "skip_nulls (a NULL never clears), on_create (written when the task is created, then left to people) "
            "or if_empty (written only while the task's field is empty in Asana)"
        )


class TaskDeletedPolicy(Choice):
    """What happens to a row whose task a person deleted in Asana."""

    RECREATE = "recreate"
    RELEASE = "release"

    @classmethod
    def refused(cls, value: object) -> str:
        return (
            f"on_task_deleted {value!r} is not a policy; choose recreate (the row is still in the model: its task "
            "comes back in the same run) or release (the row is forgotten and reported, not recreated)"
        )


class EditPolicy(Choice):
    """What happens to a synced field a person changed in Asana."""

    KEEP = "keep"
    OVERWRITE = "overwrite"

    @classmethod
    def refused(cls, value: object) -> str:
        return (
            f"on_asana_edit {value!r} is not a policy; choose keep (a person's value stays until the model's value "
            "changes) or overwrite (the model's value is sent again in the same run)"
        )


def check_fraction(value: object, setting: str) -> float:
    """A share of tasks or rows, from 0 to 1."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SyncConfigError(f"{setting} must be a number between 0 and 1, got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise SyncConfigError(f"{setting} must be between 0 and 1, got {value!r}")
    return number


_TOKEN_SHAPE = re.compile(r"\d/\d+(?:/\d+)?:\w{8,}")
"""An Asana personal access token (`1/<user>:<hex>`, `2/<user>/<app>:<hex>`), anywhere in a value."""
_UNBROKEN = re.compile(r"\S{20,}")
"""20 characters or more without a space: a token, a password, a URL with a secret in it."""
_ASANA_PAGE = re.compile(r"https://app\.asana\.com/[\w/?=&.-]*")
"""A page of Asana's app (a project's URL pasted whole): never a secret."""


def shown(value: object) -> str:
    """A value refused in configuration, for its error message: as given (quoted) when it cannot be a
    secret, else what it is without it (messages reach terminals, run logs and Dagster's storage)."""
    text = str(value)
    if _TOKEN_SHAPE.search(text):
        return (
            f"a value of {len(text)} characters shaped like an access token (not shown). A token goes in the variable "
            f"the sync reads its token from ({DEFAULT_TOKEN_ENV}, or the one its access_token_env names), never here"
        )
    if _UNBROKEN.search(text.strip()) and not _ASANA_PAGE.fullmatch(text.strip()):
        return f"a value of {len(text)} characters, not only digits (not shown: it could be a secret)"
    return repr(value)


def check_gid(value: str | int | None, setting: str, *, hint: str = "") -> str:
    """A GID given in configuration: digits only (surrounding spaces forgiven)."""
    candidate = str(value if value is not None else "").strip()
    if not GID_PATTERN.match(candidate):
        raise SyncConfigError(f"{setting} must contain only digits, got {shown(value)}.{' ' + hint if hint else ''}")
    return candidate


def check_project_gid(project_gid: str | None) -> str:
    """Project GIDs are digits only; anything else is a configuration error, before any request."""
    candidate = (project_gid or "").strip()
    if not GID_PATTERN.match(candidate):
        raise SyncConfigError(
            f"Project GID must contain only digits, got {shown(project_gid)}. Open the project in Asana and copy "
            "the number after /0/ in its URL (https://app.asana.com/0/<project GID>/list) into ASANA_PROJECT_GID "
            "(or the sync's project_gid)."
        )
    return candidate


def _setting(default: object, description: str, *, env: str | None = None, **options: Any) -> Any:
    """A setting: its default, the description users read (Launchpad, component docs, the
    configuration reference) and, for connection settings, the environment variable that
    sets it for every sync."""
    metadata = {"description": description, "env": env}
    if "default_factory" in options:
        return field(metadata=metadata, **options)
    return field(default=default, metadata=metadata, **options)


@dataclass(frozen=True)
class Described:
    """One setting as users see it."""

    name: str
    type: Any
    default: Any
    description: str
    env: str | None = None


    @property
    def shown_default(self) -> Any:
        """The default as people write it (`upsert`, not `SyncMode.UPSERT`)."""
        return self.default.value if isinstance(self.default, Enum) else self.default


class DescribedSettings:
    """Settings declared with `_setting`: their defaults and descriptions are read from the
    declarations, by the Dagster resources, run config, YAML attributes and the docs."""

    @classmethod
    def described(cls) -> list[Described]:
        hints = get_type_hints(cls)
        described = []
        for setting in fields(cls):  # type: ignore[arg-type]
            if "description" not in setting.metadata:
                continue
            default = setting.default_factory() if setting.default is MISSING else setting.default  # type: ignore[misc]
            described.append(
                Described(setting.name, hints[setting.name], default, setting.metadata["description"], setting.metadata.get("env"))
            )
        return described

    @classmethod
    def setting(cls, name: str) -> Described:
        return next(setting for setting in cls.described() if setting.name == name)


@dataclass(frozen=True)
class SyncSettings(DescribedSettings):
    """How rows become tasks: the settings of one sync, the same whether they come from
    run config, a component's YAML or code. Each field's description is what users read."""

    sync_mode: SyncMode = _setting(SyncMode.UPSERT, "insert, update or upsert (any case).")
    primary_key: str = _setting("id", "The model column that identifies a row across runs.")
    field_mapping: dict[str, str] = _setting(
        None,
        "Warehouse column -> Asana field. Columns named like Asana fields map to themselves.",
        default_factory=dict,
    )
    sync_key_field: str | None = _setting(
        None,
        "GID of a text custom field of the project that receives each row's primary key: makes recovery after a "
        "crash or timeout exact and lets a lost state be rebuilt from Asana (recommended).",
    )
    allow_tasks_outside_project: bool = _setting(
        False, "Let a task_gid column address tasks that are not in the configured project."
    )
    create_missing_tags: bool = _setting(
        False, "Create a tag the workspace lacks (once) instead of rejecting the rows that name it."
    )
    create_missing_sections: bool = _setting(
        False, "Create a section the project lacks (once) instead of rejecting the rows that name it."
    )
    on_row_removed: RemovalPolicy = _setting(
        RemovalPolicy.KEEP,
        "keep, complete or delete: what happens to the task of a row this sync synced that left the model.",
    )
    max_removed_fraction: float = _setting(
        0.2,
        "A run that would complete or delete more than this share of the sync's live tasks (and more than 5) "
        "fails before any write.",
    )
    max_rejection_rate: float = _setting(
        0.05, "The rejection_rate_below_threshold check warns when more than this share of the model's rows is rejected."
    )
    field_policies: dict[str, FieldPolicy] = _setting(
        None,
        "Asana field -> sync, skip_nulls, on_create or if_empty: who owns a field once its task exists "
        "(fields as columns name them: notes, assignee, custom_fields.<name>, tags, section...). Unlisted: sync.",
        default_factory=dict,
    )
    max_cleared_fraction: float = _setting(
        0.2,
        "A run that would clear one field on more than this share of the sync's live tasks (and more than 5) "
        "fails before any write: a column dropped or turned NULL upstream.",
    )
    on_task_deleted: TaskDeletedPolicy = _setting(
        TaskDeletedPolicy.RECREATE,
        "recreate or release: what happens to a row whose task a person deleted in Asana (recreate: in the same "
        "run, subtasks with it; release: forgotten and reported).",
    )
    on_asana_edit: EditPolicy = _setting(
        EditPolicy.KEEP,
        "keep or overwrite: what happens to a synced field a person changed in Asana (keep: theirs until the "
        "model's value changes, and a task moved out of the project is released; overwrite: the model's value is "
        "sent again, a moved task put back).",
    )
    max_replaced_fraction: float = _setting(
        0.2,
        "A run in which more than this share of the sync's live tasks (and more than 5) would lose their row while "
        "as many new rows appear fails before any write: the primary key changed format.",
    )
    outcome_fields: dict[str, str] = _setting(
        None,
        "Column -> Asana field: more of each task to keep in asana_task_outcomes beside the mapped fields "
        "(e.g. {seats_now: custom_fields.Seats}).",
        default_factory=dict,
    )
    sync_log_days: int = _setting(90, "How many days of asana_sync_log the sync state keeps.")
    task_template: str | None = _setting(
        None,
        "A task template of the project, by name or GID: each new task is made from it (its subtasks, description "
        "and fields), then given the row's own fields.",
    )
    adopt_existing: dict[str, str] = _setting(
        None,
        "{match: <Asana field>, column: <model column>}: before creating a row's task, adopt the task of the project "
        "whose field (name, notes or custom_fields.<name or GID>) equals the row's column (e.g. {match: name, column: "
        "account_name}).",
        default_factory=dict,
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "sync_mode", SyncMode.parse(self.sync_mode))
        primary_key = (self.primary_key or "").strip()
        if not primary_key:
            raise SyncConfigError("primary_key must name a column of the model; it is empty")
        object.__setattr__(self, "primary_key", primary_key)
        object.__setattr__(self, "field_mapping", dict(self.field_mapping or {}))
        object.__setattr__(self, "outcome_fields", _outcome_fields(self.outcome_fields))
        object.__setattr__(self, "sync_log_days", positive_int(self.sync_log_days, "sync_log_days"))
        if self.sync_key_field is not None and str(self.sync_key_field).strip() == "":
            object.__setattr__(self, "sync_key_field", None)
        if self.sync_key_field is not None:
            object.__setattr__(
                self,
                "sync_key_field",
                check_gid(self.sync_key_field, "sync_key_field", hint="Give the GID of a text custom field of the project."),
            )
        object.__setattr__(self, "on_row_removed", RemovalPolicy.parse(self.on_row_removed))
        object.__setattr__(self, "on_task_deleted", TaskDeletedPolicy.parse(self.on_task_deleted))
        object.__setattr__(self, "on_asana_edit", EditPolicy.parse(self.on_asana_edit))
        for name in ("max_removed_fraction", "max_rejection_rate", "max_cleared_fraction", "max_replaced_fraction"):
            object.__setattr__(self, name, check_fraction(getattr(self, name), name))
        policies = self.field_policies or {}
        if not isinstance(policies, dict):
            raise SyncConfigError(f"field_policies must map Asana field names to policies, got {policies!r}")
        object.__setattr__(
            self, "field_policies", {str(field).strip(): FieldPolicy.parse(policy) for field, policy in policies.items()}
        )
        template = None if self.task_template is None else str(self.task_template).strip()
        object.__setattr__(self, "task_template", template or None)
        object.__setattr__(self, "adopt_existing", _adopt_existing(self.adopt_existing))

    def policy(self, field: str) -> FieldPolicy:
        """The policy of a field as the model names it (`notes`, `custom_fields.Priority`, ...)."""
        return self.field_policies.get(field, FieldPolicy.SYNC)


def clean_access_token(token: str | None, *, source: str = DEFAULT_TOKEN_ENV) -> str:
    """The token as Asana expects it; pasting slips are cleaned, anything else is refused.

    Messages describe the problem and never show the token itself."""
    candidate = (token or "").strip()
    if len(candidate) >= 2 and candidate[0] == candidate[-1] and candidate[0] in "'\"":
        candidate = candidate[1:-1].strip()
    candidate = re.sub(r"^bearer(\s+|$)", "", candidate, flags=re.IGNORECASE).strip()
    if not candidate:
        raise SyncConfigError(
            f"{source} is empty. Create a personal access token in Asana (My Settings > Apps > "
            f"Manage Developer Apps) and set {source} to it."
        )
    if any(character.isspace() for character in candidate):
        raise SyncConfigError(
            f"{source} contains a space or a line break inside it; a personal access token has none. "
            "Copy the token again, in one piece."
        )
    if not candidate.isascii() or not candidate.isprintable():
        raise SyncConfigError(
            f"{source} contains characters a personal access token never has (non-ASCII or control "
            "characters). Copy the token again from Asana."
        )
    return candidate


def check_base_url(url: str | None) -> str:
    """The API root, without a trailing slash; refused with the URL shown when it cannot work."""
    candidate = (url or "").strip()
    if not candidate:
        return DEFAULT_BASE_URL
    parts = urlsplit(candidate)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SyncConfigError(
            f"ASANA_BASE_URL {candidate!r} must start with https:// (or http:// for a local emulator), "
            f"for example {_suggested_base_url(candidate)!r}."
        )
    path = parts.path.rstrip("/")
    if not path.endswith(API_PATH):
        raise SyncConfigError(
            f"ASANA_BASE_URL {candidate!r} does not end with {API_PATH}, where Asana's API lives; "
            f"did you mean {_suggested_base_url(candidate)!r}?"
        )
    if parts.query or parts.fragment:
        raise SyncConfigError(f"ASANA_BASE_URL {candidate!r} must not carry a query or fragment")
    return f"{parts.scheme}://{parts.netloc}{path}"


def _suggested_base_url(candidate: str) -> str:
    """The URL a mistaken one most likely meant: a known scheme (https when in doubt), the same
    host, and the path up to any `/api...` replaced by /api/1.0."""
    scheme, _, rest = candidate.rpartition("://")
    parts = urlsplit(f"//{rest}")
    scheme = scheme.lower() if scheme.lower() in ("http", "https") else "https"
    path = parts.path.rstrip("/")
    at = path.find("/api")
    return f"{scheme}://{parts.netloc}{path[:at] if at >= 0 else path}{API_PATH}"


def positive_int(value: object, setting: str) -> int:
    """A count from configuration or the environment: a whole number of at least 1."""
    if isinstance(value, bool):
        raise SyncConfigError(f"{setting} must be a positive whole number, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+]?[0-9]+", text):
            raise SyncConfigError(f"{setting} must be a positive whole number, got {value!r}")
        value = int(text)
    if not isinstance(value, int) or value < 1:
        raise SyncConfigError(f"{setting} must be a positive whole number (1 or more), got {value!r}")
    return value


def positive_number(value: object, setting: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SyncConfigError(f"{setting} must be a positive number, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise SyncConfigError(f"{setting} must be a positive number, got {value!r}")
    return number


@dataclass(frozen=True)
class AsanaSettings(DescribedSettings):
    """How to reach Asana: one token, one API root, and the pace it allows.

    Every field but the token and its source is described once here; the `asana`
    resource, the client and the configuration reference read these declarations."""

    access_token: str = field(repr=False)
    base_url: str = _setting(DEFAULT_BASE_URL, "API root: Asana's, or a local emulator's.", env=environment.BASE_URL.name)
    requests_per_minute: int = _setting(
        1500, "Pace of requests per token: 1,500 on paid workspaces, 150 on free ones.", env=environment.REQUESTS_PER_MINUTE.name
    )
    max_concurrent_writes: int = _setting(
        15, "Writes in flight at once (Asana allows 15 per token).", env=environment.MAX_CONCURRENT_WRITES.name
    )
    max_concurrent_reads: int = _setting(50, "Reads in flight at once (Asana allows 50 per token).")
    timeout_seconds: float = _setting(30.0, "Per-request timeout, in seconds.")
    max_attempts: int = _setting(6, "Attempts per request on errors before a row is given up for this run.")
    max_rate_limited_attempts: int = _setting(
        30, "Attempts per request while Asana answers 429 (each waits its Retry-After) before giving up."
    )
    max_backoff_seconds: float = _setting(30.0, "Longest wait between two attempts after an error.")
    reconcile_grace_seconds: float = _setting(
        5.0, "Wait before checking whether a create with no clear answer made a task."
    )
    token_source: str = DEFAULT_TOKEN_ENV
    """The name of the variable the token came from, for messages (never the token)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "access_token", clean_access_token(self.access_token, source=self.token_source))
        object.__setattr__(self, "base_url", check_base_url(self.base_url))
        for name in ("requests_per_minute", "max_concurrent_writes", "max_concurrent_reads", "max_attempts", "max_rate_limited_attempts"):
            object.__setattr__(self, name, positive_int(getattr(self, name), name))
        for name in ("timeout_seconds", "max_backoff_seconds"):
            object.__setattr__(self, name, positive_number(getattr(self, name), name))
        if self.reconcile_grace_seconds < 0:
            raise SyncConfigError(f"reconcile_grace_seconds cannot be negative, got {self.reconcile_grace_seconds!r}")


def _outcome_fields(given: Any) -> dict[str, str]:
    """`outcome_fields` checked: each a column name and an Asana field (a task field, or `custom_fields.<name or GID>`)."""
    found = {}
    for column, target in dict(given or {}).items():
        column, target = str(column).strip(), str(target).strip()
        if not column or not target:
            raise SyncConfigError(f"outcome_fields maps {column!r} to {target!r}: each needs a column name and an Asana field")
        found[column] = target
    return found


ADOPT_MATCH_FIELDS = ("name", "notes")
"""Task fields `adopt_existing` may match on, beside `custom_fields.<name or GID>`."""


def _adopt_existing(given: Any) -> dict[str, str]:
    """`adopt_existing` checked: `{match: <Asana field>, column: <model column>}`, or empty (off)."""
    if not given:
        return {}
    if not isinstance(given, dict):
        raise SyncConfigError(f"adopt_existing must be {{match: <Asana field>, column: <model column>}}, got {given!r}")
    unknown = sorted(set(map(str, given)) - {"match", "column"})
    if unknown:
        raise SyncConfigError(
            f"adopt_existing takes match and column, not {', '.join(unknown)} (e.g. {{match: name, column: account_name}})"
        )
    match, column = str(given.get("match") or "").strip(), str(given.get("column") or "").strip()
    if not match or not column:
        raise SyncConfigError(
            "adopt_existing needs both match (the Asana field: name, notes or custom_fields.<name or GID>) and column "
            f"(the model column holding the value to look for); got {given!r}"
        )
    custom = match.startswith("custom_fields.") and bool(match[len("custom_fields.") :].strip())
    if match not in ADOPT_MATCH_FIELDS and not custom:
        raise SyncConfigError(
            f"adopt_existing matches on {match!r}, which it cannot read; choose {', '.join(ADOPT_MATCH_FIELDS)} or "
            "custom_fields.<name or GID>"
        )
    return {"match": match, "column": column}
