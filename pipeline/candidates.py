"""Checked, scored candidates and the one rule that ranks them (``pipeline.writer.Writer.write`` makes them;
batch, rejection sampling and the demo pick the best by it).

The rule (:func:`rank_key`): candidates passing every check first, then those with more lines rhyming as
asked, then the higher overall score. :func:`best` is the top candidate when it passes (None when none does),
among ``eligible`` ones when a gate narrows them.

>>> from lyrics.decoding.checks import Checks
>>> passing, failing = Checks(True, True, True, []), Checks(True, False, True, [])
>>> items = [Scored(Candidate("a", failing, 3), {"overall": 4.9}), Scored(Candidate("b", passing, 3), {"overall": 3.0})]
>>> [item.candidate.lyrics for item in ranked(items)], best(items), best(items, eligible={0})
(['b', 'a'], 1, None)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from lyrics.decoding.spec import LyricSpec
from lyrics.generation import Candidate
from scorer.model import Scorer, scorer_prompt


@dataclass
class Scored:
    """A candidate with the scorer's 1-5 per aspect (empty without a scorer)."""

    candidate: Candidate
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def lyrics(self) -> str:
        return self.candidate.lyrics

    def to_dict(self) -> dict:
        return {**self.candidate.to_dict(), **({"scores": self.scores} if self.scores else {})}


def rank_key(item: Scored) -> tuple[bool, int, float]:
    checks = item.candidate.checks
    return checks.ok, sum(line.rhyme_ok for line in checks.lines), item.scores.get("overall", 0.0)


def ranked(items: Sequence[Scored]) -> list[Scored]:
    """Best first by :func:`rank_key` (ties keep their order)."""
    return sorted(items, key=rank_key, reverse=True)


def best(items: Sequence[Scored], eligible: Collection[int] | None = None) -> int | None:
    """The index of the best candidate that passes every check (and is ``eligible``); None when there is none."""
    pool = [i for i, item in enumerate(items) if item.candidate.checks.ok and (eligible is None or i in eligible)]
    return max(pool, key=lambda i: (rank_key(items[i]), -i), default=None)


def score_all(scorer: Scorer | None, specs: Sequence[LyricSpec], groups: Sequence[list[Candidate]],
              judged: Sequence[LyricSpec] | None = None) -> list[list[Scored]]:
    """Each group of candidates scored against its spec (or its ``judged`` spec: the user's request, where
    the generator saw an expanded one), in one scorer pass."""
    judged = judged or specs
    flat = [(scorer_prompt(spec), c.lyrics) for spec, group in zip(judged, groups, strict=True) for c in group]
    values = iter(scorer.score(flat) if scorer is not None and flat else [{} for _ in flat])
    return [[Scored(c, next(values)) for c in group] for group in groups]
