"""Serving with vLLM: Tianci's constraint as a vLLM v1 logits processor, the spec passed per request.

Importable only where vLLM is installed (``make vllm``: the ``.venv-vllm`` venv); nothing else in Tianci imports
it. The engine takes the class, and each request carries its spec (the JSON object ``tianci batch`` reads) in
``SamplingParams.extra_args["tianci_spec"]`` (over HTTP: ``"vllm_xargs": {"tianci_spec": "<the spec as JSON>"}``):

    llm = LLM("models/tiny", logits_processors=[TianciLogitsProcessor])      # under `if __name__ == "__main__":`
    requests = LyricRequests.for_model("models/tiny")
    rows = requests.build({"lang": "cmn", "topic": "月光", "structure": "7A 7A 7B 7A"}, n=4, seed=1)
    outputs = llm.generate([row.prompt for row in rows], [row.params for row in rows])
    candidates = [requests.candidate(row, out.outputs[0].token_ids) for row, out in zip(rows, outputs)]

The processor compiles each request's spec as ``lyrics.generation.Decoder.generate_many`` does for the model
(with a model trained on hint lines, ``tianci.json`` ``{"hints": true}``: rhymes pinned, each line's hint forced),
keeps each row's plan state incrementally from the generated ids vLLM hands it (one ``LyricsConstraint.advance``
per new token), mixes in the corpus's phrase memory (``PhraseMix``, its share ``tianci_memory_mix``, default the model's
``tianci.json``), adds the pull towards the spec's keyword plan (``KeywordPull``, its pull ``tianci_keyword_pull``,
default ``KEYWORD_PULL``) and masks the whole batch at once: each row's cached mask (``LyricsConstraint.masks``:
shared by every row in the same plan state, so no mask is re-derived per step) stacked into one tensor and applied
with one add, the few ids each row's used rhyme characters forbid (no 重韵) and the keyword pulls
written with one indexed write each, with no tensor work per row. It lives in this layer, not in ``lyrics.decoding``,
because it compiles through the ``Decoder`` (its token table and compiled-constraint cache), which sits above the
constraint code.

Not done here: the melody pull of the Hugging Face path; a spec the
vocabulary cannot meet (``UnsatisfiableSpec``) is only found once the engine compiles it, where its request is
ended at once (empty lyrics) and the reason logged, not refused before decoding.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer
from vllm import SamplingParams
from vllm.exceptions import VLLMValidationError
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates

from lyrics.data.keywords import KEYWORD_PULL, load_tables
from lyrics.decoding.constraints import LyricsConstraint, RowState, UnsatisfiableSpec, additive_bias
from lyrics.decoding.keyword_pull import KeywordPull
from lyrics.decoding.phrase_memory import PhraseMix, RowAdvice, blend
from lyrics.decoding.prompt import build_prompt
from lyrics.decoding.row_text import PullText, RowTexts
from lyrics.decoding.spec import LyricSpec, SpecError
from lyrics.generation import Candidate, Decoder, candidate_from_tokens, token_budget
from lyrics.models import memory_mix_of, trained_with_hints
from phonetics import warn_renamed

SPEC_KEY = "tianci_spec"  # the key of SamplingParams.extra_args (HTTP: vllm_xargs) that carries the spec
PULL_KEY = "tianci_keyword_pull"  # the keyword pull (default KEYWORD_PULL; 0: off), as keyword_pull=
MEMORY_KEY = "tianci_memory_mix"  # the phrase memory's share (default: the model's tianci.json), as memory_mix=
RENAMED_PULL_KEY = "tianci_keyword_bias"  # its old name, still read
log = logging.getLogger(__name__)


def request_spec(params: SamplingParams) -> dict | None:
    """The spec dict a request carries, or None for a request without one (decoded freely). Over HTTP
    ``vllm_xargs`` values are flat, so a JSON string is read as well as an object; anything else is a
    ``SpecError``."""
    value = (params.extra_args or {}).get(SPEC_KEY)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise SpecError(f"{SPEC_KEY}: not valid JSON ({err.msg} at character {err.pos})") from None
    if not isinstance(value, dict):
        raise SpecError(f"{SPEC_KEY}: give the spec as a JSON object with at least lang, topic and structure")
    return value


def request_pull(params: SamplingParams, warn: bool = False) -> float:
    """The request's pull towards its spec's keyword plan (``Decoder.generate_many``'s ``keyword_pull``):
    ``KEYWORD_PULL`` unless the request sets ``tianci_keyword_pull`` (or its old name ``tianci_keyword_bias``,
    with a line on standard error when ``warn``)."""
    extra = params.extra_args or {}
    if PULL_KEY not in extra and RENAMED_PULL_KEY in extra:
        if warn:
            warn_renamed(RENAMED_PULL_KEY, PULL_KEY)
        extra = {PULL_KEY: extra[RENAMED_PULL_KEY]}
    value = extra.get(PULL_KEY, KEYWORD_PULL)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
        raise SpecError(f"{PULL_KEY}: give a number from 0 (no pull) up; the default is {KEYWORD_PULL}")
    return float(value)


def request_memory_mix(params: SamplingParams, default: float) -> float:
    """The request's phrase-memory share (``Decoder.generate_many``'s ``memory_mix``): ``default`` (the model's own
    setting) unless the request sets ``tianci_memory_mix``."""
    value = (params.extra_args or {}).get(MEMORY_KEY, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise SpecError(f"{MEMORY_KEY}: give a number from 0 (off) to below 1, e.g. 0.8")
    return float(value)


class SpecCompiler:
    """A spec dict to its compiled constraint, as the Hugging Face path compiles it for the same model: a
    ``Decoder`` without a model (token table, end tokens, compiled-constraint cache) and the model's hint setting.
    The client and the engine each hold one over the same tokenizer, so they agree on pinned rhymes and hints."""

    def __init__(self, tokenizer, hints: bool, keyword_tables: dict | None = None, memory_mix: float = 0.0):
        self.tokenizer = tokenizer
        self.decoder = Decoder(None, tokenizer)
        self.decoder.hints = hints
        self.decoder.keyword_tables = keyword_tables or None
        self.decoder.memory_mix = memory_mix

    @classmethod
    def for_model(cls, model_dir: str | Path, tokenizer_dir: str | Path | None = None) -> SpecCompiler:
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir or model_dir), trust_remote_code=False)
        folder = Path(model_dir)
        return cls(tokenizer, trained_with_hints(folder), load_tables(folder) if folder.is_dir() else None,
                   memory_mix_of(folder))

    @property
    def hints(self) -> bool:
        return self.decoder.hints

    def spec(self, data: dict) -> LyricSpec:
        """The spec a request decodes: parsed, and with hints every label pinned (a pinned spec stays as it is:
        the client pins, see :class:`LyricRequests`)."""
        spec = LyricSpec.from_dict(data)
        return self.decoder.pin_rhymes(spec, spec.seed) if self.hints else spec

    def constraint(self, spec: LyricSpec) -> LyricsConstraint:
        return self.decoder.compile(spec, self.hints)


class RequestRow:
    """One request's place in its constraint's plan. ``output_ids`` is vLLM's live list of the request's generated
    ids; the state is advanced over the ids not yet seen, so each step costs one ``advance`` per new token, as
    ``RowTracker`` does for ``model.generate``."""

    def __init__(self, constraint: LyricsConstraint, output_ids: list[int], pull: KeywordPull | None = None,
                 memory: PhraseMix | None = None):
        self.constraint, self.table, self.output_ids, self.pull = constraint, constraint.table, output_ids, pull
        self.memory = memory
        self.state, self.seen = RowState(), 0
        # the text of the ids seen, kept as the state is, for the keyword pull and the phrase memory
        self.texts = RowTexts(self.table) if pull is not None or memory is not None else None
        self.written = PullText()

    def masks(self) -> tuple[torch.Tensor, torch.Tensor]:
        """What the plan forbids next, as ``LyricsConstraint.masks`` gives it: the shared bool [V] mask and the few
        more ids the row's used characters forbid."""
        constraint, state = self.constraint, self.state
        while self.seen < len(self.output_ids):
            token = self.output_ids[self.seen]
            if token < 0:  # a placeholder for a token still being sampled (async scheduling): not known yet
                break
            state = constraint.advance(constraint.resolve(state), token)
            if self.texts is not None:
                self.written = self.texts.add(self.written, (token,))
            self.seen += 1
        self.state, base, extra = constraint.masks(state)  # with the relaxations its mask needs
        return base, extra

    def forbidden(self) -> torch.Tensor:
        """bool [V]: the tokens the plan forbids next, materialised."""
        base, extra = self.masks()
        return base.clone().index_fill_(0, extra, True) if len(extra) else base

    def pulls(self) -> list[tuple[int, float]]:
        """The keyword pull, as (token, amount) to add in order, from the ids seen so far."""
        return self.pull.pulls(0, self.written) if self.pull is not None else []

    def memory_step(self) -> RowAdvice | None:
        """The phrase memory's advice after the ids seen so far (``PhraseMix.row_advice``; None: none)."""
        return self.memory.row_advice(0, self.written) if self.memory is not None else None


