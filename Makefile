# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates its own virtual environment in .venv and installs into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
STAMP_BENCH := $(VENV)/.installed-bench
STAMP_FUZZ := $(VENV)/.installed-fuzz
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES := search_request names import_jsonl import_csv catalog signed_search contract_bundle node_answer

.PHONY: demo test lint typecheck unit contract-test proto vectors bench fuzz clean

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

## The benchmark suite (issue 7, ~10-15 min on 2 cores): writes BENCHMARKS.md and bench/plots/.
## Not part of `make test`; CI runs only its smoke mode (tests/test_bench_smoke.py).
bench: $(STAMP_BENCH)
	$(BIN)/python -m bench

$(STAMP_FUZZ): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,fuzz]'
	touch $@ $(STAMP_TEST) $(STAMP_RUN)

## Fuzz every parser of outside input for FUZZ_SECONDS each (libFuzzer's counts in fuzz-report.txt).
## A crash lands as crash-*: move it to fuzz/crashes/HARNESS/ and the suite replays it.
fuzz: $(STAMP_FUZZ)
	@rm -f fuzz-report.txt
	@for h in $(FUZZ_HARNESSES); do \
	  echo "== $$h ($(FUZZ_SECONDS) s)" | tee -a fuzz-report.txt; \
	  $(BIN)/python -m fuzz $$h -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 2>&1 \
	    | grep -E "^(Done|stat::number_of_executed_units|==[0-9]+== ERROR)|crash-" | tee -a fuzz-report.txt; \
	done

## Regenerate fieldgate/v2 from proto/ (commit the result).
proto: $(STAMP_TEST)
	$(BIN)/python scripts/gen_proto.py

## Rewrite the protocol test vectors in tests/vectors/v2 (docs/protocol.md; only the
## HPKE ciphertexts change; commit the result).
vectors: $(STAMP_TEST)
	$(BIN)/python scripts/gen_vectors.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
