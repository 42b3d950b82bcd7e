"""The corpus's phrase memory mixed into decoding: its index, retrieval, the mix's arithmetic, the rows it leaves
alone, the constraint still exact on both tokenizers, and the model folder's setting."""

import gc
import json
import shutil
import weakref

import pytest
import torch

from lyrics.decoding.memory_index import PhraseMemory, TopicMemory, corpus_memory
from lyrics.decoding.phrase_memory import PhraseMix
from lyrics.decoding.prompt import hint
from lyrics.decoding.row_text import PullText
from lyrics.generation import Decoder
from lyrics.models import load_model
from lyrics.modern.corpus import CORPUS, corpus_songs, split_of
from lyrics.training.chartok import build_char_tokenizer

SONGS = [("放学路上", ["我们一起走回家", "我们一起去看海", "路灯一盏一盏亮"]),
         ("外婆的厨房", ["外婆切葱花", "锅里油在响", "我们一起等开饭"]),
         ("地铁", ["车厢里很安静", "我们一起下车"])]


def test_continuations_count_what_follows_a_context_in_the_lines():
    memory = PhraseMemory(SONGS, order=3)
    assert memory.continuations("一起") == {"走": 1, "去": 1, "等": 1, "下": 1}
    assert memory.continuations("^我们") == {"一": 4}  # line start is part of the context
    assert memory.continuations("葱花") == {}  # a line's end has no continuation: lines do not run together
    assert memory.continuations("没见过") == {}


def test_retrieval_ranks_songs_by_the_rarer_characters_they_share_with_the_request():
    memory = PhraseMemory(SONGS)
    assert memory.retrieve("外婆做饭", k=2)[0] == 1  # 外婆 is in its topic and its lines
    assert memory.retrieve("地铁", k=3) == [2]  # only songs sharing a character at all
    assert memory.retrieve("月光", k=3) == []


def test_the_near_songs_outweigh_the_corpus_where_both_know_a_context():
    memory = PhraseMemory(SONGS)
    near = memory.near("外婆的厨房", k=1, weight=100.0)
    assert near.near is not None and [topic for topic, _ in near.near.songs] == ["外婆的厨房"]
    found = near.advise("我们一起").distribution  # corpus: 走 去 等 下 once each; the near song: 等 x 100
    assert found["等"] == pytest.approx(101 / 104)
    assert TopicMemory(memory, None).advise("我们一起").distribution["走"] == pytest.approx(1 / 4)
    assert near.advise("从来没有").distribution is None  # no context seen twice: the memory says nothing


def test_a_line_ends_with_phrases_that_end_in_its_rhyme_group():
    songs = [("a", ["我们一起走回家", "我们一起去看海", "我们一起看烟花"]), ("b", ["门前一棵大树下"])]
    group_of = {"家": "发花", "花": "发花", "下": "发花", "海": "怀来"}.get
    memory = PhraseMemory(songs)
    memory.end_index("cmn:13zhe", group_of)
    # two characters before the end of a 发花 line, after 一起: 走 (走回家) and 看 (看烟花), not 去 (去看海)
    assert memory.ending("cmn:13zhe", "发花", 3, "一起") == {"走": 1, "看": 1}
    assert memory.ending("cmn:13zhe", "怀来", 1, "去看") == {"海": 1}
    topic = memory.near("a").for_lines([(7, "发花"), (7, None)], "cmn:13zhe", group_of)
    found = topic.advise("〔7|发花|*******〕\n我们一起走回").distribution
    assert "家" not in found  # it would complete a line of the corpus: the memory lends phrases, not whole lines
    assert set(found) <= {"花", "下"}  # the line's last character, from the lines that end in its group
    assert set(topic.advise("〔7|发花|*******〕\n他们一起走回").distribution) == {"家"}
    # a line without a group, or far from its end, reads the plain continuations
    assert set(topic.advise("我们一起看烟花\n我们一起").distribution) == {"走", "去", "看"}
    assert set(topic.advise("我们一起").distribution) == {"走", "看"}  # three from the 发花 line's end
    assert set(topic.advise("我们一").distribution) == {"起"}


def test_a_memory_is_freed_with_its_near_memories():
    # a class-level cache of near memories had kept every decoder's corpus memory alive (160 MB each): a bench
    # writing topic by topic, each through a new Decoder, grew to 10 GB before the kernel killed it
    memory = PhraseMemory(SONGS)
    memory.near("外婆的厨房").advise("我们一起")
    alive = weakref.ref(memory)
    del memory
    gc.collect()
    assert alive() is None


def test_a_corpus_line_is_never_completed_whole():
    char_tokenizer = build_char_tokenizer("".join(line for _, lines in SONGS for line in lines))
    memory = PhraseMemory(SONGS)
    topic = memory.near("放学").for_lines([(7, None), (7, None)], "cmn:13zhe", {}.get)
    assert topic.advise("我们一起走回").copies == {"家"}  # 我们一起走回家 is a corpus line
    assert topic.advise("我们一起走").copies == set() and topic.advise("我们一起走回家\n我们一起去看").copies == {"海"}
    mix = PhraseMix([topic], char_tokenizer, mix=0.5, prompt_length=0)
    rows = torch.tensor([char_tokenizer.encode("我们一起走回", add_special_tokens=False)])
    scores = torch.zeros(1, len(char_tokenizer))
    out = mix(rows, scores.clone())
    home = char_tokenizer.convert_tokens_to_ids("家")
    others = torch.cat([out[0, :home], out[0, home + 1:]])
    assert out[0, home] < others.min() - 25  # far below anything else, but not -inf: the mask still decides


