"""Constrained decoding on a tiny random Qwen3, with the real Qwen3 tokenizer and a character tokenizer.

A random model writes random tokens, so everything it gets right is the processors' doing; every
candidate is then judged by the independent check (phonetics.analyze), never by the constraint code.
"""

import pytest
import torch
from transformers import LogitsProcessorList

from lyrics import generate
from lyrics.decoding.constraints import LyricsConstraint, RowState, UnsatisfiableSpec
from lyrics.decoding.prompt import build_prompt
from lyrics.decoding.spec import LyricSpec
from lyrics.decoding.tokentable import TEXT
from lyrics.generation import Decoder, candidate_from_tokens, token_budget
from lyrics.training.chartok import build_char_tokenizer

SPECS = [
    {"lang": "cmn", "scheme": "13zhe", "structure": "7A 7A 7B 7A", "rhymes": {"A": "光"}},
    {"lang": "cmn", "scheme": "14yun", "structure": "5A 5A 5B 5A"},
    {"lang": "cmn", "scheme": "13zhe", "structure": "[verse] 4A 4B 4A 4B [chorus] 6C 6C", "rhymes": {"C": "江阳"}},
    {"lang": "cmn", "scheme": "14yun", "structure": "5 5 7A 7A",
     "tones": ["平平仄仄平", "仄仄仄平平", "仄仄平平仄仄平", "平平仄仄仄平平"]},
    {"lang": "cmn", "scheme": "13zhe", "structure": "3A 3A 3A", "rhymes": {"A": "ang"}, "tones": ["**平"] * 3},
    {"lang": "cmn", "scheme": "13zhe", "structure": "1A 1A"},
    {"lang": "cmn", "scheme": "14yun", "structure": "8A 8A", "rhymes": {"A": "支"},
     "tones": ["仄*仄*仄*仄仄", "*" * 8]},
    {"lang": "cmn", "scheme": "13zhe", "structure": "6"},
    {"lang": "cmn", "scheme": "13zhe", "structure": "2A 2B 2A 2B 2A 2B"},
    {"lang": "cmn", "scheme": "14yun", "structure": "4A 4A", "rhymes": {"A": "心"}, "tones": ["平仄平平", "仄平仄平"]},
    {"lang": "yue", "scheme": "strict", "structure": "7A 7A 7B 7A", "rhymes": {"A": "ong"}},
    {"lang": "yue", "scheme": "loose", "structure": "5A 5A 5B 5A"},
    {"lang": "yue", "scheme": "strict", "structure": "[verse] 4A 4A [chorus] 6B 6B",
     "tones": ["3403", "0243", "*4*3*2", "******"]},
    {"lang": "yue", "scheme": "loose", "structure": "5A 5A", "rhymes": {"A": "心"}, "tones": ["*****", "3*4*3"]},
    {"lang": "yue", "scheme": "strict", "structure": "3 4 5", "tones": ["030", "2424", "34303"]},
    {"lang": "yue", "scheme": "loose", "structure": "6A 6A 6A", "rhymes": {"A": "ung"}},
    {"lang": "yue", "scheme": "strict", "structure": "1A 1A 1A"},
    {"lang": "yue", "scheme": "strict", "structure": "8A 8B 8A 8B"},
    {"lang": "yue", "scheme": "loose", "structure": "4A 4A 4A 4A", "tones": ["3333", "0000", "2222", "4444"]},
    {"lang": "yue", "scheme": "strict", "structure": "5A 5A", "rhymes": {"A": "海"}},
]
DECODING = [  # seed index → how to decode
    {"do_sample": False},
    {"do_sample": True, "temperature": 1.0},
    {"do_sample": True, "temperature": 0.7, "top_k": 20},
    {"do_sample": True, "top_p": 0.8},
    {"do_sample": False, "num_beams": 3},
]


def _n(decoding: dict) -> int:
    return 1 if decoding == {"do_sample": False} else 2  # greedy returns one sequence


