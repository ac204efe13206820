# Everything installs into .venv from pyproject.toml; only Python 3.11 (and, for the tests,
# Debian's chromium and postgresql, which `make test` installs with apt-get when missing) is needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EMULATOR_PORT ?= 8765
UI_PORT ?= 3000

.PHONY: install browser postgres run test lint dev emulator benchmarks clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Debian's Chromium for the UI test (headless; Playwright drives it, no browser download).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }

## Debian's PostgreSQL server binaries (initdb, pg_ctl) for the tests' throwaway servers; apt puts them in
## /usr/lib/postgresql/<version>/bin, where the tests look too.
postgres:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }

## A local workspace and warehouse of your own for `make run` / `make dev`: FIXTURE=workspace.json
## (docs/emulator.md) and WAREHOUSE=path/to.duckdb (read, never written); unset, the bundled ones.
LOCAL_FILES = $(if $(FIXTURE),--fixture $(FIXTURE)) $(if $(WAREHOUSE),--warehouse $(WAREHOUSE))
## The local loop that remembers (docs/running.md): KEEP=1 syncs into the kept workspace, the one `make emulator` serves
## (else served for the run), and keeps the sync state beside it, in data/local/ (KEEP=folder: another folder); FRESH=1
## starts both afresh. KEEP_TOKENS=1 leaves a token variable already set as it is (to try a wrong token against the
## emulator); the others get the emulator's token, emulator-token.
KEEP_DIR = $(if $(filter-out 1 yes true,$(KEEP)),$(KEEP))
LOCAL_LOOP = $(if $(KEEP),--keep $(KEEP_DIR)) $(if $(FRESH),--fresh) $(if $(KEEP_TOKENS),--keep-tokens)

## Every sync once: against the bundled Asana emulator when no sync's token is set (or FIXTURE is), else against Asana.
run: $(STAMP)
	$(BIN)/python -m asana_sync_pipeline $(LOCAL_FILES) $(LOCAL_LOOP)

## Lint (ruff: errors, bugs, import order) and types (mypy), as configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## Lint and types, then the whole test suite in four workers (most tests wait on loopback HTTP and subprocesses, not the CPU).
test: lint browser postgres
	$(BIN)/python -m pytest -q -n 4 --dist loadgroup

## The Dagster UI (dg dev) on http://127.0.0.1:$(UI_PORT), every sync pointed at the bundled emulator; Ctrl-C or
## SIGTERM stops both (no terminal needed).
dev: $(STAMP)
	$(BIN)/python -m asana_sync_pipeline.local.dev --port $(UI_PORT) --emulator-port $(EMULATOR_PORT) $(LOCAL_FILES) $(LOCAL_LOOP)

## The local emulator alone, on http://127.0.0.1:$(EMULATOR_PORT)/api/1.0 (token: emulator-token) until Ctrl-C: the workspace
## of FIXTURE (or the bundled one), kept in data/local/ (or KEEP=folder) and reloaded at the next start; FRESH=1 starts it
## (and the sync state kept beside it) afresh. `make run KEEP=1` and `make dev KEEP=1` sync into it.
emulator: $(STAMP)
	$(BIN)/python -m asana_sync_pipeline.local.emulator --port $(EMULATOR_PORT) $(if $(FIXTURE),--fixture $(FIXTURE)) $(if $(KEEP_DIR),--dir $(KEEP_DIR)) $(if $(FRESH),--fresh)

## Speed, memory and exactly-once figures (several minutes; see docs/performance.md).
benchmarks: $(STAMP)
	$(BIN)/python benchmarks/planning_1m.py
	$(BIN)/python benchmarks/field_updates.py
	$(BIN)/python benchmarks/people_reads.py
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/three_syncs.py
	$(BIN)/python benchmarks/one_token.py
	$(BIN)/python benchmarks/two_machines.py
	$(BIN)/python benchmarks/exactly_once.py
	$(BIN)/python benchmarks/state_stores.py
	$(BIN)/python benchmarks/beyond_one_task.py
	$(BIN)/python benchmarks/outcomes.py
	$(BIN)/python benchmarks/outcomes_delay.py
	$(BIN)/python benchmarks/fresh_clone.py

clean:
	rm -rf $(VENV) .pytest_cache data/*.duckdb data/demo data/local dagster_home/storage dagster_home/history dagster_home/schedules dagster_home/logs
