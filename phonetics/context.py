"""Context rules: a polyphone read one way in one context, kept as data (``data/context_<lang>.json``).

Each rule is a regular expression over a run of CJK characters; the character in its group ``t`` takes the
rule's reading (in the rule's registers only, when it names one or a list). The first rule that matches a character
reads it.

>>> rules = load_rules("context_cmn")
>>> out = ["man4", "man4", "di4", "zou3"]
>>> apply_rules(rules, "慢慢地走", out)
>>> out
['man4', 'man4', 'de5', 'zou3']
"""

from __future__ import annotations

import re
from collections.abc import MutableSequence
from dataclasses import dataclass
from functools import cache

from .tables import load_table


@dataclass(frozen=True)
class ContextRule:
    pattern: re.Pattern[str]
    reading: str
    registers: tuple[str, ...] | None = None  # None: in every register
    target: str | None = None  # the one character group t matches, when it names one: runs without it are skipped


@cache
def load_rules(table: str) -> tuple[ContextRule, ...]:
    return tuple(ContextRule(re.compile(rule["pattern"]), rule["reading"], _registers(rule.get("register")),
                             _target(rule["pattern"]))
                 for rule in load_table(table)["rules"])


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
