"""The runnable examples in the docstrings of phonetics/, the decoding modules, the configs and the candidate
pipeline, the scorer's features, rejection sampling's selection and the check set run as doctests."""

import doctest
import importlib
import pkgutil

import pytest

import phonetics
from lyrics import generation
from lyrics.data import keywords
from lyrics.decoding import constraints, keyword_bias
from lyrics.training import config
from scorer import candidates, checkset, features, selection

MODULES = [importlib.import_module(f"phonetics.{m.name}") for m in pkgutil.iter_modules(phonetics.__path__)]
MODULES += [keywords, constraints, keyword_bias, generation, config, candidates, features, selection, checkset]
WITH_EXAMPLES = ["phonetics.analysis", "phonetics.annotate", "phonetics.cantonese", "phonetics.languages",
                 "phonetics.context", "phonetics.polyphone", "phonetics.rhyme",
                 "lyrics.data.keywords", "lyrics.decoding.constraints", "lyrics.decoding.keyword_bias",
                 "lyrics.training.config", "scorer.candidates", "scorer.features", "scorer.selection",
                 "scorer.checkset"]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0
    assert (result.attempted > 0) == (module.__name__ in WITH_EXAMPLES)
