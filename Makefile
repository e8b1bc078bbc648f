# Two commands do all the set-up on a fresh Linux machine with Python 3.11:
#   make run    create .venv if missing, install the locked environment, run the DAG on the embedded default
#   make test   same environment, run the test suite (what CI runs through .ci/run)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PATH := $(BIN):$(PATH)
CORES ?= all

.PHONY: run test lock conda dvc-yaml schema clean-results bench

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/avssl plots-page --output .dvc/plots/page.html
	@touch $@

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Re-pin everything from requirements.in, then derive the conda environments from the lock.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.in
	$(BIN)/python -m avssl.envfiles --freeze
	$(MAKE) conda

conda: $(STAMP)
	$(BIN)/python -m avssl.envfiles --conda

dvc-yaml: $(STAMP)
	$(BIN)/avssl dvc-yaml --output dvc.yaml
	$(BIN)/avssl plots-page --output .dvc/plots/page.html

schema: $(STAMP)
	$(BIN)/avssl schema --output workflow/schemas/params.schema.json
	$(BIN)/avssl params --defaults --output params.yaml
