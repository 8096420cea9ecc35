# kubemigrate: every target creates or reuses ./.venv, so on a fresh machine
# `make demo` and `make test` are the whole set-up.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## Create or update the virtualenv (.venv)

system-deps: ## Install promtool (Debian package prometheus) when missing and we are root
	@command -v promtool >/dev/null || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null) || echo "promtool missing: install the prometheus package"; }

demo: $(STAMP) ## Start a throwaway PostgreSQL + local cluster + operator and show a MigrationRun end to end
	$(BIN)/kubemigrate demo

test: $(STAMP) system-deps ## Run every test (unit, integration on real PostgreSQL, e2e on the local cluster)
	$(BIN)/pytest -q

lint: $(STAMP) ## ruff, ruff format, mypy --strict, import-linter
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) ## Print the benchmark figures (engine vs psql vs dbmate; operator under load)
	$(BIN)/python -m bench.engine
	$(BIN)/python -m bench.operator

.PHONY: help venv system-deps demo test lint format bench
