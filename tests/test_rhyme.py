"""Rhyme groups under every scheme, tone classes, and rhyme-scheme detection on real verses."""

import pytest

from phonetics import PhoneticsError, analyze, annotate, scheme
from phonetics.tables import load_table


@pytest.mark.parametrize(("char", "zhe13", "yun14"), [
    ("花", "发花", "麻"), ("家", "发花", "麻"), ("歌", "梭波", "波"), ("波", "梭波", "波"),
    ("国", "梭波", "波"), ("月", "乜斜", "皆"), ("雪", "乜斜", "皆"), ("知", "一七", "支"),
    ("思", "一七", "支"), ("衣", "一七", "齐"), ("雨", "一七", "齐"), ("儿", "一七", "齐"),
    ("书", "姑苏", "姑"), ("来", "怀来", "开"), ("飞", "灰堆", "微"), ("水", "灰堆", "微"),
    ("高", "遥条", "豪"), ("桥", "遥条", "豪"), ("愁", "油求", "尤"), ("秋", "油求", "尤"),
    ("天", "言前", "寒"), ("圆", "言前", "寒"), ("心", "人辰", "文"), ("云", "人辰", "文"),
    ("光", "江阳", "唐"), ("霜", "江阳", "唐"), ("风", "中东", "庚"), ("东", "中东", "庚"),
    ("情", "中东", "庚"), ("穷", "中东", "庚"),
])
def test_mandarin_rhyme_groups(char, zhe13, yun14):
    assert annotate(char, "cmn", "13zhe")[0].rhyme == zhe13
    assert annotate(char, "cmn", "14yun")[0].rhyme == yun14


def test_every_mandarin_final_has_a_group_in_both_schemes():
    finals = {f for fs in load_table("rhyme_13zhe")["groups"].values() for f in fs}
    assert finals == {f for fs in load_table("rhyme_14yun")["groups"].values() for f in fs}
    assert all(scheme("cmn", name).group(f) is not None for f in finals for name in ("13zhe", "14yun"))
    assert len(scheme("cmn", "13zhe").groups) == 13
    assert len(scheme("cmn", "14yun").groups) == 14


@pytest.mark.parametrize(("a", "b", "strict", "loose"), [
    ("心", "深", True, True),      # sam1 / sam1
    ("心", "十", False, True),     # am ~ ap
    ("天", "節", False, True),     # in ~ it
    ("光", "國", False, True),     # ong ~ ok
    ("光", "霜", False, False),    # gwong1 / soeng1: rhyme in Mandarin, not in Cantonese
    ("開", "海", True, True),      # hoi1 / hoi2
    ("開", "家", False, False),
])
def test_cantonese_strict_and_loose(a, b, strict, loose):
    for name, expected in (("strict", strict), ("loose", loose)):
        ra, rb = (annotate(c, "yue", name)[0].rhyme for c in (a, b))
        assert (ra == rb) is expected, (name, a, ra, b, rb)


def test_cantonese_0243_levels():
    # 詩史試時市事: tones 1-6 on one syllable; 識錫食: entering tones 1, 3, 6
    got = [(s.tone, s.tone_class) for s in annotate("詩史試時市事識錫食", "yue")]
    assert got == [(1, "3"), (2, "3"), (3, "4"), (4, "0"), (5, "4"), (6, "2"), (1, "3"), (3, "4"), (6, "2")]


def test_mandarin_ping_ze():
    got = [(s.tone, s.tone_class) for s in annotate("妈麻马骂", "cmn")]
    assert got == [(1, "平"), (2, "平"), (3, "仄"), (4, "仄")]


@pytest.mark.parametrize(("verse", "lang", "scheme_name", "letters"), [
    ("床前明月光，疑是地上霜。举头望明月，低头思故乡。", "cmn", "13zhe", "AABA"),
    ("床前明月光，疑是地上霜。举头望明月，低头思故乡。", "cmn", "14yun", "AABA"),
    ("床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。", "yue", "strict", "ABCB"),  # 光 ong ≠ 霜 oeng
    ("春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。", "cmn", "13zhe", "AABA"),
    ("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", "cmn", "14yun", "ABCB"),
    ("故人西辭黃鶴樓，煙花三月下揚州。孤帆遠影碧空盡，唯見長江天際流。", "yue", "strict", "AABA"),
    ("故人西辭黃鶴樓，煙花三月下揚州。孤帆遠影碧空盡，唯見長江天際流。", "cmn", "13zhe", "AABA"),
    ("千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。", "cmn", "13zhe", "AABA"),
    ("千山鳥飛絕，萬徑人蹤滅。孤舟蓑笠翁，獨釣寒江雪。", "yue", "loose", "ABCA"),
    ("关关雎鸠\n在河之洲\n窈窕淑女\n君子好逑", "cmn", "13zhe", "AABA"),
    ("关关雎鸠 / 在河之洲 / 窈窕淑女 / 君子好逑", "yue", "strict", "AABA"),
])
def test_rhyme_scheme_of_real_verses(verse, lang, scheme_name, letters):
    analysis = analyze(verse, lang, scheme_name)
    assert analysis.rhyme_letters == letters
    assert all(line.syllable_count in (4, 5, 7) for line in analysis.lines)


def test_line_analysis_fields():
    a = analyze("床前明月光，疑是地上霜。举头望明月，低头思故乡。", "cmn")
    assert [line.syllable_count for line in a.lines] == [5, 5, 5, 5]
    assert [line.final_syllable.char for line in a.lines] == ["光", "霜", "月", "乡"]
    assert a.lines[0].tones == [2, 2, 2, 4, 1]
    assert a.lines[0].tone_pattern == "平平平仄平"
    assert a.rhyme_rate == pytest.approx(0.75)
    assert analyze("海闊天空", "yue").lines[0].tone_pattern == "3433"


@pytest.mark.parametrize(("lang", "pin", "group"), [
    ("cmn", "江阳", "江阳"), ("cmn", "光", "江阳"), ("cmn", "ang", "江阳"),
    ("yue", "ong", "ong"), ("yue", "光", "ong"),
])
def test_resolve_rhyme_pins(lang, pin, group):
    assert scheme(lang).resolve(pin) == group


@pytest.mark.parametrize(("lang", "name", "pin"),
                         [("cmn", "13zhe", "唐韵"), ("cmn", None, "x"), ("yue", "loose", "ab")])
def test_unknown_pin_names_the_choices(lang, name, pin):
    with pytest.raises(PhoneticsError, match="unknown rhyme"):
        scheme(lang, name).resolve(pin)
