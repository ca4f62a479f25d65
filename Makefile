# The README's two commands (`make run`, `make test`) call these targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
COMPILE := $(BIN)/pip-compile -q --no-emit-index-url --no-emit-find-links --no-annotate \
           --no-header --strip-extras --allow-unsafe

.PHONY: setup run test test-fast lint format bench pins clean opal-venv

setup: $(STAMP) ## create the virtualenv and install pinned dependencies (fast when nothing changed)

$(STAMP): requirements/dev.txt pyproject.toml scripts/system-packages
	scripts/system-packages
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements/dev.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

opal-venv: ## the cached virtualenv with opal-server and opal-client (OPAL tests and bench)
	scripts/opal-venv

run: setup ## start Gatehouse on its embedded defaults with a demo tenant
	$(BIN)/gatehouse serve --demo

test: setup ## lint, type-check and run every test (SQLite, PostgreSQL, Redis; OPAL on CI)
	@if [ "$${CI:-}" = true ]; then scripts/opal-venv >/dev/null; fi
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadgroup

test-fast: setup ## tests only, no lint
	$(BIN)/pytest -n 2 --dist loadgroup

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
