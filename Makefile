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

## Sync the sample warehouse into the bundled Asana emulator (or real Asana when ASANA_ACCESS_TOKEN is set).
run: $(STAMP)
	$(BIN)/python -m asana_sync_pipeline

## Lint (ruff: errors, bugs, import order) and types (mypy), as configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

## Lint and types, then the whole test suite in four workers (most tests wait on loopback HTTP and subprocesses, not the CPU).
test: lint browser postgres
	$(BIN)/python -m pytest -q -n 4 --dist loadgroup

## The emulator and the Dagster UI together, on http://127.0.0.1:$(UI_PORT) (Ctrl-C stops both).
dev: $(STAMP)
	$(BIN)/python -m asana_sync_pipeline.sample_warehouse
	set -m; \
	$(BIN)/python -m asana_sync_pipeline.emulator --port $(EMULATOR_PORT) --token emulator-token & \
	trap 'kill %1' EXIT; \
	DAGSTER_HOME=$(CURDIR)/dagster_home ASANA_ACCESS_TOKEN=emulator-token \
	ASANA_BASE_URL=http://127.0.0.1:$(EMULATOR_PORT)/api/1.0 ASANA_PROJECT_GID=1200000000000100 \
	$(BIN)/dagster dev -h 127.0.0.1 -p $(UI_PORT)

## The emulator alone, on http://127.0.0.1:$(EMULATOR_PORT)/api/1.0 (token: emulator-token).
emulator: $(STAMP)
	$(BIN)/python -m asana_sync_pipeline.emulator --port $(EMULATOR_PORT) --token emulator-token

## Speed, memory and exactly-once figures (several minutes; see docs/performance.md).
benchmarks: $(STAMP)
	$(BIN)/python benchmarks/planning_1m.py
	$(BIN)/python benchmarks/field_updates.py
	$(BIN)/python benchmarks/people_reads.py
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/three_syncs.py
	$(BIN)/python benchmarks/exactly_once.py
	$(BIN)/python benchmarks/state_stores.py

clean:
	rm -rf $(VENV) .pytest_cache data/*.duckdb data/demo dagster_home/storage dagster_home/history dagster_home/schedules dagster_home/logs
