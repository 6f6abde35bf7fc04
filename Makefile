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

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var
