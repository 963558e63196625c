# Two commands for a newcomer: `make run` and `make test`. `make check` is CI's gate (lint, types, tests, coverage).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-fast bench lint lint-aws check coverage-gate package-lambda clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev,postgres,aws]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/agentic-memory serve --host $(HOST) --port $(PORT)

# PYTEST lets CI run this same target under coverage (see `check` and .ci/run).
PYTEST ?= $(BIN)/python -m pytest
test: install
	$(PYTEST) -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

bench: install
	$(BIN)/python -m bench --out docs/benchmarks.md

# Lint and types: ruff (rules and their reasons in pyproject.toml), mypy --strict on src/, and the form of
# every noqa / type: ignore / ruff ignore (a rule and a reason).
lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/python scripts/check_suppressions.py

# The gate: lint (and the SAM template's cfn-lint), then the whole suite once under branch coverage (subprocess servers included), then the
# per-package floors of scripts/check_coverage.py.
check: lint lint-aws
	rm -f .coverage .coverage.* coverage.json
	$(MAKE) test PYTEST="$(BIN)/coverage run -m pytest"
	$(MAKE) coverage-gate

coverage-gate: install
	$(BIN)/coverage combine -q
	$(BIN)/coverage json -q
	$(BIN)/coverage report
	$(BIN)/python scripts/check_coverage.py coverage.json

# The SAM template, checked offline (cfn-lint runs the SAM transform itself).
lint-aws: install
	$(BIN)/cfn-lint deploy/aws/template.yaml

# The Lambda zip for Python 3.12 on x86_64 (manylinux wheels from PyPI; no C compiled here; the bytecode by
# PYTHON312, any CPython 3.12), and the same layout for this machine's Python from the installed packages
# (what the tests run).
PYTHON312 ?= python3.12
package-lambda: install
	KEEP_STAGING=1 $(BIN)/python scripts/package_lambda.py --python-version 3.12 --bytecode-python $(PYTHON312)
	$(BIN)/python scripts/package_lambda.py --local

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* coverage.json