class EndedRow:
    """A request whose spec the vocabulary cannot meet (found only when the engine compiles it): only an end token
    is allowed, so it ends at once with empty lyrics, and the reason is logged."""

    def __init__(self, decoder: Decoder, reason: str):
        self.table, self.reason = decoder.table, reason
        key = ("vllm ended row",)  # one end-token-only row per token table, shared by every such request
        if key not in decoder.table.derived:
            decoder.table.derived[key] = self._eos_only(decoder)
        self._forbidden = decoder.table.derived[key]

    @staticmethod
    def _eos_only(decoder: Decoder) -> torch.Tensor:
        forbidden = torch.ones(decoder.table.vocab_size, dtype=torch.bool)
        forbidden[decoder.eos_ids] = False
        return forbidden

    def masks(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._forbidden, _NONE

    def forbidden(self) -> torch.Tensor:
        return self._forbidden

    def pulls(self) -> list[tuple[int, float]]:
        return []

    def memory_step(self) -> RowAdvice | None:
        return None


_NONE = torch.zeros(0, dtype=torch.long)


class ConstrainedBatch:
    """The rows of vLLM's persistent batch that carry a spec, by batch index, and the masking of their logits,
    vectorised over the batch: each row's shared mask, as its cached additive bias row (rows in the same plan state
    share the constraint's cached tensor; rows without a spec get a zero row), is stacked into one float [B, V]
    tensor and added in one op; the used-character overlays and the keyword pulls of all rows go in as one indexed
    write each. No tensor op per row."""

    def __init__(self, compiler: SpecCompiler):
        self.compiler = compiler
        self.rows: dict[int, RequestRow | EndedRow] = {}

    def update(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self.rows, batch_update, self._new_row)

    def _new_row(self, params: SamplingParams, prompt_ids: list[int] | None,
                 output_ids: list[int]) -> RequestRow | EndedRow | None:
        data = request_spec(params)
        if data is None:
            return None
        try:
            spec = self.compiler.spec(data)
            constraint = self.compiler.constraint(spec)
        except UnsatisfiableSpec as err:
            log.warning("tianci: request ended unwritten: %s", err)
            return EndedRow(self.compiler.decoder, str(err))
        keyword_pull = request_pull(params)
        pull = (KeywordPull([list(spec.keywords)], self.compiler.tokenizer, keyword_pull, prompt_length=0,
                            table=self.compiler.decoder.table)
                if keyword_pull and spec.keywords else None)
        mix = request_memory_mix(params, self.compiler.decoder.memory_mix)
        near = self.compiler.decoder.memory_near(spec, mix)
        memory = (PhraseMix([near], self.compiler.tokenizer, mix, prompt_length=0, table=self.compiler.decoder.table)
                  if near is not None else None)
        return RequestRow(constraint, output_ids, pull, memory)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self.rows:
            return logits
        batch, width = logits.shape
        size = min(width, self.compiler.decoder.table.vocab_size)
        device = logits.device
        free = self._free_row(device)
        rows = [free] * batch
        extra_rows, extra_sizes, extra_ids, pull_rows, pull_ids, pull_amounts = [], [], [], [], [], []
        advice: list[RowAdvice | None] = [None] * batch
        for index, row in self.rows.items():
            base, extra = row.masks()
            advice[index] = row.memory_step()
            rows[index] = additive_bias(base, device, row.table)
            if len(extra):
                extra_rows.append(index)
                extra_sizes.append(len(extra))
                extra_ids.append(extra)
            for token, amount in row.pulls():
                pull_rows.append(index)
                pull_ids.append(token)
                pull_amounts.append(amount)
        if any(a is not None for a in advice):  # first, as in generate_many: the memory, the pulls, then the mask
            logits[:, :size] = blend(logits[:, :size], advice)
        if pull_rows:  # before the mask, as in generate_many; in the order KeywordPull adds them
            self._add_pulls(logits, pull_rows, pull_ids, pull_amounts)
        stacked = torch.stack(rows)  # float [B, V]: 0 or -inf; one add is far faster on CPU than masked_fill_
        logits[:, :size] += stacked[:, :size].to(logits.dtype)
        if extra_rows:
            at = torch.tensor(extra_rows).repeat_interleave(torch.tensor(extra_sizes))
            logits[at.to(device), torch.cat(extra_ids).to(device)] = float("-inf")
        if width > size:  # columns past the tokenizer's vocabulary (a padded embedding) are never lyrics
            constrained = torch.tensor(sorted(self.rows), device=device)
            logits[constrained, size:] = float("-inf")
        return logits

    def _free_row(self, device: torch.device) -> torch.Tensor:
        """An all-zero bias row for the rows without a spec, one per token table and device."""
        table = self.compiler.decoder.table
        key = ("vllm free row", str(device))
        if key not in table.derived:
            table.derived[key] = torch.zeros(table.vocab_size, dtype=torch.float32, device=device)
        return table.derived[key]

    @staticmethod
    def _add_pulls(logits: torch.Tensor, rows: list[int], ids: list[int], amounts: list[float]) -> None:
        """``logits[row, id] += amount`` for each, in order: one indexed add per round of repeats (a token pulled
        twice in a row gets its second add in the next round), so the sums are those of the one-by-one adds."""
        rounds: list[tuple[list[int], list[int], list[float]]] = []
        seen: dict[tuple[int, int], int] = {}
        for row, token, amount in zip(rows, ids, amounts, strict=True):
            k = seen[row, token] = seen.get((row, token), -1) + 1
            if k == len(rounds):
                rounds.append(([], [], []))
            rounds[k][0].append(row)
            rounds[k][1].append(token)
            rounds[k][2].append(amount)
        for row_list, id_list, amount_list in rounds:
            index = (torch.tensor(row_list, device=logits.device), torch.tensor(id_list, device=logits.device))
            logits[index] = logits[index] + torch.tensor(amount_list, dtype=logits.dtype, device=logits.device)


class TianciLogitsProcessor(LogitsProcessor):
    """The vLLM v1 logits processor: pass the class to ``LLM(..., logits_processors=[...])`` or the server's
    ``--logits-processors lyrics.vllm_processor:TianciLogitsProcessor``. Requests without ``tianci_spec`` are
    left alone."""

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        """A bad spec is refused at the request, with the one-line ``SpecError`` message (HTTP 400)."""
        try:
            data = request_spec(sampling_params)
            if data is not None:
                LyricSpec.from_dict(data)
                request_pull(sampling_params, warn=True)  # the old key's warning once a request, here
                request_memory_mix(sampling_params, 0.0)
        except SpecError as err:
            raise VLLMValidationError(str(err)) from None  # the message alone: no "(parameter=...)" suffix

    def __init__(self, vllm_config, device: torch.device, is_pin_memory: bool):
        model = vllm_config.model_config
        self.batch = ConstrainedBatch(SpecCompiler.for_model(model.model, model.tokenizer))

    def is_argmax_invariant(self) -> bool:
        return False  # it forbids tokens, greedy decoding included

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        self.batch.update(batch_update)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        return self.batch.apply(logits)


@dataclass
class LyricRequest:
    """One candidate's request: the prompt, its sampling params (the spec inside) and the spec it writes."""

    prompt: str
    params: SamplingParams
    spec: LyricSpec
    data: dict[str, Any]


class LyricRequests:
    """The client side: requests for a spec written as ``Decoder.generate_many`` writes it with hints, each
    candidate its own rhyme groups (``Decoder.row_rhymes``), its prompt built from its pinned spec and keyword
    plan; and the candidates read back, hints stripped and checked independently."""

    def __init__(self, compiler: SpecCompiler):
        self.compiler = compiler

    @classmethod
    def for_model(cls, model_dir: str | Path) -> LyricRequests:
        return cls(SpecCompiler.for_model(model_dir))

    def build(self, data: dict, n: int | None = None, seed: int | None = None, **sampling: Any) -> list[LyricRequest]:
        """``n`` requests (default: the spec's ``n``), each with ``n=1``; ``sampling``: more ``SamplingParams``
        fields (temperature, top_p, seed...)."""
        decoder = self.compiler.decoder
        spec = decoder.plan_keywords(LyricSpec.from_dict(data))
        seed = seed if seed is not None else spec.seed
        n = n or spec.n
        rows = decoder.row_rhymes(spec, seed, n) if self.compiler.hints else [spec] * n
        out = []
        for k, row in enumerate(rows):
            row_data = {**data, "rhymes": dict(row.rhymes), "keywords": list(row.keywords)}
            constraint = self.compiler.constraint(row)
            params = SamplingParams(max_tokens=token_budget(row, [constraint]), stop_token_ids=constraint.eos_ids,
                                    seed=None if seed is None else seed + k, skip_special_tokens=True,
                                    extra_args={SPEC_KEY: row_data}, **{"temperature": 0.9, "top_p": 0.95,
                                                                          **sampling})
            out.append(LyricRequest(build_prompt(row, self.compiler.tokenizer), params, row, row_data))
        return out

    def candidate(self, request: LyricRequest, token_ids: list[int]) -> Candidate:
        return candidate_from_tokens(self.compiler.constraint(request.spec), list(token_ids), request.spec)
