# matshift — `make run` sets up .venv and runs the pipelines on the embedded data; `make test` runs the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Telemetry off for every tool the targets start.
export KEDRO_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1

.PHONY: setup run test lint repro benchmark results ui viz clean promote

setup: $(STAMP)

# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build (see README).
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==24.3.1"
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/dvc config core.analytics false >/dev/null 2>&1 || true
	touch $(STAMP)

# Fetch the case-study files first (cache, MATSHIFT_DATA_MIRROR or the public URL); without them the
# run goes on with the embedded band-gap data and says which case studies it left out and why.
run: setup
	$(BIN)/python -m matshift.fetch
	$(BIN)/kedro run

# CI runs a clean clone beside ../shared: its datasets are the mirror unless one is already set.
test: setup
	MATSHIFT_DATA_MIRROR="$${MATSHIFT_DATA_MIRROR:-$$(cd ../shared/datasets 2>/dev/null && pwd)}" \
	  $(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts

repro: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro  # the stages call `kedro` from the venv

benchmark: setup
	$(BIN)/python benchmarks/featurize_vs_matminer.py

# Apply the monitor run's proposal (data/08_reporting/monitoring/<dataset>/proposal.json): artefact, then
# registry; then record the new champion in dvc.lock so `dvc repro` does not refit it over the promotion.
promote: setup
	@test -n "$(BATCH)" || { echo "usage: make promote BATCH=<batch named in proposal.json>"; exit 2; }
	@dataset="$(DATASET)"; \
	  [ -n "$$dataset" ] || dataset=$$($(BIN)/python -m matshift.monitoring.proposals "$(BATCH)") || exit 2; \
	  echo "promoting batch $(BATCH) of $$dataset"; \
	  $(BIN)/kedro run --pipeline promote --namespaces "$$dataset" --params promote.batch=$(BATCH)
	$(BIN)/dvc commit --force evaluate || echo "dvc commit skipped: record data/06_models/champion by hand"

# The README's results tables, from data/08_reporting/metrics.json (after `make run`).
results: setup
	$(BIN)/python -m matshift.reporting.results_table

ui: setup
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

viz: setup
	$(BIN)/kedro viz run --no-browser --host 127.0.0.1 --port 4141

clean:
	rm -rf data/02_intermediate data/03_primary data/04_feature data/05_model_input data/06_models \
	  data/07_model_output data/08_reporting
