# The two commands of the README. Nothing else needs installing by hand: Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Test processes (pytest-xdist); 0 runs the suite serially in this process. docs/tests.md.
PYTEST_WORKERS ?= 2

.PHONY: run test bench install install-test migrate demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make run: install, migrate, load the demo district if the database is empty, serve on http://127.0.0.1:8000
run: install
	SUBSIDY_DEMO=$${SUBSIDY_DEMO-1} $(BIN)/subsidy db upgrade
	SUBSIDY_DEMO=1 $(BIN)/subsidy demo
	SUBSIDY_DEMO=$${SUBSIDY_DEMO-1} $(BIN)/subsidy serve --host $(HOST) --port $(PORT)

## make test: the whole suite (on PostgreSQL too when TEST_DATABASE_URL is set), on PYTEST_WORKERS processes
test: install-test
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

## make bench: benchmark scripts that print figures (not part of the tests)
bench: install-test
	@for script in scripts/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) data .pytest_cache
