"""``lyrics.generate``: constrained candidates from any Hugging Face causal LM, each with independent checks.

    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(path)          # a local directory or a hub id
    tokenizer = AutoTokenizer.from_pretrained(path)
    for c in generate(model, tokenizer, {"lang": "cmn", "topic": "月光", "structure": "7A 7A 7B 7A"}, n=4):
        print(c.lyrics, c.checks.ok)
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from lyrics.data.keywords import KEYWORD_PULL, KeywordTable, plan_size
from lyrics.data.rhymebook import rhyme_dictionary
from lyrics.decoding.checks import Checks, check_lyrics
from lyrics.decoding.constraints import LyricsConstraint, RowConstraintsProcessor, UnsatisfiableSpec, char_rules
from lyrics.decoding.keyword_pull import KeywordPull
from lyrics.decoding.melody import MELODY_PULL, Melody
from lyrics.decoding.melody_pull import MelodyPull
from lyrics.decoding.memory_index import PhraseMemory, TopicMemory, corpus_memory
from lyrics.decoding.phrase_memory import PhraseMix
from lyrics.decoding.prompt import HINT_OPEN, build_prompt, spec_hints
from lyrics.decoding.spec import LineSpec, LyricSpec
from lyrics.decoding.tokentable import NEWLINE, TEXT, TokenTable
from phonetics import language

DEFAULT_SAMPLING = {"do_sample": True, "temperature": 0.9, "top_p": 0.95}
_END_TOKENS = ("<|im_end|>", "<|endoftext|>")


@dataclass
class Candidate:
    lyrics: str
    checks: Checks
    tokens: int  # generated tokens, EOS included

    def to_dict(self) -> dict[str, Any]:
        return {"lyrics": self.lyrics, "checks": self.checks.to_dict(), "tokens": self.tokens}


class SeededSampling(LogitsProcessor):
    """Draws each row's next token from the softmax of its (already warped) scores with a ``torch.Generator``
    and leaves only that token possible, so greedy search takes it: sampling seeded per call, without touching
    the process's global random state (``model.generate`` samples from the global generator). Put it last.

    >>> g = torch.Generator().manual_seed(0)
    >>> scores = SeededSampling(g)(torch.zeros(1, 1), torch.tensor([[0.0, 5.0, float("-inf")]]))
    >>> scores.argmax(-1).item(), scores.isfinite().sum().item()
    (1, 1)
    """

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        probs = torch.softmax(scores.float(), dim=-1)
        picked = torch.multinomial(probs.cpu(), 1, generator=self.generator).to(scores.device)
        return torch.full_like(scores, float("-inf")).scatter_(1, picked, scores.gather(1, picked))


def sampling_processors(options: dict, seed: int | None, model) -> tuple[list[LogitsProcessor], dict]:
    """``model.generate`` options with sampling moved into processors (temperature, top-k, top-p, then the
    seeded draw, as Hugging Face orders its warpers) when ``do_sample``; beam search and greedy as given."""
    options = dict(options)
    if not options.pop("do_sample", False) or options.get("num_beams", 1) > 1:
        for key in ("temperature", "top_p", "top_k"):
            options.pop(key, None)
        return [], options
    temperature = options.pop("temperature", None)
    top_k = options.pop("top_k", getattr(model.generation_config, "top_k", None))
    top_p = options.pop("top_p", None)
    warpers: list[LogitsProcessor] = []
    if temperature is not None and temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(temperature))
    if top_k:
        warpers.append(TopKLogitsWarper(top_k))
    if top_p is not None and top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p))
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return [*warpers, SeededSampling(generator)], {**options, "do_sample": False}


PLAN_GROUP_WEIGHT = 3.0  # a group one of the plan's words ends in is this much likelier
MAX_COMPILED = 32  # compiled constraints a Decoder keeps (most recently used)
MAX_ROWS = 64  # candidate rows (specs x n) one ``model.generate`` call decodes at most


class Decoder:
    """The Hugging Face decoding backend: a causal LM and its tokenizer with everything derived from them (the
    token table, end tokens, compiled constraints), so repeated calls reuse masks. ``model`` may be None to
    compile and plan only. One object per model; nothing is kept process-wide."""

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer
        self.table = TokenTable.for_tokenizer(tokenizer)
        self.eos_ids = end_token_ids(tokenizer)
        self.keyword_tables: dict[str, KeywordTable] | None = getattr(model, "tianci_keywords", None)
        self.hints = bool(getattr(getattr(model, "config", None), "tianci_hints", False))
        self.memory_mix = float(getattr(getattr(model, "config", None), "tianci_memory_mix", 0.0))
        self._compiled: OrderedDict[tuple, LyricsConstraint] = OrderedDict()
        self._memories: dict[tuple, PhraseMemory | None] = {}  # per language and register, built on first use

    def compile(self, spec: LyricSpec, hints: bool = False) -> LyricsConstraint:
        """The spec compiled for this tokenizer; raises UnsatisfiableSpec before any model work. Cached, so
        masks computed for one call serve the next call with the same spec. With ``hints`` every label must
        be pinned (see :meth:`pin_rhymes`) and each line's hint is forced before it."""
        key = self._shape(spec, hints)
        if key in self._compiled:
            self._compiled.move_to_end(key)
            return self._compiled[key]
        tokenizer = self.tokenizer
        hint_ids = None
        if hints:
            if set(spec.labels) - set(spec.rhymes):
                raise ValueError("hints need every rhyme label pinned: call pin_rhymes(spec) first")
            texts = [text + "\n" for text in spec_hints(spec)]
            hint_ids = [tokenizer.encode(text, add_special_tokens=False) for text in texts]
            for text, ids in zip(texts, hint_ids, strict=True):
                if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in ids:
                    raise UnsatisfiableSpec(f"the tokenizer cannot write the hint {text.strip()!r}: "
                                            "part of it has no token")
        kept = {i: tokenizer.encode(text, add_special_tokens=False) for i, text in spec.keep}
        self._compiled[key] = LyricsConstraint(spec, self.table, self.eos_ids, hint_ids, kept)
        if len(self._compiled) > MAX_COMPILED:
            self._compiled.popitem(last=False)
        return self._compiled[key]

    def _shape(self, spec: LyricSpec, hints: bool) -> tuple:
        """What a compiled constraint depends on: specs of one shape share it (and a batch)."""
        return (spec.lang, spec.scheme, spec.lines, tuple(sorted(spec.rhymes.items())), hints, spec.keep)

    def pin_rhymes(self, spec: LyricSpec, seed: int | None = None) -> LyricSpec:
        """``spec`` with every unpinned label given a group (see :meth:`row_rhymes`)."""
        return self.row_rhymes(spec, seed, 1)[0]

    def row_rhymes(self, spec: LyricSpec, seed: int | None, rows: int) -> list[LyricSpec]:
        """``rows`` copies of ``spec``, each with every unpinned label given its own group, drawn (seeded by the
        seed and the topic, so a batch's items differ) among the groups all the label's lines can end in,
        weighted by how often the corpus uses the group and up-weighted where a word of the keyword plan ends in
        it; the rows take the draw's groups in turn, so they differ while groups last. A hint names its line's
        group before the line is written, so hinted generation decides the group up front; pinned labels stay."""
        unpinned = [label for label in spec.labels if label not in spec.rhymes]
        if not unpinned:
            return [spec] * rows
        constraint = self.compile(spec)
        usage = rhyme_dictionary(spec.lang).groups(spec.scheme)
        planned = {constraint.rules.group_of(word[-1]) for word in spec.keywords}
        rng = random.Random(f"{seed}:{spec.topic}")
        pinned = [dict(spec.rhymes) for _ in range(rows)]
        for label in unpinned:
            groups = sorted(constraint.viable_groups[label])
            # A weighted draw without replacement (Efraimidis-Spirakis keys), then the rows take it in turn.
            keys = {g: -rng.random() ** (1.0 / ((sum(usage.get(g, {}).values()) + 1)
                                                 * (PLAN_GROUP_WEIGHT if g in planned else 1.0))) for g in groups}
            order = sorted(groups, key=keys.get)
            for row, rhymes in enumerate(pinned):
                rhymes[label] = order[row % len(order)]
        return [replace(spec, rhymes=rhymes) for rhymes in pinned]

    def memory_near(self, spec: LyricSpec, mix: float) -> TopicMemory | None:
        """The corpus's phrase memory for ``spec``'s language (and register) with the songs nearest its topic and
        plan (built on first use, kept by this decoder), ending each line in its pinned rhyme group; None when
        ``mix`` is 0 or the corpus has no songs in the language."""
        if not mix:
            return None
        key = (spec.lang, spec.register)
        if key not in self._memories:
            self._memories[key] = corpus_memory(spec.lang, spec.register)
        memory = self._memories[key]
        if memory is None:
            return None
        lines = [(line.syllables, spec.rhymes.get(line.label) if line.label else None) for line in spec.lines]
        rules = char_rules(spec.lang, spec.scheme, self.table)
        return memory.near(spec.topic + "".join(spec.keywords)).for_lines(lines, f"{spec.lang}:{spec.scheme}",
                                                                           rules.group_of)

    def plan_keywords(self, spec: LyricSpec) -> LyricSpec:
        """``spec`` with its keyword plan filled from its topic (the user's keywords first), as the model's
        training briefs carried one; unchanged for a model trained without plans."""
        table = (self.keyword_tables or {}).get(spec.lang)
        if table is None:
            return spec
        vocabulary = None if self.table.writes_any_utf8 else set(self.table.char_list)
        plan = table.plan(spec.topic, plan_size(len(spec.lines)), vocabulary, given=spec.keywords)
        return replace(spec, keywords=tuple(plan))

    def generate(self, spec: LyricSpec | dict, n: int | None = None, *, seed: int | None = None,
                 prompt: str | None = None, hints: bool | None = None, constrained: bool = True,
                 **sampling: Any) -> list[Candidate]:
        """``n`` candidates for one spec, its keyword plan filled first (:meth:`plan_keywords`); the rest as
        :meth:`generate_many`."""
        spec = self.plan_keywords(spec if isinstance(spec, LyricSpec) else LyricSpec.from_dict(spec))
        return self.generate_many([spec], n or spec.n, seed=seed if seed is not None else spec.seed,
                                  prompts=[prompt] if prompt is not None else None, hints=hints,
                                  constrained=constrained, **sampling)[0]

    def generate_many(self, specs: list[LyricSpec], n: int, *, seed: int | None = None,
                      prompts: list[str] | None = None, hints: bool | None = None, constrained: bool = True,
                      max_rows: int = MAX_ROWS, keyword_pull: float = KEYWORD_PULL, melody: Melody | None = None,
                      melody_pull: float = MELODY_PULL, memory_mix: float | None = None,
                      **sampling: Any) -> list[list[Candidate]]:
        """``n`` candidates for each (planned) spec. Sampling keywords go to ``model.generate``
        (``temperature``, ``top_k``, ``top_p``, ``do_sample=False`` for greedy, ``num_beams`` for beam search);
        the seed seeds the call's own ``torch.Generator``. ``hints``: write the hint line before every lyric
        line, for a generator trained on hinted lyrics (knowledge step 3); None takes the model's own setting
        (``tianci.json`` beside Tianci-trained weights). ``constrained=False`` drops the logits processor: the
        model writes freely, and with hints each hint is put in the text before the model writes its line.
        Specs of one shape (language, scheme, lines and rhymes, after pinning) share one compiled constraint
        and go through ``model.generate`` together, their prompts left-padded, at most ``max_rows`` rows
        (specs x n) a call. ``keyword_pull``: the pull towards each spec's keyword plan
        (``lyrics.decoding.keyword_pull``; 0: none). ``melody``: the tune every spec is written to; in a
        language whose melody does not fix tones (Mandarin) ``melody_pull`` pulls syllables towards the tones
        its notes suit (``lyrics.decoding.melody_pull``; 0: none). ``memory_mix``: the share of the corpus's
        phrase memory in each constrained step (``lyrics.decoding.phrase_memory``; 0: none; None: the model's own
        setting, ``tianci.json``)."""
        hints = self.hints if hints is None else hints
        mix = self.memory_mix if memory_mix is None else memory_mix
        sampler, options = sampling_processors({**DEFAULT_SAMPLING, **sampling}, seed, self.model)
        row_wise = (hints and constrained and melody is None and options.get("num_beams", 1) == 1
                    and any(set(spec.labels) - set(spec.rhymes) for spec in specs))
        if row_wise:  # each candidate its own rhyme groups, so a call offers different rhymes
            return self._generate_rows(specs, n, seed, prompts, max_rows, keyword_pull, mix, sampler, options)
        if hints:
            specs = [self.pin_rhymes(spec, seed if seed is not None else spec.seed) for spec in specs]
        texts = prompts or [build_prompt(spec, self.tokenizer) for spec in specs]
        if not constrained:
            return [self._generate_free(spec, text, n, hints, sampler, options)
                    for spec, text in zip(specs, texts, strict=True)]
        results: list[list[Candidate]] = [[] for _ in specs]
        groups: dict[tuple, list[int]] = {}
        for i, spec in enumerate(specs):
            self.compile(spec, hints)  # an unsatisfiable spec fails before any model work
            groups.setdefault(self._shape(spec, hints), []).append(i)
        per_call = max(1, max_rows // n)
        for members in groups.values():
            for start in range(0, len(members), per_call):
                chunk = members[start:start + per_call]
                constraint = self.compile(specs[chunk[0]], hints)
                inputs = self._inputs([texts[i] for i in chunk])
                spec = specs[chunk[0]]
                budget = token_budget(spec, [constraint])
                _check_context(self.model, inputs["input_ids"].shape[1], budget)
                pull = KeywordPull([list(specs[i].keywords) for i in chunk], self.tokenizer, keyword_pull,
                                   rows_per_plan=n, table=self.table)
                memory = PhraseMix([self.memory_near(specs[i], mix) for i in chunk], self.tokenizer, mix,
                                   rows_per_plan=n, table=self.table)
                processors, masks = [memory, pull], constraint.processor()
                if melody is not None and melody_pull and not language(spec.lang).melody_levels:
                    processors.append(MelodyPull(constraint, melody, melody_pull, masks.tracker))
                rows = self._decode(inputs, [*processors, masks, *sampler], budget, options, n)
                for k, i in enumerate(chunk):
                    results[i] = [candidate_from_tokens(constraint, row, specs[i]) for row in rows[k * n:(k + 1) * n]]
        return results

    def _inputs(self, texts: list[str]):
        return self.tokenizer(texts, return_tensors="pt", add_special_tokens=False, padding=True,
                              padding_side="left").to(self.model.device)

    def _decode(self, inputs, processors: list[LogitsProcessor], budget: int, options: dict,
                per_prompt: int = 1, stops: list[int] | None = None) -> list[list[int]]:
        """The new token ids of each returned row (``per_prompt`` rows a prompt)."""
        eos = stops or self.eos_ids
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos[0]
        if options.get("num_beams", 1) > 1:  # beam search returns the best ``per_prompt`` beams
            options = {**options, "num_return_sequences": per_prompt}
        elif per_prompt > 1:  # sampled (greedy over the seeded draw): one row per candidate
            inputs = {key: value.repeat_interleave(per_prompt, dim=0) for key, value in inputs.items()}
        with torch.inference_mode():
            out = self.model.generate(**inputs, logits_processor=LogitsProcessorList(processors),
                                      max_new_tokens=budget, eos_token_id=eos, pad_token_id=pad, **options)
        return out[:, inputs["input_ids"].shape[1]:].tolist()

    def _generate_rows(self, specs: list[LyricSpec], n: int, seed: int | None, prompts: list[str] | None,
                       max_rows: int, keyword_pull: float, memory_mix: float, sampler: list[LogitsProcessor],
                       options: dict) -> list[list[Candidate]]:
        """Hinted, constrained sampling with each candidate row its own rhyme groups (:meth:`row_rhymes`), its
        own prompt and hints; rows of specs of one shape share a ``generate`` call, each under its own
        constraint."""
        rows: list[tuple[int, LyricSpec, str]] = []  # (spec index, the row's pinned spec, its prompt)
        for i, spec in enumerate(specs):
            for row_spec in self.row_rhymes(spec, seed if seed is not None else spec.seed, n):
                self.compile(row_spec, True)  # an unsatisfiable spec fails before any model work
                rows.append((i, row_spec, prompts[i] if prompts else build_prompt(row_spec, self.tokenizer)))
        groups: dict[tuple, list[int]] = {}
        for r, (i, _, _) in enumerate(rows):
            groups.setdefault(self._shape(replace(specs[i], rhymes={}), True), []).append(r)
        results: list[list[Candidate]] = [[] for _ in specs]
        for members in groups.values():
            for start in range(0, len(members), max_rows):
                chunk = [rows[r] for r in members[start:start + max_rows]]
                constraints = [self.compile(row_spec, True) for _, row_spec, _ in chunk]
                inputs = self._inputs([prompt for _, _, prompt in chunk])
                budget = token_budget(chunk[0][1], constraints)
                _check_context(self.model, inputs["input_ids"].shape[1], budget)
                pull = KeywordPull([list(row_spec.keywords) for _, row_spec, _ in chunk], self.tokenizer,
                                   keyword_pull, table=self.table)
                memory = PhraseMix([self.memory_near(row_spec, memory_mix) for _, row_spec, _ in chunk],
                                   self.tokenizer, memory_mix, table=self.table)
                out = self._decode(inputs, [memory, pull, RowConstraintsProcessor(constraints), *sampler], budget,
                                   options)
                for (i, row_spec, _), constraint, row in zip(chunk, constraints, out, strict=True):
                    results[i].append(candidate_from_tokens(constraint, row, row_spec))
        return results

    def _generate_free(self, spec: LyricSpec, prompt: str, n: int, hints: bool, sampler: list[LogitsProcessor],
                       options: dict) -> list[Candidate]:
        """Unconstrained sampling after ``prompt``. With hints, line by line: the line's hint goes into the
        text, the model writes until its newline; without, one pass until the end token, hint-like lines
        dropped."""
        tokenizer = self.tokenizer
        written: list[list[str]] = [[] for _ in range(n)]
        counts = [0] * n
        steps = list(zip(spec.lines, spec_hints(spec), strict=True)) if hints else [(None, "")]
        texts = [prompt] * n
        stops = free_stops(self.eos_ids, tokenizer, hints)
        for line, hint_text in steps:
            texts = [t + hint_text + ("\n" if hint_text else "") for t in texts]
            out = self._decode(self._inputs(texts), list(sampler), free_budget(spec, line), options, stops=stops)
            for row, ids in enumerate(out):
                text, used = free_output(ids, stops, tokenizer)
                counts[row] += used
                if hints:
                    written[row].append(text.strip())
                    texts[row] += text.strip() + "\n"
                else:
                    written[row] = free_lines(text)
        return [Candidate("\n".join(lines), check_lyrics("\n".join(lines), spec), count)
                for lines, count in zip(written, counts, strict=True)]


def end_token_ids(tokenizer) -> list[int]:
    ids = {tokenizer.eos_token_id}
    for token in _END_TOKENS:
        index = tokenizer.convert_tokens_to_ids(token)
        if isinstance(index, int) and index != tokenizer.unk_token_id:
            ids.add(index)
    return sorted(i for i in ids if i is not None)


def generate(model, tokenizer, spec: LyricSpec | dict, n: int | None = None, **options: Any) -> list[Candidate]:
    """``n`` candidates for ``spec`` in one call (see :meth:`Decoder.generate`); a program that writes more than
    once keeps a :class:`Decoder` (or a ``pipeline.Writer``), which keeps its compiled masks."""
    return Decoder(model, tokenizer).generate(spec, n, **options)


def _check_context(model, prompt_tokens: int, budget: int) -> None:
    """A spec whose prompt (``prompt_tokens``, the padded batch's width) and lyrics would run past the model's
    context is refused before decoding, in one line: past it a small model writes noise and hint text leaks into
    the lyrics."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if not limit:
        return
    need = prompt_tokens + budget
    if need > limit:
        raise UnsatisfiableSpec(f"the spec needs about {need} tokens with its prompt and hints; this model reads at "
                                f"most {limit}: ask for fewer or shorter lines, or use a model with a longer context")


def free_budget(spec: LyricSpec, line: LineSpec | None) -> int:
    """New tokens for unconstrained sampling: one ``line`` after its hint, or (None) the whole stanza in one pass."""
    return 4 * line.syllables + 2 if line else 4 * sum(x.syllables for x in spec.lines) + 64 * len(spec.lines)


def free_stops(eos_ids: list[int], tokenizer, hints: bool) -> list[int]:
    """Where unconstrained sampling stops: the end tokens, and with hints the newline (a line at a time)."""
    newline = tokenizer.encode("\n", add_special_tokens=False)
    return eos_ids + (newline if hints and len(newline) == 1 else [])


def free_output(ids: list[int], stops: list[int], tokenizer) -> tuple[str, int]:
    """The text a row wrote before its first stop token, and the tokens it used (the stop included)."""
    end = next((i for i, t in enumerate(ids) if t in stops), len(ids))
    return tokenizer.decode(ids[:end], skip_special_tokens=True), min(end + 1, len(ids))


def free_lines(text: str) -> list[str]:
    """The lyric lines of a one-pass unconstrained text: hint-like lines (〔...) and blank ones dropped."""
    return [x for x in text.split("\n") if x.strip() and not x.startswith(HINT_OPEN)]


def token_budget(spec: LyricSpec, constraints: list[LyricsConstraint]) -> int:
    """New tokens enough for the lyrics (a byte-level vocabulary may spend 4 tokens on a character, a character
    vocabulary one), line breaks, EOS and the longest hints."""
    per_char = 4 if constraints[0].table.writes_any_utf8 else 1
    budget = per_char * sum(line.syllables for line in spec.lines) + len(spec.lines) + 1
    return budget + max(sum(map(len, c.hints or [])) for c in constraints)


def candidate_from_tokens(constraint: LyricsConstraint, row: list[int], spec: LyricSpec) -> Candidate:
    """The candidate a row of new token ids writes, checked independently of the constraint."""
    eos = set(constraint.eos_ids)
    end = next((i + 1 for i, t in enumerate(row) if t in eos), len(row))
    tokens = row[:end]
    table = constraint.table
    data = b"".join(table.data[t] for t in constraint.lyric_tokens(tokens) if int(table.kinds[t]) in (TEXT, NEWLINE))
    lyrics = data.decode("utf-8", errors="replace")
    checks = check_lyrics(lyrics, spec)
    state = constraint.replay(tokens)
    checks.relaxed = [{"line": line + 1, "dropped": what} for line, what in state.relaxed]
    return Candidate(lyrics, checks, len(tokens))
