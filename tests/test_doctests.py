"""Every runnable example in a docstring of the library (phonetics/, lyrics/, scorer/) runs as a doctest: the
modules are discovered by their source holding ``>>>``, so none is left out by a hand-kept list."""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import lyrics
import phonetics
import scorer


def modules_with_examples() -> list[str]:
    names = []
    for package in (phonetics, lyrics, scorer):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            spec = importlib.util.find_spec(info.name)
            if spec and spec.origin and ">>>" in Path(spec.origin).read_text("utf-8"):
                names.append(info.name)
    return sorted(names)


MODULES = modules_with_examples()


def test_the_discovery_finds_the_known_examples():
    assert {"phonetics.analysis", "lyrics.decoding.constraints", "lyrics.modern.briefs", "lyrics.decoding.spec",
            "scorer.candidates"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0  # (an example marked +SKIP, needing a model, is not attempted)
