"""Every environment variable the project reads, declared once: its name, default and meaning.

Code reads a variable through its declaration (`WAREHOUSE_PATH.read(env)`), never by a literal
name, and docs/configuration.md lists them from `VARIABLES` (a test keeps the two equal). A
`secret` variable is bound through `dg.EnvVar` where Dagster holds it, and its value is never shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    """One environment variable: `default` is what an unset or empty one means (None: nothing)."""

    name: str
    default: str | None
    description: str
    secret: bool = False

    def read(self, env: Mapping[str, str]) -> str | None:
        """Its value in `env`, or its default when unset or empty."""
        return env.get(self.name) or self.default

    def is_set(self, env: Mapping[str, str]) -> bool:
        return bool(env.get(self.name))


ACCESS_TOKEN = Variable(
    "ASANA_ACCESS_TOKEN", None,
    "personal access token of the default sync (read through `dg.EnvVar`); required to write (a dry run works "
    "without). A trailing newline, surrounding spaces or quotes, or a `Bearer ` prefix are removed. A YAML sync names "
    "its own variable with `access_token_env`",
    secret=True,
)  # fmt: skip
PROJECT_GID = Variable("ASANA_PROJECT_GID", None, "the default sync's project (`dg.EnvVar`); required; digits only")
BASE_URL = Variable(
    "ASANA_BASE_URL", "https://app.asana.com/api/1.0",
    "API root (the emulator's for local work); must start with `https://` or `http://` and end with `/api/1.0`",
)  # fmt: skip
REQUESTS_PER_MINUTE = Variable(
    "ASANA_REQUESTS_PER_MINUTE", "1500", "the pace of every sync, requests per minute and token (use `150` on free workspaces)"
)
MAX_CONCURRENT_WRITES = Variable("ASANA_MAX_CONCURRENT_WRITES", "15", "writes in flight at once, per token")
WAREHOUSE_PATH = Variable(
    "WAREHOUSE_DUCKDB_PATH", "data/warehouse.duckdb",
    "the warehouse DuckDB (models are read from it read-only); relative to the project folder",
)  # fmt: skip
READ_FILES_IN = Variable(
    "ASANA_SYNC_READ_FILES_IN", None,
    "folders (absolute, separated by `:`) whose files the default sync's model query may read; none by default "
    "([what a model query may do](#what-a-model-query-may-do))",
)  # fmt: skip
STATE_PATH = Variable(
    "SYNC_STATE_DUCKDB_PATH", "data/sync_state.duckdb",
    "the sync state (task GIDs, intents, rejections, run history) when `SYNC_STATE_URL` is unset; relative to the project folder",
)  # fmt: skip
STATE_URL = Variable(
    "SYNC_STATE_URL", None,
    "`postgresql://user:password@host:port/db[?sslmode=…]`: the state, and its lock per sync, in PostgreSQL, for runs on "
    "several machines ([deploying.md](deploying.md)); bound through `dg.EnvVar`, the password is never shown",
    secret=True,
)  # fmt: skip
PROJECT_DIR = Variable(
    "ASANA_SYNC_PROJECT_DIR", None,
    "the folder relative paths start from when the package is installed without its checkout (a Docker image); "
    "default: the checkout",
)  # fmt: skip
SYNC_CRON = Variable("ASANA_SYNC_CRON", "0 * * * *", "cron of the default sync's `asana_sync_schedule`")
ALERT_WEBHOOK_URL = Variable(
    "ASANA_SYNC_ALERT_WEBHOOK_URL", None,
    "the default sync's alerts go to this webhook (JSON `{\"text\": …}`, Slack's incoming-webhook shape); set, the sensor "
    "`asana_sync_alerts` runs by default ([running.md](running.md#alerts)); a secret, never shown",
    secret=True,
)  # fmt: skip
WEBSERVER_URL = Variable(
    "DAGSTER_WEBSERVER_URL", None, "the Dagster UI's address (`https://dagster.example.com`), for links to runs in alerts"
)
BUDGET_DIR = Variable(
    "ASANA_SYNC_BUDGET_DIR", None,
    "where syncs on this machine share a token's limits when the state is not in PostgreSQL; default: the system's "
    "temporary folder ([deploying.md](deploying.md#one-token-one-budget))",
)  # fmt: skip

VARIABLES = (
    ACCESS_TOKEN, PROJECT_GID, BASE_URL, REQUESTS_PER_MINUTE, MAX_CONCURRENT_WRITES, WAREHOUSE_PATH, READ_FILES_IN,
    STATE_PATH, STATE_URL, PROJECT_DIR, SYNC_CRON, ALERT_WEBHOOK_URL, WEBSERVER_URL, BUDGET_DIR,
)  # fmt: skip
"""In the order docs/configuration.md lists them."""
