"""Every runnable example in a docstring of a first-party package (phonetics/, lyrics/, scorer/, pipeline/,
tianci/) runs as a doctest: the modules are discovered by their source holding ``>>>``, so none is left out by a
hand-kept list."""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import lyrics
import phonetics
import pipeline
import scorer
import tianci

PACKAGES = (phonetics, lyrics, scorer, pipeline, tianci)


def modules_with_examples(packages=PACKAGES) -> list[str]:
    """Every module of ``packages`` (found without importing it) whose source holds ``>>>``."""
    names = []
    for package in packages:
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            spec = importlib.util.find_spec(info.name)
            if spec and spec.origin and ">>>" in Path(spec.origin).read_text("utf-8"):
                names.append(info.name)
    return sorted(names)


MODULES = modules_with_examples()


def test_the_discovery_finds_the_known_examples():
    assert {"phonetics.analysis", "phonetics.languages", "lyrics.decoding.constraints", "lyrics.modern.briefs",
            "lyrics.decoding.spec", "lyrics.decoding.melody", "pipeline.candidates", "lyrics.export",
            "lyrics.decoding.melody_pull", "lyrics.generation", "pipeline.rs.selection"} <= set(MODULES)


def test_the_discovery_reads_every_package_and_no_module_without_examples(tmp_path, monkeypatch):
    """A module is in the list exactly when its source holds ``>>>``, at any depth of any first-party package."""
    package = tmp_path / "toypkg"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "__init__.py").write_text("")
    (package / "inner" / "shown.py").write_text('"""\n>>> 1 + 1\n2\n"""\n')
    (package / "plain.py").write_text('"""No example here."""\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert modules_with_examples((importlib.import_module("toypkg"),)) == ["toypkg.inner.shown"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0  # (an example marked +SKIP, needing a model, is not attempted)
