"""Keyword plans: extraction from works, plans from topics, one brief format in training and inference,
and the no-identical-rhyme rule (重韵) in the constraint and the checks."""

import random

import pytest
import yaml

from lyrics import generate
from lyrics.data.keywords import KeywordTable, build_keywords, keyword_line, load_tables
from lyrics.data.works import Record, sample_works
from lyrics.decoding.checks import check_lyrics
from lyrics.decoding.constraints import LyricsConstraint, RowState, UnsatisfiableSpec
from lyrics.decoding.prompt import brief
from lyrics.decoding.spec import LyricSpec, SpecError
from lyrics.generation import Decoder
from lyrics.models import load_model
from lyrics.training.generator import train
from lyrics.training.knowledge import spec_of_record, utilisation

from .test_train import generator_config, write_config

# A corpus where 明月 and 春风 are words (they recur) and the other bigrams are chance neighbours.
CORPUS = [[f"明月{a}照春风", f"{b}{c}春风{a}"] for a, b, c in zip("山水花草木石云雨烟霞", "江河湖海天地日星辰露",
                                                          "高低远近深浅长短新旧", strict=True)]


def _table() -> KeywordTable:
    return build_keywords(CORPUS + [["秋风", "明日"]] * 2 + [["甲乙丙丁"]] * 200, "cmn")


def test_keywords_are_recurring_cohesive_bigrams_ranked_by_tf_idf():
    table = _table()
    assert {"明月", "春风"} <= set(table.df)
    assert "月山" not in table.df and "秋风" not in table.df  # in one and two works: not words
    assert "甲乙" not in table.df  # in most works: a formula, not a keyword
    # both occur; 春风 twice in the stanza, so it ranks first, but the plan keeps the stanza's order
    assert table.extract(["明月照春风", "春风吹"], 2) == ["明月", "春风"]
    assert table.extract(["明月照春风", "春风吹"], 1) == ["春风"]
    assert table.extract(["无字可取"], 2) == []


def test_a_plan_never_reuses_a_character_and_keeps_the_users_words_first():
    table = KeywordTable("cmn", 100, {"明月": 10, "月光": 10, "清风": 10},
                         {"月": [("月光", 9.0), ("明月", 8.0), ("清风", 1.0)]})
    assert table.plan("月", 2) == ["月光", "清风"]  # 明月 would bring 月 a second time
    assert table.plan("夏天的海边", 2) == ["夏天", "海边"]  # 的 is dropped before the topic is cut
    assert table.plan("月", 3, given=["海浪"]) == ["海浪", "月光", "清风"]
    assert table.plan("月", 2, vocabulary=set("月光")) == ["月光"]  # only writable keywords


def test_cantonese_plans_are_in_traditional_script():
    table = KeywordTable("yue", 10, {}, {})
    assert table.plan("海边的城市", 2) == ["海邊", "城市"]


def test_training_brief_equals_the_inference_brief(data_dir):
    works = sample_works(data_dir, "cmn", "train", 200, 0)
    table = build_keywords((w.lines for w in works), "cmn")
    record = next(w for w in works if len(table.extract(w.lines, 2)) == 2)
    trained = spec_of_record(record, random.Random(0), table)
    assert trained.keywords and trained.topic != record.title  # a Song ci's title is its tune: not the topic
    asked = LyricSpec.from_dict({
        "lang": "cmn", "topic": trained.topic, "structure": trained.structure, "genre": trained.genre,
        "rhymes": dict(trained.rhymes), "keywords": "、".join(trained.keywords),
        "tones": [line.tones or "*" * line.syllables for line in trained.lines]})
    assert brief(asked) == brief(trained)
    assert keyword_line(trained.keywords) in brief(trained).splitlines()


def test_titles_are_topics_only_where_they_name_the_work():
    lines = ("床前明月光", "疑是地上霜", "春风吹绿草", "低头思春风")
    table = _table()
    tang = Record("x", "tang", "cmn", "静夜思", "李白", lines, "train", "shi")
    ci = Record("y", "songci", "cmn", "如梦令", "", lines, "train", "ci")
    assert spec_of_record(tang, random.Random(0), table).topic == "静夜思"
    assert spec_of_record(ci, random.Random(0), table).topic == "春风"  # the plan's most salient keyword


def test_sampled_works_are_balanced_across_sources_and_seeded(data_dir):
    works = sample_works(data_dir, "cmn", "train", 100, 0)
    assert len(works) == 100 and works == sample_works(data_dir, "cmn", "train", 100, 0)
    assert works != sample_works(data_dir, "cmn", "train", 100, 1)


def test_spec_keywords_are_checked():
    spec = LyricSpec.from_dict({"lang": "cmn", "topic": "海", "structure": "5A 5A", "keywords": "海浪, 夏天"})
    assert spec.keywords == ("海浪", "夏天")
    with pytest.raises(SpecError, match="keywords: 'sea' is not 1-4 Chinese characters"):
        LyricSpec.from_dict({"lang": "cmn", "topic": "海", "structure": "5A 5A", "keywords": ["sea"]})


# ---- no identical rhyme (重韵) -------------------------------------------------------------------

def _after_first_line(constraint: LyricsConstraint, tokenizer, line: str) -> RowState:
    state = RowState()
    for token in tokenizer.encode(line + "\n", add_special_tokens=False):
        state = constraint.advance(constraint.forbidden(state)[0], token)
    return state


