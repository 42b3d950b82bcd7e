"""Shared fixtures. Tests run on the real libraries and the real assets that `make setup` fetched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real `tianci` command line, in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "tianci.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=300, check=False)


@pytest.fixture(scope="session")
def cli():
    return run_cli


def tiny_qwen3(vocab_size: int, seed: int = 0):
    """A randomly initialised Qwen3 small enough for CPU tests, fixed by ``seed``."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    config = Qwen3Config(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=2048,
                         tie_word_embeddings=True)
    return Qwen3ForCausalLM(config).eval()


@pytest.fixture(scope="session")
def qwen_tokenizer():
    from transformers import AutoTokenizer

    from lyrics.data.assets import asset_dir

    return AutoTokenizer.from_pretrained(asset_dir("qwen3-tokenizer"))


@pytest.fixture(scope="session")
def qwen_model(qwen_tokenizer):
    return tiny_qwen3(len(qwen_tokenizer))


@pytest.fixture(scope="session")
def char_tokenizer():
    """A character vocabulary: the 2,500 commonest characters of each language's corpus."""
    from lyrics.data.rhymebook import rhyme_dictionary
    from lyrics.training.chartok import build_char_tokenizer

    chars = []
    for lang in ("cmn", "yue"):
        counts = rhyme_dictionary(lang).counts
        chars += sorted(counts, key=lambda c: -sum(counts[c].values()))[:2500]
    return build_char_tokenizer(chars)


@pytest.fixture(scope="session")
def char_model(char_tokenizer):
    return tiny_qwen3(len(char_tokenizer))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """A small real corpus built by `tianci data build`'s code: 300 Song ci (cmn) and 300 Tang poems (yue)."""
    import itertools

    from lyrics.data.works import build, poetry_source

    path = tmp_path_factory.mktemp("data")
    build([itertools.islice(poetry_source("songci", "cmn"), 300), itertools.islice(poetry_source("tang", "yue"), 300)],
          path)
    return path


@pytest.fixture(scope="session")
def char_generator_dir(tmp_path_factory, char_model, char_tokenizer):
    """The tiny character-level Qwen3 saved as a model folder, as `from_pretrained` reads it."""
    path = tmp_path_factory.mktemp("char-generator")
    char_model.save_pretrained(path, safe_serialization=True)
    char_tokenizer.save_pretrained(path)
    return path
