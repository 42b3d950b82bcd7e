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
from transformers import LogitsProcessorList

from lyrics.data.keywords import KEYWORD_PULL, KeywordTable, plan_size
from lyrics.data.rhymebook import rhyme_dictionary
from lyrics.decoding.checks import Checks, check_lyrics
from lyrics.decoding.constraints import LyricsConstraint, RowConstraintsProcessor, UnsatisfiableSpec
from lyrics.decoding.keyword_bias import KeywordBias
from lyrics.decoding.melody import MELODY_PULL, Melody
from lyrics.decoding.melody_bias import MelodyBias
from lyrics.decoding.prompt import build_prompt, spec_hints
from lyrics.decoding.spec import LyricSpec
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


_tables: dict[int, tuple[Any, TokenTable]] = {}
_compiled: OrderedDict[tuple, LyricsConstraint] = OrderedDict()


def token_table(tokenizer) -> TokenTable:
    """The tokenizer's table, built or loaded once per tokenizer object."""
    entry = _tables.get(id(tokenizer))
    if entry is None or entry[0] is not tokenizer:
        entry = _tables[id(tokenizer)] = (tokenizer, TokenTable.for_tokenizer(tokenizer))
    return entry[1]


def end_token_ids(tokenizer) -> list[int]:
    ids = {tokenizer.eos_token_id}
    for token in _END_TOKENS:
        index = tokenizer.convert_tokens_to_ids(token)
        if isinstance(index, int) and index != tokenizer.unk_token_id:
            ids.add(index)
    return sorted(i for i in ids if i is not None)


def compile_constraint(spec: LyricSpec, tokenizer, hints: bool = False) -> LyricsConstraint:
    """The spec compiled for this tokenizer; raises UnsatisfiableSpec before any model work. Cached, so
    masks computed for one call serve the next call with the same spec. With ``hints`` every label must
    be pinned (see :func:`pin_rhymes`) and each line's hint is forced before it."""
    table = token_table(tokenizer)
    eos = end_token_ids(tokenizer)
    key = _shape(spec, tokenizer, hints)
    if key in _compiled:
        _compiled.move_to_end(key)
        return _compiled[key]
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
    _compiled[key] = LyricsConstraint(spec, table, eos, hint_ids, kept)
    if len(_compiled) > 32:
        _compiled.popitem(last=False)
    return _compiled[key]


def _shape(spec: LyricSpec, tokenizer, hints: bool) -> tuple:
    """What a compiled constraint depends on: specs of one shape share it (and a batch)."""
    return (token_table(tokenizer).content_hash, spec.lang, spec.scheme, spec.lines,
            tuple(sorted(spec.rhymes.items())), tuple(end_token_ids(tokenizer)), hints, spec.keep)


def pin_rhymes(spec: LyricSpec, tokenizer, seed: int | None = None) -> LyricSpec:
    """``spec`` with every unpinned label given a group (see :func:`row_rhymes`)."""
    return row_rhymes(spec, tokenizer, seed, 1)[0]


PLAN_GROUP_WEIGHT = 3.0  # a group one of the plan's words ends in is this much likelier


def row_rhymes(spec: LyricSpec, tokenizer, seed: int | None, rows: int) -> list[LyricSpec]:
    """``rows`` copies of ``spec``, each with every unpinned label given its own group, drawn (seeded by the
    seed and the topic, so a batch's items differ) among the groups all the label's lines can end in,
    weighted by how often the corpus uses the group and up-weighted where a word of the keyword plan ends in
    it; the rows take the draw's groups in turn, so they differ while groups last. A hint names its line's
    group before the line is written, so hinted generation decides the group up front; pinned labels stay."""
    unpinned = [label for label in spec.labels if label not in spec.rhymes]
    if not unpinned:
        return [spec] * rows
    constraint = compile_constraint(spec, tokenizer)
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


def plan_keywords(spec: LyricSpec, tables: dict[str, KeywordTable] | None, tokenizer) -> LyricSpec:
    """``spec`` with its keyword plan filled from its topic (the user's keywords first), as the model's
    training briefs carried one; unchanged for a model trained without plans."""
    table = (tables or {}).get(spec.lang)
    if table is None:
        return spec
    token_chars = token_table(tokenizer)
    vocabulary = None if token_chars.writes_any_utf8 else set(token_chars.char_list)
    plan = table.plan(spec.topic, plan_size(len(spec.lines)), vocabulary, given=spec.keywords)
    return replace(spec, keywords=tuple(plan))


