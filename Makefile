# image2ad — run `make help` for the list of targets.
SHELL := /bin/bash
# The first supported interpreter on PATH (3.11–3.13), unless PYTHON=… names one.
SUPPORTED_PYTHON := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c '$(SUPPORTED_PYTHON)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AXE := tests/a11y/node_modules/axe-core/axe.min.js
PORT ?= 8000

.DEFAULT_GOAL := help

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(BIN)/python:
	@if [ -z "$(PYTHON)" ] || ! $(PYTHON) -c '$(SUPPORTED_PYTHON)' 2>/dev/null; then \
	  echo "image2ad needs Python 3.11, 3.12 or 3.13: install one, or run make PYTHON=/path/to/python3.x"; \
	  exit 1; fi
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the locked dependencies

run: install ## Migrate the database and serve on http://127.0.0.1:$(PORT)
	$(BIN)/image2ad db upgrade
	@$(BIN)/image2ad doctor --quiet --before-serve
	PORT=$(PORT) $(BIN)/image2ad serve

test: install $(AXE) ## Run the whole test suite (SQLite and PostgreSQL); PYTEST_ARGS adds options
	$(BIN)/pytest $(PYTEST_ARGS)

# axe-core for the accessibility tests, pinned in tests/a11y/package-lock.json. Without npm the
# tests skip locally (and fail with CI=true).
$(AXE): tests/a11y/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/a11y --silent --no-audit --no-fund && touch $(AXE); \
	else echo "npm not found: the accessibility tests will skip (apt-get install npm)"; fi

reliability-report: install ## Render docs/reliability.md from the reports/ of the last .ci/run
	$(BIN)/python -m bench.reliability_report reports

test-embedded: install ## The embedded-shape end-to-end tests only (CI runs them on 3.12 and 3.13)
	$(BIN)/pytest -p no:cacheprovider tests/e2e tests/test_sqlite_library.py

lint: install ## ruff + mypy
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

format: install ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

lock: ## Re-resolve requirements.lock from pyproject.toml (one lock for Python 3.11–3.13)
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 -o requirements.lock

clean: ## Remove the virtualenv and caches (keeps your data dir)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

.PHONY: help install run test test-embedded reliability-report lint format lock clean
