"""Context rules: a polyphone read one way in one context, kept as data (``data/context_<lang>.json``).

Each rule is a regular expression over a run of CJK characters (a sentence rule: over the whole text, its
punctuation and other clauses included); the character in its group ``t`` takes the rule's reading (in the rule's
registers only, when it names one or a list). The first rule that matches a character reads it.

>>> rules = load_rules("context_cmn")
>>> out = ["man4", "man4", "di4", "zou3"]
>>> apply_rules(rules, "慢慢地走", out)
>>> out
['man4', 'man4', 'de5', 'zou3']
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableSequence
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

from .tables import load_table


@dataclass(frozen=True)
class ContextRule:
    pattern: re.Pattern[str]
    reading: str
    registers: tuple[str, ...] | None = None  # None: in every register
    target: str | None = None  # the one character group t matches, when it names one: runs without it are skipped


@cache
def load_rules(table: str, key: str = "rules") -> tuple[ContextRule, ...]:
    """The rules of ``data/<table>.json`` under ``key`` (Cantonese keeps ``sentence_rules`` beside its ``rules``)."""
    return tuple(ContextRule(re.compile(rule["pattern"]), rule["reading"], _registers(rule.get("register")),
                             _target(rule["pattern"]))
                 for rule in load_table(table)[key])


def _target(pattern: str) -> str | None:
    found = re.search(r"\(\?P<t>([^\\()\[\].|*+?{}^$])\)", pattern)  # a literal character, not a class or "."
    return found.group(1) if found else None


def _registers(named: str | list[str] | None) -> tuple[str, ...] | None:
    """A rule's ``register``: one name, a list of names, or none (every register)."""
    return (named,) if isinstance(named, str) else None if named is None else tuple(named)


def apply_rules(rules: tuple[ContextRule, ...], run: str, readings: MutableSequence[str | None],
                register: str | None = None, offset: int = 0) -> None:
    """Set ``readings[offset + i]`` for each character ``run[i]`` a rule for ``register`` matches."""
    ruled: set[int] = set()
    for rule in rules:
        if (rule.registers is None or register in rule.registers) and (rule.target is None or rule.target in run):
            for match in rule.pattern.finditer(run):
                if (where := match.start("t")) not in ruled:
                    readings[offset + where] = rule.reading
                    ruled.add(where)


T = TypeVar("T")


def longest_listed(run: str, i: int, longest: int, read: Callable[[int, int], T | None]) -> T | None:
    """What ``read(start, size)`` gives for the longest word of ``run`` around ``run[i]`` (at most ``longest``
    characters, the leftmost of a length first) for which it gives anything: a word table's reading of ``run[i]``
    where the caller's table lists the word and its segmentation allows it.

    >>> table = {"闷热": "men1 re4"}
    >>> longest_listed("天气闷热", 2, 4, lambda start, size: table.get("天气闷热"[start:start + size]))
    'men1 re4'
    """
    for size in range(min(longest, len(run)), 1, -1):
        for start in range(max(0, i - size + 1), min(i, len(run) - size) + 1):
            if (found := read(start, size)) is not None:
                return found
    return None
