# The two commands a newcomer needs:  `make run`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
AS_OF  ?= 2026-11-21
LANDING ?= data/sample
OUT    ?= out
WAREHOUSE ?= warehouse/ecm.duckdb
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: run test install install-test lint sample dev clean

# A failed set-up is retried by running make again: ensure_venv.sh makes the venv again when
# an earlier attempt left it broken or made it with another Python.
$(VENV)/.installed: pyproject.toml scripts/ensure_venv.sh
	scripts/ensure_venv.sh $(PYTHON) $(VENV)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(DAGSTER_HOME)/dagster.yaml: config/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp config/dagster.yaml $@

## Run the nightly job on the shipped sample: warehouse, publication and report under out/.
run: install $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m pipelines run --as-of $(AS_OF) --landing $(LANDING) --out $(OUT) --warehouse $(WAREHOUSE)

## Install what the tests need, lint, and run the tests, one worker per core (pytest-xdist).
test: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest -q -n auto

## The Dagster UI with the graph, checks, schedule and sensor.
dev: install $(DAGSTER_HOME)/dagster.yaml
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/dg dev

## Regenerate data/sample/ (deterministic).
sample: install
	rm -f data/sample/*.parquet data/sample/*.csv
	$(PY) -m pipelines.synth --members 5000 --months 24 --as-of $(AS_OF) --seed 20261121 --out data/sample --format parquet

clean:
	rm -rf $(OUT) warehouse $(DAGSTER_HOME)