@pytest.mark.parametrize("vocab", ["qwen3", "char"])
@pytest.mark.parametrize("spec_index", range(len(SPECS)))
def test_every_candidate_passes_the_independent_check(vocab, spec_index, request):
    """20 specs × 5 seeds × 2 tokenizers = 200 (spec, seed) combinations."""
    tokenizer = request.getfixturevalue(f"{'qwen' if vocab == 'qwen3' else 'char'}_tokenizer")
    model = request.getfixturevalue(f"{'qwen' if vocab == 'qwen3' else 'char'}_model")
    spec = LyricSpec.from_dict({"topic": "月光", **SPECS[spec_index]})
    for seed, decoding in enumerate(DECODING):
        for candidate in generate(model, tokenizer, spec, n=_n(decoding), seed=seed, **decoding):
            checks = candidate.checks
            assert checks.ok, (vocab, spec_index, seed, candidate.lyrics, checks.to_dict())
            assert checks.relaxed == []
            assert len(candidate.lyrics.split("\n")) == len(spec.lines)


def test_a_rhyme_of_byte_split_characters_only(qwen_tokenizer, qwen_model):
    """Cantonese final -eu (strict) has two characters, 𠵇 and 𠺫, neither a token of its own in Qwen3:
    each line must end in one of them, written byte by byte and decoded whole."""
    table = Decoder(None, qwen_tokenizer).table
    assert not {"𠵇", "𠺫"} & set(table.char_list)
    spec = LyricSpec.from_dict({"lang": "yue", "topic": "笑", "structure": "3A 2A", "rhymes": {"A": "eu"}})
    for seed, decoding in enumerate(DECODING):
        for candidate in generate(qwen_model, qwen_tokenizer, spec, n=_n(decoding), seed=seed, **decoding):
            assert candidate.checks.ok, candidate.checks.to_dict()
            assert [line[-1] for line in candidate.lyrics.split("\n")] in (
                [a, b] for a in "𠵇𠺫" for b in "𠵇𠺫")
            assert "\ufffd" not in candidate.lyrics


def _mask_of(constraint: LyricsConstraint, state: RowState) -> torch.Tensor:
    return constraint.allowed(state)[1]


def test_multi_character_tokens_are_judged_by_the_character_at_the_line_end(qwen_tokenizer):
    constraint = Decoder(None, qwen_tokenizer).compile(LyricSpec.from_dict(
        {"lang": "cmn", "topic": "光", "structure": "3A", "rhymes": {"A": "江阳"}}))
    (sunlight,) = qwen_tokenizer.encode("阳光")  # 光: 江阳
    (bright,) = qwen_tokenizer.encode("光明")  # 明: 中东
    (we,) = qwen_tokenizer.encode("我们")  # 们: 人辰
    at_start, at_second = _mask_of(constraint, RowState()), _mask_of(constraint, RowState(pos=1))
    at_last = _mask_of(constraint, RowState(pos=2))
    assert at_start[sunlight] and at_start[bright] and at_start[we]  # both characters land on free syllables
    assert at_second[sunlight] and not at_second[bright] and not at_second[we]  # the 2nd lands on the rhyme
    assert not at_last[sunlight] and not at_last[we]  # two characters, one syllable left: would cross the end


def test_line_breaks_and_eos_only_when_lines_are_full(qwen_tokenizer):
    constraint = Decoder(None, qwen_tokenizer).compile(LyricSpec.from_dict(
        {"lang": "cmn", "topic": "光", "structure": "2 2"}))
    newline = qwen_tokenizer.convert_tokens_to_ids("Ċ")
    eos = qwen_tokenizer.eos_token_id
    comma = qwen_tokenizer.encode("，")[0]
    mid, full, last = (_mask_of(constraint, s) for s in (RowState(pos=1), RowState(pos=2), RowState(line=1, pos=2)))
    assert not mid[newline] and not mid[eos] and not mid[comma]
    assert full.nonzero().flatten().tolist() == [newline]
    assert set(last.nonzero().flatten().tolist()) == set(constraint.eos_ids)


def test_the_prompt_is_not_constrained(qwen_tokenizer):
    constraint = Decoder(None, qwen_tokenizer).compile(LyricSpec.from_dict(
        {"lang": "cmn", "topic": "光", "structure": "2A 2A"}))
    processor = constraint.processor()
    prompt = torch.tensor([qwen_tokenizer.encode("Hello, 世界! 😀 \n\n<tag>")])
    scores = processor(prompt, torch.zeros(1, len(qwen_tokenizer)))
    assert torch.equal(scores[0] > float("-inf"), _mask_of(constraint, RowState()))


