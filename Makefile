# The README's commands. `make test` is what CI runs (.ci/run); `make up` starts a local control plane.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: test lint demo bench bench-detail up down status build clean deploy chromium

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "plumbline needs Python 3.11 or newer as $(PYTHON) (set PYTHON=...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

## test: lint, type-check, build the control-plane binaries once (cached), run every test
test: lint $(STAMP) chromium
	$(BIN)/plumb local build
	$(BIN)/pytest

## chromium: Debian's Chromium for the dashboard's browser tests (apt-get as root; never a browser download)
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; \
	  else \
	    echo "the dashboard's browser tests need Debian's chromium: run 'sudo apt-get install chromium'"; exit 2; \
	  fi; \
	fi

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

## bench: issue 16's table — each measure beside its reference, goal and "met?" (bench/table.py: start-up,
## sync/diff beside kubectl at N = 1000, the controller at 1000 apps x 10 ConfigMaps: a round, a cold
## --once pass, peak RSS, live edit -> OutOfSync under a trickle of commits); then the dashboard's
## 1,000-object page in Chromium. bench-detail: the per-script tables (diff_sync at 100/1000/3000, startup, scale)
bench: $(STAMP) chromium
	$(BIN)/python -m bench.table
	$(BIN)/python -m bench.dashboard

bench-detail: $(STAMP)
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
