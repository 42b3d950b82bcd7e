"""The vLLM decoding backend: :class:`VllmDecoder`, beside the Hugging Face ``lyrics.generation.Decoder`` with the
interface the ``pipeline.writer.Writer`` uses (``plan_keywords``, ``compile``, ``pin_rhymes``, ``row_rhymes``,
``generate_many``), so ``tianci generate / batch / rs / serve --engine vllm`` write through the same Writer and
their candidates go through the same checks and ranking.

Importable only where vLLM is installed (``make vllm``: the ``.venv-vllm`` venv). A vLLM engine is started in this
process (``vllm.LLM`` with ``lyrics.vllm_processor.TianciLogitsProcessor``); every candidate is a request of its own
with its spec in ``SamplingParams.extra_args`` (``lyrics.vllm_processor.LyricRequests``), all the candidates of a
call submitted together so vLLM batches them continuously. A program that starts an engine needs an
``if __name__ == "__main__":`` guard (vLLM may spawn its engine core).

Differences from the Hugging Face backend, each refused in one line rather than done differently:

- hints are as the model was trained (``tianci.json``): the engine's processor compiles every spec that way;
- no beam search, no LoRA ``adapter`` (merge it first: ``tianci export``), no Mandarin melody pull
  (``melody_pull``; Cantonese melodies fix tones in the spec, which the constraint enforces);
- seeds: each candidate row is seeded on its own (:func:`_row_seed`), so a row's tokens do not depend on what
  else is in flight; the same seed gives the same candidates on this
  engine, not the Hugging Face engine's (their samplers differ).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vllm import LLM, SamplingParams

from lyrics.data.keywords import KEYWORD_PULL
from lyrics.decoding.checks import check_lyrics
from lyrics.decoding.constraints import LyricsConstraint, UnsatisfiableSpec
from lyrics.decoding.melody import MELODY_PULL, Melody
from lyrics.decoding.prompt import build_prompt, spec_hints
from lyrics.decoding.spec import LyricSpec
from lyrics.generation import DEFAULT_SAMPLING, Candidate, free_budget, free_lines, free_output, free_stops
from lyrics.vllm_processor import (
    MEMORY_KEY,
    PULL_KEY,
    LyricRequest,
    LyricRequests,
    SpecCompiler,
    TianciLogitsProcessor,
)
from phonetics import TianciError, language

CPU_KV_CACHE_GIB = "1"  # VLLM_CPU_KVCACHE_SPACE unless set: a small model's few dozen rows need far less
SAMPLING_FIELDS = {"temperature", "top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty",
                   "frequency_penalty"}  # generate_many options that are SamplingParams fields of the same meaning


class EngineError(TianciError):
    """What the vLLM backend does not do (or cannot start); the message is one line saying what to do instead."""


def spec_data(spec: LyricSpec) -> dict[str, Any]:
    """The spec as the JSON object ``LyricSpec.from_dict`` reads back into it (what travels in a request)."""
    data: dict[str, Any] = {"lang": spec.lang, "topic": spec.topic, "structure": spec.structure,
                            "scheme": spec.scheme, "n": spec.n, "keywords": list(spec.keywords)}
    if spec.rhymes:
        data["rhymes"] = dict(spec.rhymes)
    if any(line.tones for line in spec.lines):
        data["tones"] = [line.tones or "*" for line in spec.lines]
    if spec.keep:
        data["keep"] = spec.keep_dict()
    for name in ("seed", "id", "genre", "mood", "register"):
        if getattr(spec, name) is not None:
            data[name] = getattr(spec, name)
    return data


class VllmDecoder:
    """A vLLM engine over a model folder, with the planning side of the Hugging Face ``Decoder`` (a model-less
    ``Decoder`` over the same tokenizer: token table, keyword tables, compiled constraints, the model's hint
    setting), so plans, pinned rhymes, prompts and hints are the Hugging Face path's."""

    model = None  # no torch model in this process: the engine holds it

    def __init__(self, llm: LLM, compiler: SpecCompiler, top_k: int | None = None):
        self.llm, self.compiler, self.top_k = llm, compiler, top_k
        self.requests = LyricRequests(compiler)
        self.planner = compiler.decoder
        self.max_model_len = llm.llm_engine.model_config.max_model_len

    @classmethod
    def load(cls, path: str | Path, *, adapter: str | None = None, **engine: Any) -> VllmDecoder:
        """An engine over the model at ``path`` (a folder or hub id). ``engine``: more ``vllm.LLM`` arguments
        (``dtype``, ``max_num_seqs``, ``gpu_memory_utilization``...). On CPU: float32, eager mode (no compile at
        start-up), the engine core in this process and a 1 GiB KV cache, unless the environment
        (``VLLM_ENABLE_V1_MULTIPROCESSING``, ``VLLM_CPU_KVCACHE_SPACE``) or ``engine`` says otherwise."""
        if adapter is not None:
            raise EngineError("--engine vllm takes a merged model, not --adapter: merge it first (tianci export), "
                              "or use the Hugging Face engine")
        from vllm.platforms import current_platform

        options: dict[str, Any] = {"seed": 0}
        if current_platform.is_cpu():
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KV_CACHE_GIB)
            # the engine core in this process: no engine-core and worker processes, each importing vLLM again
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
            options |= {"enforce_eager": True, "dtype": "float32"}  # float32 as the Hugging Face path on CPU
        try:
            llm = LLM(model=str(path), logits_processors=[TianciLogitsProcessor], **{**options, **engine})
        except (OSError, ValueError) as err:  # a folder that is not a model, an unknown architecture
            raise EngineError(f"vLLM cannot load {path}: {str(err).splitlines()[0] if str(err) else err!r}") from None
        return cls(llm, SpecCompiler.for_model(path), _default_top_k(path))

    def close(self) -> None:
        """Stop the engine (its core process and memory) now rather than at exit."""
        engine = getattr(self.llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        self.llm = None

    # The planning side: the Hugging Face Decoder's, on the same tokenizer.
    @property
    def tokenizer(self):
        return self.compiler.tokenizer

    @property
    def table(self):
        return self.planner.table

    @property
    def eos_ids(self) -> list[int]:
        return self.planner.eos_ids

    @property
    def hints(self) -> bool:
        return self.planner.hints

    @property
    def keyword_tables(self):
        return self.planner.keyword_tables

    def compile(self, spec: LyricSpec, hints: bool = False) -> LyricsConstraint:
        return self.planner.compile(spec, hints)

    def plan_keywords(self, spec: LyricSpec) -> LyricSpec:
        return self.planner.plan_keywords(spec)

    def pin_rhymes(self, spec: LyricSpec, seed: int | None = None) -> LyricSpec:
        return self.planner.pin_rhymes(spec, seed)

    def row_rhymes(self, spec: LyricSpec, seed: int | None, rows: int) -> list[LyricSpec]:
        return self.planner.row_rhymes(spec, seed, rows)

    def generate(self, spec: LyricSpec | dict, n: int | None = None, *, seed: int | None = None,
                 **options: Any) -> list[Candidate]:
        """``n`` candidates for one spec, its keyword plan filled first; the rest as :meth:`generate_many`."""
        spec = self.plan_keywords(spec if isinstance(spec, LyricSpec) else LyricSpec.from_dict(spec))
        return self.generate_many([spec], n or spec.n, seed=seed if seed is not None else spec.seed, **options)[0]

    def generate_many(self, specs: list[LyricSpec], n: int, *, seed: int | None = None,
                      prompts: list[str] | None = None, hints: bool | None = None, constrained: bool = True,
                      max_rows: int | None = None, keyword_pull: float = KEYWORD_PULL, melody: Melody | None = None,
                      melody_pull: float = MELODY_PULL, memory_mix: float | None = None,
                      **sampling: Any) -> list[list[Candidate]]:
        """``n`` candidates for each (planned) spec, as ``Decoder.generate_many`` takes them, all submitted to the
        engine at once (``max_rows`` is the engine's business here: ``max_num_seqs``)."""
        if hints is not None and hints != self.hints:
            raise EngineError(f"the vLLM engine writes {'with' if self.hints else 'without'} hint lines, as this "
                              "model was trained: leave --hints out, or use the Hugging Face engine")
        if melody is not None and melody_pull and any(not language(s.lang).melody_levels for s in specs):
            raise EngineError("the vLLM engine has no melody pull for Mandarin yet: pass --melody-bias 0, or use "
                              "the Hugging Face engine")
        params = self._sampling({**DEFAULT_SAMPLING, **sampling})
        if not constrained:
            return self._generate_free(specs, n, seed, prompts, params)
        built: list[tuple[int, LyricRequest]] = []
        for i, spec in enumerate(specs):  # every spec compiled (an unsatisfiable one raises) before the engine runs
            rows = self.requests.build(spec_data(spec), n=n, seed=seed if seed is not None else spec.seed, **params)
            for k, row in enumerate(rows):
                row.params.seed = _row_seed(seed, spec, i, n, k)
                if keyword_pull != KEYWORD_PULL:
                    row.params.extra_args[PULL_KEY] = float(keyword_pull)
                if memory_mix is not None:  # else the engine's processor takes the model's own setting
                    row.params.extra_args[MEMORY_KEY] = float(memory_mix)
                if prompts is not None:
                    row.prompt = prompts[i]
                self._check_context(row.prompt, row.params.max_tokens)
                built.append((i, row))
        outputs = self.llm.generate([row.prompt for _, row in built], [row.params for _, row in built],
                                    use_tqdm=False)
        results: list[list[Candidate]] = [[] for _ in specs]
        for (i, row), out in zip(built, outputs, strict=True):
            results[i].append(self.requests.candidate(row, list(out.outputs[0].token_ids)))
        return results

    def _sampling(self, options: dict[str, Any]) -> dict[str, Any]:
        """``generate_many``'s sampling options as ``SamplingParams`` fields: greedy is temperature 0."""
        options = dict(options)
        if options.pop("num_beams", 1) > 1:
            raise EngineError("the vLLM engine does no beam search: sample, or use the Hugging Face engine")
        if not options.pop("do_sample", True):
            options = {key: value for key, value in options.items() if key not in ("temperature", "top_p", "top_k")}
            options["temperature"] = 0.0
        unknown = sorted(set(options) - SAMPLING_FIELDS)
        if unknown:
            raise EngineError(f"the vLLM engine does not take the option {unknown[0]!r}; use the Hugging Face engine")
        if options.get("temperature") != 0.0:
            options.setdefault("top_k", self.top_k)  # the model's own, as the Hugging Face path samples
        if options.get("top_k") is None:
            options.pop("top_k", None)
        return options

    def _check_context(self, prompt: str, budget: int) -> None:
        """A spec whose prompt and lyrics would run past the engine's context is refused before decoding, in one
        line, as the Hugging Face path refuses it."""
        need = len(self.tokenizer.encode(prompt, add_special_tokens=False)) + budget
        if need > self.max_model_len:
            raise UnsatisfiableSpec(f"the spec needs about {need} tokens with its prompt and hints; this model reads "
                                    f"at most {self.max_model_len}: ask for fewer or shorter lines, or use a model "
                                    "with a longer context")

    def _generate_free(self, specs: list[LyricSpec], n: int, seed: int | None, prompts: list[str] | None,
                       params: dict[str, Any]) -> list[list[Candidate]]:
        """Unconstrained sampling, as ``Decoder._generate_free``: with hints, line by line (the line's hint put in
        the text, the model writing until its newline); without, one pass until the end token, hint-like lines
        dropped. The rows of every spec go through the engine together, a call per line."""
        tokenizer, hints = self.tokenizer, self.hints
        if hints:
            specs = [self.pin_rhymes(spec, seed if seed is not None else spec.seed) for spec in specs]
        stops = free_stops(self.eos_ids, tokenizer, hints)
        rows = [(i, k) for i in range(len(specs)) for k in range(n)]
        texts = [prompts[i] if prompts else build_prompt(specs[i], tokenizer) for i, _ in rows]
        written: list[list[str]] = [[] for _ in rows]
        counts = [0] * len(rows)
        steps = max(len(spec.lines) for spec in specs) if hints else 1
        for step in range(steps):
            active = [r for r, (i, _) in enumerate(rows) if not hints or step < len(specs[i].lines)]
            batch = []
            for r in active:
                spec = specs[rows[r][0]]
                if hints:
                    texts[r] += spec_hints(spec)[step] + "\n"
                budget = free_budget(spec, spec.lines[step] if hints else None)
                row_seed = _row_seed(seed, spec, rows[r][0], n, rows[r][1])
                row_seed = None if row_seed is None else row_seed + 7919 * step
                batch.append(SamplingParams(max_tokens=budget, stop_token_ids=stops, seed=row_seed,
                                            skip_special_tokens=True, **params))
            outputs = self.llm.generate([texts[r] for r in active], batch, use_tqdm=False)
            for r, out in zip(active, outputs, strict=True):
                text, used = free_output(list(out.outputs[0].token_ids), stops, tokenizer)
                counts[r] += used
                if hints:
                    written[r].append(text.strip())
                    texts[r] += text.strip() + "\n"
                else:
                    written[r] = free_lines(text)
        results: list[list[Candidate]] = [[] for _ in specs]
        for (i, _), lines, count in zip(rows, written, counts, strict=True):
            lyrics = "\n".join(lines)
            results[i].append(Candidate(lyrics, check_lyrics(lyrics, specs[i]), count))
        return results



def _row_seed(seed: int | None, spec: LyricSpec, index: int, n: int, row: int) -> int | None:
    """Candidate ``row`` of the spec at ``index`` in a call: the call's seed counts on through the call's rows (so
    they differ); a spec's own seed through its own rows, whatever else is in the call; neither: unseeded."""
    if seed is not None:
        return seed + index * n + row
    return None if spec.seed is None else spec.seed + row


def _default_top_k(path: str | Path) -> int | None:
    """The model's ``generation_config.json`` top-k, which the Hugging Face path samples with unless told (None:
    none, or no such file)."""
    try:
        from transformers import GenerationConfig

        return GenerationConfig.from_pretrained(str(path)).top_k or None
    except OSError:
        return None
