# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates its own virtual environment in .venv and installs into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
STAMP_BENCH := $(VENV)/.installed-bench

.PHONY: demo test lint typecheck unit contract-test proto bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

$(STAMP_BENCH): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@ $(STAMP_TEST) $(STAMP_RUN)

## Run the whole federation on loopback and show what each requester sees.
demo: $(STAMP_RUN)
	$(BIN)/fieldgate demo

## Lint, type checks, the Rego contract tests and the whole pytest suite.
test: $(STAMP_TEST) lint typecheck unit

lint: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

unit: $(STAMP_TEST)
	$(BIN)/pytest

contract-test: $(STAMP_RUN)
	$(BIN)/fieldgate contract test rego/

## The benchmark suite (issue 7, ~25 min on 2 cores): writes BENCHMARKS.md and bench/plots/.
## Not part of `make test`; CI runs only its smoke mode (tests/test_bench_smoke.py).
bench: $(STAMP_BENCH)
	$(BIN)/python -m bench

## Regenerate fieldgate/v1 from proto/ (commit the result).
proto: $(STAMP_TEST)
	$(BIN)/python scripts/gen_proto.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
