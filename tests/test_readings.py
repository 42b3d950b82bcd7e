"""Readings in context: polyphones, both scripts, both languages, nothing dropped."""

import pytest

from phonetics import annotate


def romanizations(text: str, lang: str) -> list[str | None]:
    return [s.romanization for s in annotate(text, lang)]


@pytest.mark.parametrize(("text", "expected"), [
    ("银行", ["yin2", "hang2"]),
    ("行走", ["xing2", "zou3"]),
    ("长大", ["zhang3", "da4"]),
    ("长城", ["chang2", "cheng2"]),
    ("重庆", ["chong2", "qing4"]),
    ("重要", ["zhong4", "yao4"]),
    ("音乐", ["yin1", "yue4"]),
    ("快乐", ["kuai4", "le4"]),
    ("女儿", ["nv3", "er2"]),
    ("绿色", ["lv4", "se4"]),
    ("一个", ["yi1", "ge4"]),  # citation tone, not the sandhi pypinyin stores
    ("不要", ["bu4", "yao4"]),
    # traditional input reads the same as simplified (plain pypinyin: 銀行 xing2, 重慶 zhong4, 音樂 le4)
    ("銀行", ["yin2", "hang2"]),
    ("長大", ["zhang3", "da4"]),
    ("重慶", ["chong2", "qing4"]),
    ("音樂", ["yin1", "yue4"]),
    ("快樂", ["kuai4", "le4"]),
])
def test_mandarin_readings(text, expected):
    assert romanizations(text, "cmn") == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("銀行", ["ngan4", "hong4"]),
    ("行路", ["haang4", "lou6"]),
    ("長大", ["zoeng2", "daai6"]),
    ("長城", ["coeng4", "sing4"]),
    ("重慶", ["cung4", "hing3"]),
    ("音樂", ["jam1", "ngok6"]),
    ("快樂", ["faai3", "lok6"]),
    ("廣東話", ["gwong2", "dung1", "waa2"]),
    # simplified input (plain pycantonese reads none of these)
    ("银行", ["ngan4", "hong4"]),
    ("长大", ["zoeng2", "daai6"]),
    ("重庆", ["cung4", "hing3"]),
    ("音乐", ["jam1", "ngok6"]),
    ("快乐", ["faai3", "lok6"]),
    ("广东话", ["gwong2", "dung1", "waa2"]),
])
def test_cantonese_readings(text, expected):
    assert romanizations(text, "yue") == expected


@pytest.mark.parametrize("lang", ["cmn", "yue"])
def test_non_syllables_kept_in_order(lang):
    text = "我爱 you，2024！😀"
    syllables = annotate(text, lang)
    assert "".join(s.char for s in syllables) == text
    assert [s.is_syllable for s in syllables] == [c in "我爱" for c in text]
    assert all(s.romanization is None for s in syllables if not s.is_syllable)
    assert all(s.known for s in syllables if s.is_syllable)


@pytest.mark.parametrize("lang", ["cmn", "yue"])
def test_unknown_character_is_marked_not_dropped(lang):
    syllables = annotate("月𪜀光", lang)  # U+2A700 has no reading in either library
    assert [s.char for s in syllables] == ["月", "𪜀", "光"]
    unknown = syllables[1]
    assert unknown.is_syllable and not unknown.known
    assert (unknown.romanization, unknown.rhyme, unknown.tone_class) == (None, None, None)
    assert syllables[0].known and syllables[2].known


@pytest.mark.parametrize(("lang", "romanization", "initial", "final", "tone"), [
    ("cmn", "zhuang1", "zh", "uang", 1),
    ("cmn", "ju4", "j", "v", 4),
    ("cmn", "xue2", "x", "ve", 2),
    ("cmn", "yue4", None, "ve", 4),
    ("cmn", "yun2", None, "vn", 2),
    ("cmn", "you3", None, "iu", 3),
    ("cmn", "wen2", None, "un", 2),
    ("cmn", "wo3", None, "uo", 3),
    ("cmn", "zhi1", "zh", "-i", 1),
    ("cmn", "si1", "s", "-i", 1),
    ("cmn", "er2", None, "er", 2),
    ("cmn", "lve4", "l", "ve", 4),
    ("cmn", "n2", None, "n", 2),
    ("cmn", "de5", "d", "e", 5),
    ("yue", "gwong2", "gw", "ong", 2),
    ("yue", "ngo5", "ng", "o", 5),
    ("yue", "m4", None, "m", 4),
    ("yue", "ng5", None, "ng", 5),
    ("yue", "jyut6", "j", "yut", 6),
    ("yue", "hoeng1", "h", "oeng", 1),
    ("yue", "seoi2", "s", "eoi", 2),
    ("yue", "sik7", "s", "ik", 1),  # entering tones written 7/8/9 fold to 1/3/6
    ("yue", "sek8", "s", "ek", 3),
    ("yue", "sik9", "s", "ik", 6),
])
def test_syllable_split(lang, romanization, initial, final, tone):
    from phonetics import cantonese, mandarin

    split = mandarin.split if lang == "cmn" else cantonese.split
    assert split(romanization) == (initial, final, tone)


def test_the_cantonese_lexicon_is_cached_on_disk_and_rebuilt_when_damaged(tmp_path, monkeypatch):
    import pycantonese

    from phonetics import cantonese

    monkeypatch.setenv("TIANCI_HOME", str(tmp_path))
    fresh = cantonese.build_lexicon((t.word, t.jyutping) for t in pycantonese.hkcancor().tokens())
    cantonese._default_lexicon.cache_clear()
    try:
        assert cantonese._default_lexicon() == fresh  # built, and written
        path = cantonese.lexicon_cache()
        assert path.is_file() and path.is_relative_to(tmp_path)
        cantonese._default_lexicon.cache_clear()
        assert cantonese._default_lexicon() == fresh  # read back from the disk: the same lexicon
        path.write_text('{"words": {"半個', encoding="utf-8")  # a cache cut short
        cantonese._default_lexicon.cache_clear()
        assert cantonese._default_lexicon() == fresh and path.read_text("utf-8").endswith("}")
    finally:
        cantonese._default_lexicon.cache_clear()
