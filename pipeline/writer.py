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

Two decoding backends (``engine``): ``hf``, the Hugging Face ``Decoder`` (the default), and ``vllm``, the
``lyrics.vllm_decoder.VllmDecoder`` (a vLLM engine in this process, only where vLLM is installed: ``make vllm``,
the ``.venv-vllm`` venv). Both plan alike, and their candidates go through the same checks and scoring. On the
vLLM engine each candidate row is seeded on its own (``lyrics.vllm_decoder``), and starting the engine in this
process (vLLM on CPU) seeds the process's global random state once, as vLLM does.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from lyrics.decoding.spec import LyricSpec
from lyrics.generation import Decoder
from lyrics.models import load_model, set_cpu_threads
from phonetics import TianciError
from scorer.model import Scorer

from .candidates import Scored, score_all
from .config import DECODERS

NO_VLLM = ("--engine vllm needs vLLM, which this environment does not have: run `make vllm`, then use the "
           ".venv-vllm venv (e.g. .venv-vllm/bin/tianci ... --engine vllm); on a GPU machine install CUDA vllm")


class EngineUnavailable(TianciError):
    """A decoding backend that is not installed here; the message is one line saying how to get it."""


def require_engine(engine: str) -> None:
    """Raise :class:`EngineUnavailable` (one line, no traceback at the command line) unless ``engine`` can run
    here: checked before any model work, without importing vLLM."""
    if engine not in DECODERS:
        raise EngineUnavailable(f"engine {engine!r}: use one of {', '.join(DECODERS)}")
    if engine == "vllm" and importlib.util.find_spec("vllm") is None:
        raise EngineUnavailable(NO_VLLM)


class Writer:
    """A generator (and optionally a scorer) ready to write: see the module's docstring. ``decoder``: a backend
    already made (a ``VllmDecoder``), instead of a Hugging Face ``Decoder`` over ``model`` and ``tokenizer``."""

    def __init__(self, model, tokenizer, scorer: Scorer | None = None, *, decoder=None):
        self.decoder = decoder if decoder is not None else Decoder(model, tokenizer)
        self.scorer = scorer

    @classmethod
    def load(cls, generator: str, *, adapter: str | None = None, scorer: str | None = None,
             engine: str = "hf", **engine_options: Any) -> Writer:
        """The generator at ``generator`` (a folder or hub id; safetensors only, no remote code), with a LoRA
        ``adapter`` merged when given, and the scorer at ``scorer`` when given, decoded by ``engine`` (``hf`` or
        ``vllm``; ``engine_options``: more ``vllm.LLM`` arguments). On CPU, torch's threads are sized for
        decoding (``lyrics.models.set_cpu_threads``)."""
        require_engine(engine)
        if engine == "vllm":
            from lyrics.vllm_decoder import VllmDecoder

            decoder = VllmDecoder.load(generator, adapter=adapter, **engine_options)
            return cls(None, decoder.tokenizer, Scorer.load(scorer) if scorer else None, decoder=decoder)
        model, tokenizer = load_model(generator, adapter=adapter)
        if model.device.type == "cpu":
            set_cpu_threads(model)
        return cls(model, tokenizer, Scorer.load(scorer) if scorer else None)

    @property
    def engine(self) -> str:
        """The decoding backend: ``hf`` or ``vllm``."""
        return "hf" if isinstance(self.decoder, Decoder) else "vllm"

    def close(self) -> None:
        """Free the backend's engine now (a vLLM engine holds memory and a process until then)."""
        close = getattr(self.decoder, "close", None)
        if close is not None:
            close()

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