def test_unsatisfiable_specs_are_refused_before_generation():
    tokenizer = build_char_tokenizer("天年见风")  # tian1 nian2 jian4 feng1
    with pytest.raises(UnsatisfiableSpec, match=r"line 1 \(2A\): no character in the vocabulary ends the line "
                                                r"with rhyme 江阳"):
        Decoder(None, tokenizer).compile(LyricSpec.from_dict(
            {"lang": "cmn", "topic": "x", "structure": "2A 2A", "rhymes": {"A": "光"}}))
    with pytest.raises(UnsatisfiableSpec, match=r"line 2 \(3\): no character in the vocabulary has tone 4 at "
                                                r"syllable 1"):
        Decoder(None, tokenizer).compile(LyricSpec.from_dict(
            {"lang": "yue", "topic": "x", "structure": "2 3", "tones": ["**", "4**"]}))


def test_relaxation_drops_tone_first_then_rhyme_and_keeps_the_structure():
    tokenizer = build_char_tokenizer("天年见风")  # plus the hint symbols 平 (ping2, 中东) and 仄 (ze4, 梭波)
    spec = LyricSpec.from_dict({"lang": "cmn", "topic": "x", "structure": "2A 2A", "tones": ["**", "*仄"]})
    constraint = Decoder(None, tokenizer).compile(spec)
    ids = {c: tokenizer.convert_tokens_to_ids(c) for c in "天年见风平仄"}
    # Line 2 must end on a 仄 character, so label A can only take 言前 (见) or 梭波 (仄), and 梭波 has no second
    # character for line 1 (no identical rhyme): only 言前 is left. The first line may not end in 风 or 平
    # (中东); a row forced onto 中东 anyway has no 仄 character left for line 2.
    assert constraint.viable_groups["A"] == {"言前"}
    assert not _mask_of(constraint, RowState(pos=1))[ids["风"]]
    stuck = RowState(line=1, pos=1, chosen=(("A", "中东"),))
    state, mask = constraint.allowed(stuck)
    assert state.relaxed == ((1, "tone"),)
    # rhyme kept, tone dropped: 风 only, since 平 also reads pian2 (言前) and cannot be sure to rhyme in 中东
    assert mask.nonzero().flatten().tolist() == [ids["风"]]
    spec = LyricSpec.from_dict({"lang": "cmn", "topic": "x", "structure": "2A 2A", "rhymes": {"A": "天"}})
    constraint = Decoder(None, tokenizer).compile(spec)
    state, mask = constraint.allowed(RowState(line=1, pos=1, chosen=(), relaxed=((1, "tone"),)))
    assert state.relaxed == ((1, "tone"),) and mask.any()
    impossible = RowState(line=1, pos=1, chosen=(("A", "江阳"),))
    spec_free = LyricSpec.from_dict({"lang": "cmn", "topic": "x", "structure": "2A 2A"})
    state, mask = Decoder(None, tokenizer).compile(spec_free).allowed(impossible)
    assert state.relaxed == ((1, "tone"), (1, "rhyme"))
    assert set(mask.nonzero().flatten().tolist()) == set(ids.values())  # any character, never a line break


def _full_forbidden(constraint: LyricsConstraint, state: RowState) -> tuple[RowState, torch.Tensor]:
    """The mask of ``state`` computed whole, as before the used-character overlay: every slot with the characters
    it avoids, partial characters judged on ``CharRules.prefixes`` of those slots, relaxing where nothing is
    left. The reference the overlay must equal."""
    from dataclasses import replace

    from lyrics.decoding.tokentable import utf8_length

    def whole(state: RowState) -> torch.Tensor:
        line = constraint.spec.lines[state.line] if state.line < len(constraint.spec.lines) else None
        if (line is None or state.done or state.off_plan or constraint._in_hint(state)
                or (state.pos == line.syllables and not state.pending) or state.line in constraint.kept):
            return constraint._forbidden(state)[0]  # masks of fixed ids: no used characters in them
        slots = tuple(constraint.slot(state, state.line, p) for p in range(state.pos, line.syllables))
        if not state.pending:
            return ~constraint._text_mask(slots)
        ok = torch.zeros(constraint.table.vocab_size, dtype=torch.bool)
        table = constraint.table
        for token in ((table.lead > 0) & (table.kinds == TEXT)).nonzero().flatten().tolist():
            data = state.pending + table.data[token]
            i, m, fits = 0, 0, True
            while i < len(data) and fits:
                size = utf8_length(data[i])
                piece = data[i:i + size]
                if size == 0 or m >= len(slots):
                    fits = False
                elif len(piece) < size:
                    fits, i = piece in constraint.rules.prefixes(slots[m]), len(data)
                else:
                    try:
                        fits = constraint.rules.allows(piece.decode("utf-8"), slots[m])
                    except UnicodeDecodeError:
                        fits = False
                    i, m = i + size, m + 1
            ok[token] = fits
        return ~ok

    forbidden = whole(state)
    for what in ("tone", "rhyme"):
        if not bool(forbidden.all()):
            break
        state = replace(state, relaxed=(*state.relaxed, (state.line, what)))
        forbidden = whole(state)
    return state, forbidden


