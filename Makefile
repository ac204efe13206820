# Everything installs into .venv from pyproject.toml; only Python 3.11 is needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test dev emulator benchmark clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Sync the sample warehouse into the bundled Asana emulator (or real Asana when ASANA_ACCESS_TOKEN is set).
run: $(STAMP)
	$(BIN)/python -m asana_sync_pipeline

## The whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest -q

## The Asana emulator alone, on http://127.0.0.1:8765/api/1.0 (token: emulator-token).
emulator: $(STAMP)
	$(BIN)/python -m asana_sync_pipeline.emulator --port 8765 --token emulator-token

clean:
	rm -rf $(VENV) .pytest_cache data/*.duckdb data/demo