def generate(model, tokenizer, spec: LyricSpec | dict, n: int | None = None, *, seed: int | None = None,
             prompt: str | None = None, hints: bool | None = None, constrained: bool = True,
             **sampling: Any) -> list[Candidate]:
    """``n`` candidates for ``spec``; sampling keywords go to ``model.generate`` (``temperature``, ``top_k``,
    ``top_p``, ``do_sample=False`` for greedy, ``num_beams`` for beam search). ``hints``: write the hint line
    before every lyric line, for a generator trained on hinted lyrics (knowledge stage 3); None takes the
    model's own setting (``tianci.json`` beside Tianci-trained weights, see ``lyrics.models``).
    ``constrained=False`` drops the logits processor (the hints-only rows of ``bench/quality.py``): the
    model writes freely, and with hints each hint is put in the text before the model writes its line."""
    spec = spec if isinstance(spec, LyricSpec) else LyricSpec.from_dict(spec)
    return generate_many(model, tokenizer, [spec], n or spec.n, seed=seed if seed is not None else spec.seed,
                         prompts=[prompt] if prompt is not None else None, hints=hints, constrained=constrained,
                         **sampling)[0]


def generate_many(model, tokenizer, specs: list[LyricSpec], n: int, *, seed: int | None = None,
                  prompts: list[str] | None = None, hints: bool | None = None, constrained: bool = True,
                  max_rows: int = 64, keyword_bias: float = KEYWORD_PULL, melody: Melody | None = None,
                  melody_bias: float = MELODY_PULL,
                  **sampling: Any) -> list[list[Candidate]]:
    """``n`` candidates for each spec, as :func:`generate`. Specs of one shape (language, scheme, lines and
    rhymes, after pinning) share one compiled constraint and go through ``model.generate`` together, their
    prompts left-padded, at most ``max_rows`` rows (specs x n) a call. The seed seeds the whole call.
    ``keyword_bias``: the pull towards each spec's keyword plan (``lyrics.decoding.keyword_bias``; 0: none).
    ``melody``: the tune every spec is written to; in a language whose melody does not fix tones (Mandarin)
    ``melody_bias`` pulls syllables towards the tones its notes suit (``lyrics.decoding.melody_bias``; 0: none)."""
    if hints is None:
        hints = bool(getattr(model.config, "tianci_hints", False))
    specs = [plan_keywords(spec, getattr(model, "tianci_keywords", None), tokenizer) for spec in specs]
    options = {**DEFAULT_SAMPLING, **sampling}
    if not options.get("do_sample"):
        for key in ("temperature", "top_p", "top_k"):
            options.pop(key, None)
    if seed is not None:
        torch.manual_seed(seed)
    row_wise = (hints and constrained and melody is None and options.get("num_beams", 1) == 1
                and any(set(spec.labels) - set(spec.rhymes) for spec in specs))
    if row_wise:  # each candidate its own rhyme groups, so a call offers different rhymes
        return _generate_rows(model, tokenizer, specs, n, seed, prompts, max_rows, keyword_bias, options)
    if hints:
        specs = [pin_rhymes(spec, tokenizer, seed if seed is not None else spec.seed) for spec in specs]
    texts = prompts or [build_prompt(spec, tokenizer) for spec in specs]
    if not constrained:
        return [_generate_free(model, tokenizer, spec, text, n, hints, options)
                for spec, text in zip(specs, texts, strict=True)]
    results: list[list[Candidate]] = [[] for _ in specs]
    groups: dict[tuple, list[int]] = {}
    for i, spec in enumerate(specs):
        compile_constraint(spec, tokenizer, hints)  # an unsatisfiable spec fails before any model work
        groups.setdefault(_shape(spec, tokenizer, hints), []).append(i)
    per_call = max(1, max_rows // n)
    for members in groups.values():
        for start in range(0, len(members), per_call):
            chunk = members[start:start + per_call]
            constraint = compile_constraint(specs[chunk[0]], tokenizer, hints)
            inputs = tokenizer([texts[i] for i in chunk], return_tensors="pt", add_special_tokens=False,
                               padding=True, padding_side="left").to(model.device)
            eos = constraint.eos_ids
            spec = specs[chunk[0]]
            budget = _token_budget(spec, [constraint])
            _check_context(model, inputs["input_ids"].shape[1], budget)
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
            with torch.inference_mode():
                pull = KeywordBias([list(specs[i].keywords) for i in chunk], tokenizer, keyword_bias, rows_per_plan=n)
                processors, masks = [pull], constraint.processor()
                if melody is not None and melody_bias and not language(spec.lang).melody_levels:
                    processors.append(MelodyBias(constraint, melody, melody_bias, masks.tracker))
                out = model.generate(**inputs, logits_processor=LogitsProcessorList([*processors, masks]),
                                     max_new_tokens=budget, num_return_sequences=n, eos_token_id=eos,
                                     pad_token_id=pad, **options)
            rows = out[:, inputs["input_ids"].shape[1]:]
            for k, i in enumerate(chunk):
                results[i] = [_candidate(constraint, row.tolist(), specs[i]) for row in rows[k * n:(k + 1) * n]]
    return results


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


def _token_budget(spec: LyricSpec, constraints: list[LyricsConstraint]) -> int:
    """New tokens enough for the lyrics (a byte-level vocabulary may spend 4 tokens on a character, a character
    vocabulary one), line breaks, EOS and the longest hints."""
    per_char = 4 if constraints[0].table.writes_any_utf8 else 1
    budget = per_char * sum(line.syllables for line in spec.lines) + len(spec.lines) + 1
    return budget + max(sum(map(len, c.hints or [])) for c in constraints)


def _generate_rows(model, tokenizer, specs: list[LyricSpec], n: int, seed: int | None, prompts: list[str] | None,
                   max_rows: int, keyword_bias: float, options: dict) -> list[list[Candidate]]:
    """Hinted, constrained sampling with each candidate row its own rhyme groups (:func:`row_rhymes`), its own
    prompt and hints; rows of specs of one shape share a ``generate`` call, each under its own constraint."""
    rows: list[tuple[int, LyricSpec, str]] = []  # (spec index, the row's pinned spec, its prompt)
    for i, spec in enumerate(specs):
        for row_spec in row_rhymes(spec, tokenizer, seed if seed is not None else spec.seed, n):
            compile_constraint(row_spec, tokenizer, True)  # an unsatisfiable spec fails before any model work
            rows.append((i, row_spec, prompts[i] if prompts else build_prompt(row_spec, tokenizer)))
    groups: dict[tuple, list[int]] = {}
    for r, (i, _, _) in enumerate(rows):
        groups.setdefault(_shape(replace(specs[i], rhymes={}), tokenizer, True), []).append(r)
    results: list[list[Candidate]] = [[] for _ in specs]
    for members in groups.values():
        for start in range(0, len(members), max_rows):
            chunk = [rows[r] for r in members[start:start + max_rows]]
            constraints = [compile_constraint(row_spec, tokenizer, True) for _, row_spec, _ in chunk]
            inputs = tokenizer([prompt for _, _, prompt in chunk], return_tensors="pt", add_special_tokens=False,
                               padding=True, padding_side="left").to(model.device)
            eos = constraints[0].eos_ids
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
            budget = _token_budget(chunk[0][1], constraints)
            _check_context(model, inputs["input_ids"].shape[1], budget)
            with torch.inference_mode():
                pull = KeywordBias([list(row_spec.keywords) for _, row_spec, _ in chunk], tokenizer, keyword_bias)
                out = model.generate(**inputs, logits_processor=LogitsProcessorList(
                                         [pull, RowConstraintsProcessor(constraints)]),
                                     max_new_tokens=budget, eos_token_id=eos,
                                     pad_token_id=pad, **options)
            for (i, row_spec, _), constraint, row in zip(chunk, constraints, out[:, inputs["input_ids"].shape[1]:],
                                                         strict=True):
                results[i].append(_candidate(constraint, row.tolist(), row_spec))
    return results


def _generate_free(model, tokenizer, spec: LyricSpec, prompt: str, n: int, hints: bool,
                   options: dict) -> list[Candidate]:
    """Unconstrained sampling after ``prompt``. With hints, line by line: the line's hint goes into the text,
    the model writes until its newline; without, one pass until the end token, hint-like lines dropped."""
    eos = end_token_ids(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    written: list[list[str]] = [[] for _ in range(n)]
    counts = [0] * n
    steps = (list(zip(spec.lines, spec_hints(spec), strict=True))
             if hints else [(None, "")])
    texts = [prompt] * n
    newline = tokenizer.encode("\n", add_special_tokens=False)
    stops = eos + (newline if hints and len(newline) == 1 else [])
    for line, hint_text in steps:
        texts = [t + hint_text + ("\n" if hint_text else "") for t in texts]
        inputs = tokenizer(texts, return_tensors="pt", add_special_tokens=False, padding=True,
                           padding_side="left").to(model.device)
        budget = 4 * line.syllables + 2 if line else 4 * sum(x.syllables for x in spec.lines) + 64 * len(spec.lines)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=budget, eos_token_id=stops, pad_token_id=pad, **options)
        for row, ids in enumerate(out[:, inputs["input_ids"].shape[1]:].tolist()):
            end = next((i for i, t in enumerate(ids) if t in stops), len(ids))
            counts[row] += min(end + 1, len(ids))
            text = tokenizer.decode(ids[:end], skip_special_tokens=True)
            if hints:
                written[row].append(text.strip())
                texts[row] += text.strip() + "\n"
            else:
                written[row] = [x for x in text.split("\n") if x.strip() and not x.startswith("〔")]
    return [Candidate("\n".join(lines), check_lyrics("\n".join(lines), spec), count)
            for lines, count in zip(written, counts, strict=True)]


def _candidate(constraint: LyricsConstraint, row: list[int], spec: LyricSpec) -> Candidate:
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
