"""Cantonese readings in context for the error classes of issue 26's dev set (``bench/yue_dev_accuracy.py
--errors``), read through ``phonetics.analyze`` in the register it guesses; sentences written for these tests, not
the dev set's."""

import pytest

from phonetics import analyze
from phonetics import cantonese as yue


def reading_at(marked: str) -> str | None:
    index = marked.index("[")
    return analyze(marked.replace("[", "").replace("]", ""), "yue").syllables[index].romanization


@pytest.mark.parametrize(
    ("marked", "expected"),
    [
        # colloquial verbs and adjectives, said
        ("架車[朝]住海邊開", "ciu4"),  # towards
        ("佢估唔[中]個答案", "zung3"),  # to hit
        ("呢本書好[惡]讀", "ok3"),  # hard to
        ("佢仲[爭]我一百蚊", "zaang1"),  # to owe someone
        ("你[重]未走咩", "zung6"),  # still
        ("你[抹]枱未", "maat3"),  # to wipe
        ("我叫極佢都唔[應]", "jing3"),  # to answer
        ("佢啱啱[度]咗條褲", "dok6"),  # to measure
        ("佢做生意好[精]", "zeng1"),  # shrewd
        ("我今朝瞓[醒]已經十點", "seng2"),  # to wake
        ("啲細路好鍾意食[糖]", "tong2"),  # a sweet, changed tone
        ("我哋行上山[頂]", "deng2"),  # the top
        ("佢買咗兩[打]雞蛋", "daa1"),  # a dozen
        ("你聽日有冇[空]呀", "hung3"),  # free time
        ("[區]先生今日唔喺度", "au1"),  # surnames before a title
        ("[曾]太搵你", "zang1"),
        ("佢識睇[相]", "soeng3"),  # face reading, not a photo
        ("天氣[更]加熱", "gang3"),  # 更加, not 日更
        ("我想[調]高啲音量", "tiu4"),  # to turn up
        ("個火爐[著]咗", "zoek6"),  # alight
        # written
        ("這條河[長]得看不到盡頭", "coeng4"),  # long, not to grow
        ("夜空中[數]不清的星星", "sou2"),  # to count
        ("漁船停[泊]在港口", "bok6"),  # to moor
        ("公司推出新計[畫]", "waak6"),  # a plan, not verse's painted waa6
        # verse
        ("[畫]船聽雨眠", "waa6"),  # painted
        ("[贏]得青樓薄倖名", "jing4"),
        ("莫[教]枝上啼", "gaau1"),  # to let
        ("出[塞]復入塞", "coi3"),  # the frontier
        ("琵琶夜[彈]月", "taan4"),  # to pluck
        ("不思[量]", "loeng4"),
        ("絲竹管弦[樂]", "ngok6"),  # music
        # round 4 (dev set 2): words that fix a reading in any register
        ("我哋[下]星期考試", "haa6"),  # next
        ("佢個袋[重]咗兩磅", "cung5"),  # heavier
        ("班同學喺門口[散]咗", "saan3"),  # to disperse
        ("記得帶身[分]證", "fan2"),
        ("我唔見咗張身[份]證", "fan2"),
        ("過咗紅綠燈就[轉]右", "zyun3"),  # to turn
        ("隻老鼠[鑽]咗入窿", "zyun1"),  # to squeeze into
        ("細妹學[彈]鋼琴", "taan4"),  # to play
        ("佢[著]咗件新衫", "zoek3"),  # to wear
        ("天冷你要[著]多件衫啦", "zoek3"),
        ("佢話我哋有夫妻[相]", "soeng3"),  # looks
        ("新屋離公司好[近]", "kan5"),  # near, after a degree word
        ("呢個袋好[輕]", "heng1"),
        ("我外[甥]識行路喇", "saang1"),
        ("股價今日[上]漲", "soeng5"),  # to rise
        ("行程如有變[更]會再通知", "gang1"),
        ("要靠自己判[斷]", "dyun3"),  # to judge
        ("佢幾時[數]清楚啲錢", "sou2"),  # to count
    ],
)
def test_cantonese_error_classes_read_in_context(marked, expected):
    assert reading_at(marked) == expected


