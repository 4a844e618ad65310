# The README's two commands: `make bench` (main job) and `make test` (everything CI checks).
# Each sets up what it needs on a fresh machine: a virtualenv, pinned packages, models, data.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.verispec-installed

.PHONY: setup models models-all data browser bench test test-unit clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints/dev.txt torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints/dev.txt -e ".[dev]"
	touch $@

models: setup
	$(BIN)/verispec models pull

# The tests also need the cross-tokenizer models (SmolLM2, Gemma) for CoSD's token bridge.
models-all: setup
	$(BIN)/verispec models pull --all

data: setup
	$(BIN)/verispec data pull

# Debian's Chromium for the browser tests of the HTML report and the server page (root only).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || echo "chromium not installed: browser tests will be skipped"

bench: models
	$(BIN)/verispec bench --out benchmarks/results/bench.json

test: models-all data browser
	$(BIN)/python -m pytest

test-unit: setup
	$(BIN)/python -m pytest -m "not integration and not data"

clean:
	rm -rf $(VENV) .pytest_cache
