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
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

# Offline assets (Qwen3 tokenizer, chinese-poetry, CC-CEDICT) into $$TIANCI_HOME; skips what is present.
assets: $(STAMP)
	$(PY) -m lyrics.assets fetch

run: setup
	$(VENV)/bin/tianci analyze --lang cmn "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
	$(VENV)/bin/tianci analyze --lang yue "海闊天空 在勇敢以後 要拿執着 將命運的鎖打破"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: setup lint
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/phonetics_accuracy.py
	$(PY) bench/phonetics.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
