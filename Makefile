# The README's two commands: `make bench` (main job) and `make test` (everything CI checks).
# Each sets up what it needs on a fresh machine: a virtualenv, pinned packages, models, data.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.verispec-installed
LLAMA_STAMP := $(VENV)/.llama-cpp-built
# LLAMA_CPP=0 skips building the llama.cpp backend (verispec then runs its models on torch).
LLAMA_CPP ?= 1
# LLAMA_CPP_AMX=1 keeps ggml's AMX kernels (see the llama-cpp target).
LLAMA_CPP_AMX ?= 0

.PHONY: setup models models-all data browser llama-cpp bench test test-unit proofs clean

setup: $(STAMP) $(if $(filter 1,$(LLAMA_CPP)),$(LLAMA_STAMP))

$(STAMP): pyproject.toml constraints/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints/dev.txt torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints/dev.txt -e ".[dev]"
	touch $@

# --keep-gguf: the llama.cpp backend runs the GGUF files themselves.
models: setup
	$(BIN)/verispec models pull --keep-gguf

# The tests also need the cross-tokenizer models (SmolLM2, Gemma) for CoSD's token bridge.
models-all: setup
	$(BIN)/verispec models pull --all --keep-gguf

data: setup
	$(BIN)/verispec data pull

# Debian's Chromium for the browser tests of the HTML report and the server page (root only).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || echo "chromium not installed: browser tests will be skipped"

# llama-cpp-python (the llama.cpp backend) from its source archive, with ggml's runtime-dispatched
# CPU kernels: one build holds a libggml-cpu-*.so per x86 level (haswell, skylakex, zen4,
# sapphirerapids/AMX, ...) and loads the best one for the machine at run time, so it runs on every
# machine of this kind (a GGML_NATIVE build segfaulted on one). --no-cache-dir: pip must not reuse a
# wheel built with other flags. About 10 minutes on 2 idle cores. A failed build does not stop setup:
# verispec then runs on torch, and the llama.cpp tests are skipped saying why.
# The AMX variant is removed unless LLAMA_CPP_AMX=1: on the Xeon VMs of this kind its AMX kernels die
# with SIGILL (`tilezero` after the thread's tile configuration is lost; llama-cpp-python 0.3.36), on
# every real GGUF model. ggml then loads the next best set (zen4: AVX-512 VNNI/BF16), which there ran
# the 1.5B at 60 ms per token against 82 ms for the AMX variant with its AMX kernels switched off.
LLAMA_CPP_CMAKE_ARGS := -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_NATIVE=OFF \
	-DLLAMA_CURL=OFF -DCMAKE_INSTALL_BINDIR=llama_cpp/lib
LLAMA_CPP_JOBS ?= 2

$(LLAMA_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -c constraints/dev.txt scikit-build-core diskcache
	CMAKE_ARGS="$(LLAMA_CPP_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$(LLAMA_CPP_JOBS) nice \
		$(BIN)/python -m pip install -q --no-cache-dir --no-build-isolation --no-binary llama-cpp-python \
		-c constraints/dev.txt llama-cpp-python \
		|| echo "warning: llama-cpp-python did not build: verispec runs on torch only (make llama-cpp retries)"
	$(if $(filter 1,$(LLAMA_CPP_AMX)),,rm -f $(VENV)/lib/python*/site-packages/llama_cpp/lib/libggml-cpu-sapphirerapids.so)
	touch $@

llama-cpp:
	rm -f $(LLAMA_STAMP)
	$(MAKE) $(LLAMA_STAMP)

bench: models
	$(BIN)/verispec bench --out benchmarks/results/bench.json

test: models-all data browser
	$(BIN)/python -m pytest

test-unit: setup
	$(BIN)/python -m pytest -m "not integration and not data and not proof"

# The full greedy-equality matrices on the real Qwen pair (torch fp32 vs transformers' generate,
# llama.cpp vs llama-cpp-python's generate) and the judge head's scores on both backends: about an
# hour on 2 cores. The log is kept.
proofs: models data
	mkdir -p benchmarks/results/proofs
	$(BIN)/python -m pytest -m "integration" -rA -s tests/integration/test_qwen_pair.py \
		tests/integration/test_qwen_pair_llamacpp.py tests/backends/test_llamacpp_backend.py \
		2>&1 | tee benchmarks/results/proofs/proofs.log

clean:
	rm -rf $(VENV) .pytest_cache
