# The README's two commands (`make run`, `make test`) call these targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BASE   := $(VENV)/.installed-base
PIP    := $(BIN)/python -m pip install --disable-pip-version-check --progress-bar on
COMPILE := $(BIN)/pip-compile -q --no-emit-index-url --no-emit-find-links --no-annotate \
           --no-header --strip-extras --allow-unsafe

.PHONY: setup serving run test test-fast docs-check lint format bench pins clean opal-venv

setup: $(STAMP) ## the virtualenv with everything tests and lint need (fast when nothing changed)

serving: $(BASE) ## the virtualenv with what serving needs (what `make run` installs)

$(BASE): requirements/base.txt pyproject.toml
	@echo "==> creating $(VENV) and installing what Gatehouse needs to serve (requirements/base.txt)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements/base.txt
	$(PIP) --no-deps -e .
	touch $(BASE)

$(STAMP): $(BASE) requirements/dev.txt scripts/system-packages
	@echo "==> installing the test and lint toolchain (requirements/dev.txt) and OpenLDAP for the tests"
	scripts/system-packages
	$(PIP) -r requirements/dev.txt
	touch $(STAMP)

opal-venv: ## the cached virtualenv with opal-server and opal-client (OPAL tests and bench)
	scripts/opal-venv

run: serving ## start Gatehouse on its embedded defaults with a demo tenant
	$(BIN)/gatehouse serve --demo

test: setup ## lint, type-check and run every test (SQLite, PostgreSQL, Redis; OPAL on CI)
	@if [ "$${CI:-}" = true ]; then scripts/opal-venv >/dev/null; fi
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadgroup

test-fast: setup ## tests only, no lint
	$(BIN)/pytest -n 2 --dist loadgroup

docs-check: setup ## run the README's and the quickstart's commands against a fresh server
	$(BIN)/pytest -q tests/docs

lint: setup ## ruff and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: setup ## run every benchmark in bench/ (or ONLY="name ..."), one JSON line each
	$(BIN)/python bench/run.py $(ONLY)

pins: ## recompile requirements/*.txt from pyproject.toml
	$(COMPILE) -o requirements/base.txt pyproject.toml
	$(COMPILE) --extra dev -o requirements/dev.txt pyproject.toml
	$(COMPILE) -o requirements/opal.txt requirements/opal.in

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
