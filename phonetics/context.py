"""Context rules: a polyphone read one way in one context, kept as data (``data/context_<lang>.json``).

Each rule is a regular expression over a run of CJK characters; the character in its group ``t`` takes the
rule's reading (in the rule's register only, when it names one). The first rule that matches a character
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
    register: str | None = None  # None: in every register
    needs: str | None = None  # the one character its group t reads, if the pattern names one: runs without it skip


_ONE_CHARACTER = re.compile(r"\(\?P<t>([^\\()\[\].|*+?{}^$])\)")


@cache
def load_rules(table: str) -> tuple[ContextRule, ...]:
    return tuple(ContextRule(re.compile(rule["pattern"]), rule["reading"], rule.get("register"),
                             (found := _ONE_CHARACTER.search(rule["pattern"])) and found.group(1))
                 for rule in load_table(table)["rules"])


def apply_rules(rules: tuple[ContextRule, ...], run: str, readings: MutableSequence[str | None],
                register: str | None = None, offset: int = 0) -> None:
    """Set ``readings[offset + i]`` for each character ``run[i]`` a rule for ``register`` matches."""
    ruled: set[int] = set()
    for rule in rules:
        if rule.register in (None, register) and (rule.needs is None or rule.needs in run):
            for match in rule.pattern.finditer(run):
                if (where := match.start("t")) not in ruled:
                    readings[offset + where] = rule.reading
                    ruled.add(where)