@pytest.mark.parametrize("which", ["char", "qwen"])
def test_a_line_may_not_end_on_the_character_its_label_already_ended_on(which, char_tokenizer, qwen_tokenizer):
    tokenizer = char_tokenizer if which == "char" else qwen_tokenizer
    spec = LyricSpec.from_dict({"lang": "cmn", "topic": "月", "structure": "2A 2A", "rhymes": {"A": "光"}})
    constraint = Decoder(None, tokenizer).compile(spec)
    state = _after_first_line(constraint, tokenizer, "阳光")
    assert state.line == 1 and state.line_ends == (("A", "光"),)
    state = constraint.advance(constraint.forbidden(state)[0], tokenizer.encode("明", add_special_tokens=False)[0])
    allowed = constraint.allowed(state)[1]
    (guang,) = tokenizer.encode("光", add_special_tokens=False)
    (xiang,) = tokenizer.encode("香", add_special_tokens=False)
    assert not allowed[guang] and allowed[xiang]
    if which == "qwen":  # a two-character token that would end the line on 光 is masked too
        (whole,) = tokenizer.encode("时光", add_special_tokens=False)
        fresh = _after_first_line(constraint, tokenizer, "阳光")
        assert not constraint.allowed(fresh)[1][whole]
        assert constraint.allowed(RowState())[1][whole]  # on the first line it is fine


@pytest.mark.parametrize("which", ["char", "qwen"])
def test_generated_lines_of_a_label_end_on_distinct_characters(which, char_tokenizer, char_model, qwen_tokenizer,
                                                               qwen_model):
    tokenizer, model = (char_tokenizer, char_model) if which == "char" else (qwen_tokenizer, qwen_model)
    spec = {"lang": "cmn", "topic": "月", "structure": "2A 2A 2A 2A 2A 2A", "rhymes": {"A": "光"}}
    for candidate in generate(model, tokenizer, spec, n=6, seed=0):
        finals = [line[-1] for line in candidate.lyrics.split("\n")]
        assert len(set(finals)) == len(finals), candidate.lyrics
        assert candidate.checks.ok


def test_the_checks_flag_an_identical_rhyme():
    spec = LyricSpec.from_dict({"lang": "cmn", "topic": "月", "structure": "5A 5A"})
    checks = check_lyrics("床前明月光\n疑是地上光", spec)
    assert not checks.rhyme and checks.lines[1].identical_rhyme and not checks.lines[0].identical_rhyme
    assert check_lyrics("床前明月光\n低头思故乡", spec).rhyme


def test_a_label_needs_as_many_characters_as_lines(char_tokenizer):
    decoder = Decoder(None, char_tokenizer)
    rules = decoder.compile(LyricSpec.from_dict({"lang": "cmn", "topic": "月", "structure": "2A"})).rules
    table = decoder.table
    # a rhyme group and tone class that only a few writable characters share
    counts = {}
    for char in rules.writable:
        group = rules.group_of(char)
        classes = rules.classes[char]
        if group and len(classes) == 1:
            counts.setdefault((group, next(iter(classes))), []).append(char)
    (group, tone), chars = min(counts.items(), key=lambda kv: len(kv[1]))
    lines = len(chars) + 1
    spec = LyricSpec.from_dict({"lang": "cmn", "topic": "月", "structure": " ".join(["2A"] * lines),
                                "rhymes": {"A": group}, "tones": ["*" + tone] * lines})
    with pytest.raises(UnsatisfiableSpec, match=f"too few characters .* for the {lines} lines labelled A"):
        LyricsConstraint(spec, table, eos_ids=[char_tokenizer.eos_token_id])


# ---- a model trained with keyword plans ---------------------------------------------------------

def test_a_model_trained_with_plans_ships_its_tables_and_the_topic_steers_it(tmp_path, data_dir):
    config = write_config(tmp_path, data_dir, sft={"steps": 4, "lora": None})
    raw = yaml.safe_load(config.read_text("utf-8"))
    raw["data"]["keywords"] = True
    raw["data"]["knowledge_mix"] = 0.2
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    final = train(generator_config(config), "sft", progress=False)
    assert set(load_tables(final)) == {"cmn", "yue"}
    model, tokenizer = load_model(str(final), device="cpu")
    assert set(model.tianci_keywords) == {"cmn", "yue"}
    spec = LyricSpec.from_dict({"lang": "cmn", "topic": "明月", "structure": "5A 5A 5B 5A"})
    planned = Decoder(model, tokenizer).plan_keywords(spec)
    assert planned.keywords[0] == "明月"  # the topic's own word first, expansion after it
    seas = generate(model, tokenizer, {**_dict(spec), "topic": "大海"}, n=2, seed=3)
    moons = generate(model, tokenizer, _dict(spec), n=2, seed=3)
    assert [c.lyrics for c in seas] != [c.lyrics for c in moons]  # same seed: only the topic differs
    exchanges = list(utilisation(sample_works(data_dir, "cmn", "train", 50, 0), 0, 8, model.tianci_keywords))
    assert any("关键词：" in e["messages"][0]["content"] for e in exchanges)


def _dict(spec: LyricSpec) -> dict:
    return {"lang": spec.lang, "topic": spec.topic, "structure": spec.structure}


@pytest.mark.parametrize("which", ["char", "qwen"])
def test_the_keyword_pull_writes_the_plan_and_keeps_every_check(which, char_tokenizer, char_model, qwen_tokenizer,
                                                               qwen_model):
    tokenizer, model = (char_tokenizer, char_model) if which == "char" else (qwen_tokenizer, qwen_model)
    spec = {"lang": "cmn", "topic": "月", "structure": "5A 5A 5B 5A", "keywords": ["明月", "春风"]}
    pulled = generate(model, tokenizer, spec, n=4, seed=0, keyword_pull=30.0)
    assert all("明月" in c.lyrics and "春风" in c.lyrics and c.checks.ok for c in pulled)
    free = generate(model, tokenizer, spec, n=4, seed=0, keyword_pull=0.0)  # a random model ignores its brief
    assert not any("明月" in c.lyrics for c in free) and all(c.checks.ok for c in free)