@pytest.mark.parametrize(
    ("text", "register"),
    [
        ("呢粒糖好甜", "colloquial"),  # 呢 before a classifier
        ("張枱好污糟", "colloquial"),  # 枱
        ("阿媽今晚煮飯", "colloquial"),
        ("我爭你五十蚊", "colloquial"),  # a sum in 蚊
        ("你重未瞓", "colloquial"),
        ("出年我去英國", "colloquial"),
        ("一齊去食飯", "colloquial"),
        # round 4: clause-initial classifiers, pronoun + classifier, 緊 仔 好 + adjective, colloquial words
        ("架巴士遲咗", "colloquial"),
        ("你件外套好襯", "colloquial"),
        ("個細路讀緊小學", "colloquial"),
        ("我好凍", "colloquial"),  # five characters, yet not verse
        ("樓下個雀仔", "colloquial"),
        ("佢啱啱拎走", "colloquial"),
        # and what stays out
        ("嘈嘈切切錯雜彈", "literary"),  # reduplicated 嘈 in verse
        ("我個人認為這是錯的", "written"),  # 個人: personally
        ("大家要抓緊時間", "written"),  # 抓緊: not the aspect marker
        ("他的性格很仔細", "written"),
        ("環境嘈雜令人難以入睡", "written"),  # 嘈雜 is written Chinese
        ("然而家長並不同意", "written"),  # not 而家
        ("乘客使用緊急出口", "written"),
        ("灣仔會展今日舉行書展", "written"),  # a place name
        ("這數字好驚人", "written"),
        ("老老少少都來了", "written"),
    ],
)
def test_cantonese_register_guess_on_colloquial_words(text, register):
    assert yue.register_of(text) == register


@pytest.mark.parametrize(("text", "register"), [
    ("西風漸緊", "written"),  # 緊 the aspect marker only after a verb it follows in speech: 讀緊, 等緊
    ("個個修行人", "literary"),  # a reduplicated classifier
    ("肯與鄰翁相對飲，隔籬呼取盡餘杯", "literary"),  # 隔籬 is verse's too
    ("我好凍", "colloquial"),  # one weak mark in a short sentence is enough
    ("架車停喺門口", "colloquial"),  # (喺 alone is enough)
    ("架車停門口", "colloquial"),  # a clause opening on a classifier: one mark in five characters
    ("道高堯舜垂衣治，日月並文明，嘉禾甘露登歌薦，雲物煥祥經，隻影向誰去", "literary"),  # one mark in 30: verse
])
def test_weak_colloquial_evidence_counts_by_density(text, register):
    assert yue.register_of(text) == register


@pytest.mark.parametrize(
    ("marked", "expected"),
    [
        ("唔[應]該咁講", "jing1"),  # 唔應該 keeps its word
        ("佢[長]得好高", "zoeng2"),  # to grow
        ("我[泊]車", "paak3"),  # to park
        ("記得提[醒]佢", "sing2"),  # 提醒 keeps its word
        ("命[中]注定", "zung1"),
        ("呢度好[空]曠", "hung1"),
        ("[下]面有張櫈", "haa6"),
        ("呢種病好難[判]斷", "pun3"),
        ("一包[散]紙", "saan2"),
        ("佢好[興]奮", "hing1"),
        ("佢好[輕]易就贏咗", "hing1"),
        ("我最[近]好忙", "gan6"),  # recently
        ("經濟幾[近]崩潰", "gan6"),  # almost
        ("世界會變[更]好", "gang3"),
        ("[著]名品牌", "zyu3"),
    ],
)
def test_cantonese_classes_leave_their_neighbours_alone(marked, expected):
    assert reading_at(marked) == expected
