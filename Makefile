# smc-agent developer commands. Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("smc-agent needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files re-run the install whenever pyproject.toml changes.
$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[demo]"
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

## run: install, then paper-trade the real EURUSD 1h candles that ship inside the backtesting package
## (replayed at speed, SQLite in the user data directory; Ctrl-C stops, a second `make run` resumes)
run: $(VENV)/.run-installed
	$(BIN)/smc-agent run

## test: install the dev extras and run the whole suite (2 workers)
test: $(VENV)/.dev-installed
	$(BIN)/pytest -n 2

## lint: ruff (lint and format check), mypy --strict, and the import-linter floors in pyproject.toml
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

## bench: detector, signal, backtest, store, agent and live-feed speed and memory (see docs/performance.md); a few minutes
bench: $(VENV)/.dev-installed
	$(BIN)/smc-agent bench detect --candles 10000,100000,1000000
	$(BIN)/smc-agent bench signals
	$(BIN)/smc-agent bench backtest
	$(BIN)/smc-agent bench store
	$(BIN)/smc-agent bench run
	$(BIN)/smc-agent bench feed

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
