"""``Writer``: the one object every entry point writes lyrics through (``tianci generate``, ``tianci batch``, the
demo, rejection sampling and each Ray actor).

A Writer holds the generator with everything derived from it (``lyrics.generation.Decoder``: token table, end
tokens, compiled-constraint cache; the model's keyword tables) and optionally the scorer. A request goes
through it in two steps:

- :meth:`Writer.plan`: a request (a spec, or the dict ``tianci batch`` reads) becomes the spec the generator
  is given, once: validated, its keyword plan filled from the topic.
- :meth:`Writer.write`: ``n`` candidates per planned spec, each checked independently and scored, in
  generation order; an :class:`~lyrics.decoding.constraints.UnsatisfiableSpec` is raised, never returned.

Seeds seed a ``torch.Generator`` of the call; the process's global random state is never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lyrics.decoding.spec import LyricSpec
from lyrics.generation import Decoder
from lyrics.models import load_model, set_cpu_threads
from scorer.model import Scorer

from .candidates import Scored, score_all


class Writer:
    """A generator (and optionally a scorer) ready to write: see the module's docstring."""

    def __init__(self, model, tokenizer, scorer: Scorer | None = None):
        self.decoder = Decoder(model, tokenizer)
        self.scorer = scorer

    @classmethod
    def load(cls, generator: str, *, adapter: str | None = None, scorer: str | None = None) -> Writer:
        """The generator at ``generator`` (a folder or hub id; safetensors only, no remote code), with a LoRA
        ``adapter`` merged when given, and the scorer at ``scorer`` when given. On CPU, torch's threads are
        sized for decoding (``lyrics.models.set_cpu_threads``)."""
        model, tokenizer = load_model(generator, adapter=adapter)
        if model.device.type == "cpu":
            set_cpu_threads(model)
        return cls(model, tokenizer, Scorer.load(scorer) if scorer else None)

    @property
    def model(self):
        return self.decoder.model

    @property
    def tokenizer(self):
        return self.decoder.tokenizer

    def plan(self, request: LyricSpec | dict) -> LyricSpec:
        """The spec to generate from ``request``: parsed (a :class:`~lyrics.decoding.spec.SpecError` for a bad
        one) and its keyword plan filled from its topic, the user's keywords first."""
        spec = request if isinstance(request, LyricSpec) else LyricSpec.from_dict(request)
        return self.decoder.plan_keywords(spec)

    def check(self, spec: LyricSpec) -> None:
        """Raise :class:`~lyrics.decoding.constraints.UnsatisfiableSpec` when this tokenizer cannot meet
        ``spec``, before any model work."""
        self.decoder.compile(spec)

    def write(self, specs: Sequence[LyricSpec], n: int, *, seed: int | None = None,
              judged: Sequence[LyricSpec] | None = None, **options: Any) -> list[list[Scored]]:
        """``n`` candidates for each planned spec, checked and (with a scorer) scored against it, or against its
        ``judged`` spec (the user's request, where the generator saw an expanded one). ``options``: sampling and
        pulls, as ``Decoder.generate_many`` takes them."""
        groups = self.decoder.generate_many(list(specs), n, seed=seed, **options)
        return score_all(self.scorer, specs, groups, judged)
