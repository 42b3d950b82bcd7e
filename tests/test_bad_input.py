"""Bad input gets a clear result or a one-line error naming the valid choices; never a traceback."""

import pytest

from phonetics import PhoneticsError, analyze, annotate


@pytest.mark.parametrize("lang", ["cmn", "yue"])
@pytest.mark.parametrize("text", ["", "   ", "，。！？", "😀🎵", "hello world 123"])
def test_texts_without_syllables(text, lang):
    analysis = analyze(text, lang)
    assert all(line.syllable_count == 0 for line in analysis.lines)
    assert analysis.rhyme_rate is None
    assert set(analysis.rhyme_letters) <= {"-"}
    assert "".join(s.char for s in analysis.syllables) == text


@pytest.mark.parametrize("lang", ["cmn", "yue"])
def test_mixed_chinese_and_english(lang):
    analysis = analyze("I love you 我爱你\nbaby 别走 oh", lang)
    assert [line.syllable_count for line in analysis.lines] == [3, 2]
    assert analysis.lines[1].final_syllable.char == "走"


@pytest.mark.parametrize("lang", ["cmn", "yue"])
def test_a_100000_character_paste(lang):
    verse = "床前明月光，疑是地上霜。举头望明月，低头思故乡。\n"
    text = (verse * (100_000 // len(verse) + 1))[:100_000]
    analysis = analyze(text, lang)
    assert len(analysis.syllables) == 100_000
    assert sum(line.syllable_count for line in analysis.lines) == sum(s.is_syllable for s in analysis.syllables)


def test_oversized_text_is_refused_in_one_line():
    with pytest.raises(PhoneticsError, match="at most 1,000,000"):
        annotate("月" * 1_000_001, "cmn")


@pytest.mark.parametrize(("call", "message"), [
    (lambda: annotate("月", "fr"), "unknown language 'fr': use one of cmn, yue"),
    (lambda: annotate("月", "cmn", "loose"), "unknown rhyme scheme 'loose' for cmn: use one of 13zhe, 14yun"),
    (lambda: analyze("月", "yue", "13zhe"), "unknown rhyme scheme '13zhe' for yue: use one of strict, loose"),
    (lambda: annotate(None, "cmn"), "text must be a string"),
])
def test_errors_name_the_valid_choices(call, message):
    with pytest.raises(PhoneticsError) as err:
        call()
    assert message in str(err.value)
    assert "\n" not in str(err.value)
