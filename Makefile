# Tianci: `make run` sets up and runs the main job; `make test` sets up and runs lint + tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup assets run test lint bench clean

setup: $(STAMP) assets

# torch first and pinned: 2.13.0 is the local CPU wheel; any other spec pulls GBs of CUDA packages.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.10+"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

# Offline assets (Qwen3 tokenizer, chinese-poetry, CC-CEDICT) into $$TIANCI_HOME, then the rhyme
# dictionaries built from them; each step skips what is already there.
assets: $(STAMP)
	$(PY) -m lyrics.assets fetch
	$(PY) -m lyrics.rhymebook

run: setup
	$(VENV)/bin/tianci analyze --lang cmn "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
	$(VENV)/bin/tianci analyze --lang yue "故人西辭黃鶴樓，煙花三月下揚州。孤帆遠影碧空盡，唯見長江天際流。"
	$(VENV)/bin/tianci rhymes 光 --limit 20

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: setup lint
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/phonetics_accuracy.py
	$(PY) bench/phonetics.py
	$(PY) bench/constraints.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
