"""The runnable examples in the docstrings of the keyword modules run as doctests."""

import doctest

import pytest

from lyrics.data import keywords
from lyrics.decoding import keyword_bias


@pytest.mark.parametrize("module", [keywords, keyword_bias])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
