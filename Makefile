# The README's commands. `make test` is what CI runs (.ci/run); `make up` starts a local control plane.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: test lint demo bench up down status build clean deploy

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "plumbline needs Python 3.11 or newer as $(PYTHON) (set PYTHON=...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

## test: lint, type-check, build the control-plane binaries once (cached), run every test
test: lint $(STAMP)
	$(BIN)/plumb local build
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

## deploy: regenerate deploy/ (the CRDs from the config models, and plumb install's output); unit tests fail until it is committed
deploy: $(STAMP)
	$(BIN)/python -m plumbline.deploy deploy

## demo: the core loop end to end on a local control plane (examples/demo.sh)
demo: $(STAMP)
	bash examples/demo.sh

## bench: plumb diff/sync beside kubectl diff/apply --server-side, CLI start-up beside kubectl's, one
## controller pass over many apps beside kubectl apply of the same objects (bench/*.py; the README's tables)
bench: $(STAMP)
	$(BIN)/python -m bench.diff_sync
	$(BIN)/python -m bench.startup
	$(BIN)/python -m bench.scale

## up / down / status: a local Kubernetes control plane to try plumbline against
up: $(STAMP)
	$(BIN)/plumb local up

down: $(STAMP)
	$(BIN)/plumb local down

status: $(STAMP)
	$(BIN)/plumb local status

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