OVERLAY_SPECS = [
    {"lang": "cmn", "topic": "月光", "structure": "7A 7A 7B 7A", "rhymes": {"A": "光"},
     "tones": ["平平仄仄仄平平", "仄仄平平仄仄平"]},
    {"lang": "cmn", "scheme": "13zhe", "topic": "月光", "structure": "2A 2B 2A 2B 2A 2B"},
    {"lang": "yue", "topic": "笑", "structure": "3A 2A", "rhymes": {"A": "eu"}},  # byte-split characters only
]


@pytest.mark.parametrize("spec_index", range(len(OVERLAY_SPECS)))
def test_the_used_character_overlay_equals_the_whole_mask(spec_index, qwen_tokenizer, qwen_model):
    """No 重韵 makes a mask depend on the characters other lines ended on; they are applied as a few ids over a
    mask shared without them. On recorded runs with the real Qwen3 tokenizer, at every step of every candidate,
    the overlaid mask and the relaxations equal those of the mask computed whole."""
    spec = LyricSpec.from_dict(OVERLAY_SPECS[spec_index])
    constraint = Decoder(None, qwen_tokenizer).compile(spec)
    prompt = qwen_tokenizer(build_prompt(spec, qwen_tokenizer), return_tensors="pt")
    torch.manual_seed(spec_index)
    out = qwen_model.generate(**prompt, logits_processor=LogitsProcessorList([constraint.processor()]),
                              do_sample=True, temperature=1.0, num_return_sequences=3,
                              max_new_tokens=token_budget(spec, [constraint]), eos_token_id=constraint.eos_ids,
                              pad_token_id=qwen_tokenizer.pad_token_id)
    constraint = Decoder(None, qwen_tokenizer).compile(spec)  # a fresh cache: masks built in the replay's order
    overlaid = 0
    for row in out[:, prompt["input_ids"].shape[1]:].tolist():
        tokens = row[:next(i + 1 for i, t in enumerate(row) if t in constraint.eos_ids)]
        candidate = candidate_from_tokens(constraint, tokens, spec)
        assert candidate.checks.ok and candidate.checks.relaxed == [], candidate.checks.to_dict()
        state = RowState()
        for token in tokens:
            expected_state, expected = _full_forbidden(constraint, state)
            state, base, extra = constraint.masks(state)
            overlaid += bool(len(extra))
            assert state == expected_state
            assert torch.equal(constraint.forbidden(state)[1], expected), (candidate.lyrics, state)
            assert not bool(base[extra].any())  # the overlay only adds
            state = constraint.advance(state, token)
    assert overlaid  # the rule was in play


def test_used_characters_can_force_a_relaxation_as_the_whole_mask_does():
    tokenizer = build_char_tokenizer("天年见风")  # 天年见: 言前; 风 (and the hint symbol 平): 中东
    constraint = Decoder(None, tokenizer).compile(LyricSpec.from_dict(
        {"lang": "cmn", "topic": "x", "structure": "1A 1A", "rhymes": {"A": "天"}}))
    used = (("A", "天"), ("A", "年"), ("A", "见"))
    for line_ends in (used[:1], used[1:2], used):  # the last: a state no row reaches, every 言前 character used
        state = RowState(line=1, line_ends=line_ends)
        expected_state, expected = _full_forbidden(constraint, state)
        got_state, got = constraint.forbidden(state)
        assert got_state == expected_state and torch.equal(got, expected)
    assert got_state.relaxed == ((1, "tone"), (1, "rhyme"))  # nothing left in 言前: the rhyme goes
