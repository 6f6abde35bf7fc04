# One command to run the engine on the embedded default (SQLite), one to run the tests.
# Both create .venv and install what they need on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# The peer converter for bench/cda.py (see the bench extra in pyproject.toml for why --no-deps).
$(VENV)/.bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/pip install -q --no-deps python-fhir-converter==0.3.0
	touch $@

run: $(STAMP)
	$(BIN)/huitong demo

# The suite on every core (a test file's tests stay on one worker, so a module's daemon starts once), then the
# tests marked after_everything over the logs all workers wrote to one shared directory.
test: $(STAMP)
	$(BIN)/ruff check .
	logs=$$(mktemp -d) && export HUITONG_TEST_LOG_DIR=$$logs && \
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not after_everything" && \
	$(BIN)/python -m pytest -m after_everything; \
	status=$$?; rm -rf $$logs; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var