def test_the_mix_blends_probabilities_and_leaves_other_rows_alone():
    memory = PhraseMemory(SONGS)
    near = memory.near("外婆的厨房", k=1)
    line_hint = hint(5, None, None)
    char_tokenizer = build_char_tokenizer("".join(line for _, lines in SONGS for line in lines) + line_hint)
    texts = [f"{line_hint}\n我们一起", f"我们一起\n{line_hint}"] * 2  # plan 0's two rows, then plan 1's
    rows = torch.tensor([char_tokenizer.encode(t, add_special_tokens=False) for t in texts])
    assert char_tokenizer.unk_token_id not in rows
    mix = PhraseMix([near, None], char_tokenizer, mix=0.75, rows_per_plan=2, prompt_length=0)
    scores = torch.randn(4, len(char_tokenizer))
    out = mix(rows, scores.clone())
    target = 0.25 * scores[0].softmax(-1)
    for char, p in near.advise("我们一起").distribution.items():
        target[char_tokenizer.convert_tokens_to_ids(char)] += 0.75 * p
    assert torch.allclose(out[0].softmax(-1), target, atol=1e-5)
    # a hint line being written; a prompt without a memory (twice)
    assert all(torch.equal(out[row], scores[row]) for row in (1, 2, 3))
    off = PhraseMix([near, None], char_tokenizer, mix=0.0, rows_per_plan=2, prompt_length=0)
    assert torch.equal(off(rows, scores.clone()), scores)


def test_a_character_split_over_byte_tokens_gets_no_memory_mass(qwen_tokenizer):
    memory = PhraseMemory([("x", ["一起𠸏", "一起来"])])
    mix = PhraseMix([memory.near("x")], qwen_tokenizer, mix=0.5, prompt_length=0)
    assert len(qwen_tokenizer.encode("𠸏", add_special_tokens=False)) > 1
    row = qwen_tokenizer.encode("一起", add_special_tokens=False)
    vocab = len(qwen_tokenizer)
    probs = mix(torch.tensor([row]), torch.zeros(1, vocab))[0].softmax(-1)
    come = qwen_tokenizer.convert_tokens_to_ids(qwen_tokenizer.tokenize("来"))[0]
    # 0.5 uniform + the memory's 0.5: 来 half of it; 𠸏's half goes to no token (not to 来: that would give 来 0.5)
    assert float(probs[come]) == pytest.approx((0.5 / vocab + 0.25) / 0.75, abs=1e-3)
    partial = row + qwen_tokenizer.encode("𠸏", add_special_tokens=False)[:1]  # inside the split character
    assert mix.row_advice(0, mix.texts.add(PullText(), partial)) is None


def test_a_register_reads_the_memory_of_its_own_songs():
    songs = [s for s in corpus_songs(CORPUS) if s.brief.lang == "yue" and split_of(s.id) == "train"]
    written = corpus_memory("yue", "written")
    assert len(written.songs) == sum(s.brief.register == "written" for s in songs) > 500
    assert not any(c in line for _, lines in written.songs for line in lines for c in "嘅咗喺")


def test_the_corpus_memory_holds_training_songs_only():
    memory = corpus_memory("yue")
    train = [s for s in corpus_songs(CORPUS) if s.brief.lang == "yue" and split_of(s.id) == "train"]
    assert len(memory.songs) == len(train) > 1000
    held_out = next(s for s in corpus_songs(CORPUS) if s.brief.lang == "yue" and split_of(s.id) == "test")
    assert (held_out.brief.topic, held_out.lines) not in memory.songs


@pytest.mark.parametrize("which", ["char", "qwen"])
def test_every_candidate_still_meets_the_spec_with_the_memory_on(which, char_tokenizer, char_model, qwen_tokenizer,
                                                                    qwen_model):
    model, tokenizer = (char_model, char_tokenizer) if which == "char" else (qwen_model, qwen_tokenizer)
    decoder = Decoder(model, tokenizer)
    spec = {"lang": "cmn", "topic": "外婆的葱油饼", "structure": "7A 7A 5B 7A", "rhymes": {"A": "言前"}}
    plain = decoder.generate(spec, n=3, seed=2, memory_mix=0.0)
    mixed = decoder.generate(spec, n=3, seed=2, memory_mix=0.9)
    assert all(c.checks.ok for c in plain + mixed)
    assert [c.lyrics for c in plain] != [c.lyrics for c in mixed]  # the memory moved the samples
    assert decoder._memories["cmn", None] is not None  # built once, kept by the decoder


def test_a_model_folder_chooses_its_memory_share(tmp_path, char_generator_dir):
    folder = tmp_path / "model"
    shutil.copytree(char_generator_dir, folder)
    assert Decoder(*load_model(str(folder), device="cpu")).memory_mix == 0.0  # no tianci.json: off
    (folder / "tianci.json").write_text(json.dumps({"hints": False, "memory_mix": 0.8}))
    assert Decoder(*load_model(str(folder), device="cpu")).memory_mix == 0.8


def test_a_row_whose_advised_characters_have_no_token_is_left_alone():
    memory = PhraseMemory([("x", ["我们一起走", "我们一起去"])])
    tokenizer = build_char_tokenizer("我们一起")  # 走 and 去, all the memory would say, have no token
    mix = PhraseMix([memory.near("x")], tokenizer, mix=0.5, prompt_length=0)
    rows = torch.tensor([tokenizer.encode("我们一起", add_special_tokens=False)])
    scores = torch.randn(1, len(tokenizer))
    assert torch.equal(mix(rows, scores.clone()), scores)


def test_a_near_memory_shares_its_corpus_memorys_alphabet():
    memory = PhraseMemory(SONGS)
    with pytest.raises(ValueError, match="alphabet"):
        TopicMemory(memory, PhraseMemory(SONGS[:1]))
    assert memory.near("外婆").near.chars == memory.chars
