"""Knowledge-injection data, and the hint contract between training text and constrained decoding."""

import itertools
import random

import pytest

from lyrics import generate
from lyrics.data.works import make_record, poetry_source
from lyrics.decoding.prompt import hint, spec_hints
from lyrics.decoding.spec import LyricSpec
from lyrics.generation import Decoder
from lyrics.training.knowledge import is_held_out, memorisation, spec_of_record, understanding, utilisation

JINGYESI = make_record("test", "cmn", "静夜思", "李白", ["床前明月光，疑是地上霜。举头望明月，低头思故乡。"])


@pytest.mark.parametrize("lang", ["cmn", "yue"])
def test_memorisation_states_readings_and_groups(lang):
    texts = [r["text"] for r in memorisation(lang, limit=50)]
    first = texts[0]
    assert first.startswith("人：") and ("ren2" in first if lang == "cmn" else "jan4" in first)
    assert any("韵的常用字" in t for t in texts)


def test_understanding_answers_are_true_and_held_out_is_marked():
    records = list(understanding("cmn", limit=300))
    assert {r["held_out"] for r in records} == {True, False}
    held = [r for r in records if r["held_out"]]
    assert 0.04 < len(held) / len(records) < 0.25
    for r in records:
        question, answer = (m["content"] for m in r["messages"])
        if question.endswith("押韵吗？"):
            a, b = question.split("「")[1][0], question.split("「")[2][0]
            from phonetics import annotate

            same = annotate(a, "cmn")[0].rhyme == annotate(b, "cmn")[0].rhyme
            assert answer.startswith("押韵" if same else "不押韵"), (question, answer)
    assert is_held_out("风") == any(r["held_out"] for r in records if "「风」" in r["messages"][0]["content"])


def test_spec_of_a_work_is_satisfied_by_the_work():
    from lyrics.decoding.checks import check_lyrics

    spec = spec_of_record(JINGYESI, random.Random(0))
    hints = spec_hints(spec)
    assert spec.structure == "5A 5A 5 5A" and spec.rhymes == {"A": "江阳"}
    assert hints[0].startswith("〔5|江阳|") and hints[2].startswith("〔5|-|")
    assert check_lyrics(JINGYESI.text, spec).ok


def test_utilisation_writes_a_hint_before_every_line():
    (record,) = utilisation([JINGYESI])
    answer = record["messages"][1]["content"].split("\n")
    assert answer[1::2] == list(JINGYESI.lines)
    assert all(h.startswith("〔5|") and h.endswith("〕") for h in answer[0::2])
    works = [r for r in itertools.islice(poetry_source("songci", "cmn"), 30) if r]
    assert len(list(utilisation(works))) == len(works)


def test_forced_hint_tokens_match_the_training_tokenization(qwen_tokenizer):
    """Hints are forced at inference as separately tokenized text; a model trained on whole answers must
    see the very same token ids. Holds because each hint stands on its own line."""
    (record,) = utilisation([JINGYESI])
    answer_ids = qwen_tokenizer.encode(record["messages"][1]["content"], add_special_tokens=False)
    for line in record["messages"][1]["content"].split("\n")[0::2]:
        forced = qwen_tokenizer.encode(line + "\n", add_special_tokens=False)
        assert any(answer_ids[i:i + len(forced)] == forced for i in range(len(answer_ids))), line


@pytest.mark.parametrize("vocab", ["qwen", "char"])
def test_hinted_generation(vocab, request):
    tokenizer, model = request.getfixturevalue(f"{vocab}_tokenizer"), request.getfixturevalue(f"{vocab}_model")
    spec = LyricSpec.from_dict({"lang": "cmn", "topic": "月", "structure": "7A 7A 7 7A 7B 7B",
                                "tones": ["平平仄仄仄平平"]})
    decoder = Decoder(None, tokenizer)
    pinned = decoder.pin_rhymes(spec, 3)
    viable = decoder.compile(spec).viable_groups
    assert set(pinned.rhymes) == {"A", "B"} and all(pinned.rhymes[k] in viable[k] for k in "AB")
    assert decoder.pin_rhymes(spec, 3) == pinned  # seeded
    rows = decoder.row_rhymes(spec, 3, 4)  # each candidate row its own groups, distinct while groups last
    assert rows[0] == pinned and len({row.rhymes["A"] for row in rows}) == 4
    assert all(row.rhymes["A"] in viable["A"] and row.rhymes["B"] in viable["B"] for row in rows)
    for row, candidate in zip(rows, generate(model, tokenizer, spec, n=4, seed=3, hints=True, top_k=30), strict=True):
        assert candidate.checks.ok, candidate.checks.to_dict()
        assert "〔" not in candidate.lyrics and len(candidate.lyrics.split("\n")) == 6
        assert [line.rhyme for line in candidate.checks.lines[:2]] == [row.rhymes["A"]] * 2
    pinned_a = LyricSpec.from_dict({"lang": "cmn", "topic": "月", "structure": "7A 7A 7 7A", "rhymes": {"A": "光"}})
    for candidate in generate(model, tokenizer, pinned_a, n=3, seed=3, hints=True, top_k=30):
        assert candidate.checks.lines[0].rhyme == "江阳"  # a pinned label stays pinned in every row
    constraint = decoder.compile(pinned, hints=True)
    assert constraint.hints[0] == tokenizer.encode(hint(7, pinned.rhymes["A"], "平平仄仄仄平平") + "\n",
                                                   add_special_tokens=False)
