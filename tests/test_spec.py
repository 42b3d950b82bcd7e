"""The lyric spec: parsing, rhyme pins, tone patterns, and a one-line error for every invalid field."""

import pytest

from lyrics.decoding.spec import LyricSpec, SpecError, parse_rhymes_option


def spec(**fields):
    return LyricSpec.from_dict({"lang": "cmn", "topic": "月光", "structure": "7A 7A 7B 7A", **fields})


def test_structure_with_sections_labels_and_free_lines():
    s = spec(structure="[verse] 7A 7B 5 [chorus] 6D 6D")
    assert [(line.syllables, line.label, line.section) for line in s.lines] == [
        (7, "A", "verse"), (7, "B", "verse"), (5, None, "verse"), (6, "D", "chorus"), (6, "D", "chorus")]
    assert s.labels == ("A", "B", "D")


@pytest.mark.parametrize(("lang", "scheme_name", "pin", "group"), [
    ("cmn", "13zhe", "光", "江阳"), ("cmn", "14yun", "光", "唐"), ("cmn", "13zhe", "江阳", "江阳"),
    ("cmn", "13zhe", "ang", "江阳"), ("yue", "strict", "ong", "ong"), ("yue", "strict", "光", "ong"),
    ("yue", "loose", "ok", "ong"),
])
def test_rhyme_pins_resolve_to_groups(lang, scheme_name, pin, group):
    s = LyricSpec.from_dict({"lang": lang, "topic": "海", "structure": "5A 5A", "scheme": scheme_name,
                             "rhymes": {"A": pin}})
    assert s.rhymes == {"A": group}


def test_tone_patterns_attach_to_lines_and_allow_spaces_and_fewer_lines():
    s = LyricSpec.from_dict({"lang": "yue", "topic": "海", "structure": "4A 4A 4B", "tones": ["0 2 4 3", "*4*3"]})
    assert [line.tones for line in s.lines] == ["0243", "*4*3", None]
    assert spec(tones="平平仄仄平平仄,*******").lines[1].tones is None  # all free


def test_cli_rhymes_option():
    assert parse_rhymes_option("A=光, B=天") == {"A": "光", "B": "天"}
    with pytest.raises(SpecError, match="should look like A=光"):
        parse_rhymes_option("A光")


@pytest.mark.parametrize(("fields", "message"), [
    ({"lang": "fr"}, "lang: 'fr' is not supported; use one of cmn, yue"),
    ({"structure": ""}, "structure: give lines"),
    ({"structure": "[verse]"}, "structure: no lines"),
    ({"structure": "0A"}, "a line has 1 to 30"),
    ({"structure": "31A"}, "a line has 1 to 30"),
    ({"structure": "7a"}, "neither a line like 7A"),
    ({"structure": " ".join(["5"] * 65)}, "65 lines; at most 64"),
    ({"rhymes": {"Z": "光"}}, "rhymes: label 'Z' is not in the structure"),
    ({"rhymes": {"A": "xyz"}}, "rhymes.A: unknown rhyme 'xyz'"),
    ({"rhymes": {"A": "hello"}}, "rhymes.A: unknown rhyme"),
    ({"rhymes": {"A": "唐"}, "scheme": "13zhe"}, None),  # a character pin, not a group name: fine
    ({"tones": ["平平仄"]}, "tones[0]: pattern '平平仄' has 3 positions, line 1 has 7 syllables"),
    ({"tones": ["平平仄仄平平3"]}, "tones[0]: '3' is not a cmn tone class; use 平 仄 or *"),
    ({"tones": ["*"] * 5}, "tones: 5 patterns for 4 lines"),
    ({"scheme": "strict"}, "scheme: 'strict' is not a cmn scheme; use one of 13zhe, 14yun"),
    ({"topic": ""}, "topic: give a non-empty string"),
    ({"n": 0}, "n: give an integer from 1 to 64"),
    ({"seed": -1}, "seed: give an integer from 0 to"),
    ({"seed": 2**70}, "seed: give an integer from 0 to 9223372036854775807"),
    ({"colour": "blue"}, "unknown field 'colour'"),
])
def test_invalid_specs_are_one_line_errors(fields, message):
    if message is None:
        spec(**fields)
        return
    with pytest.raises(SpecError) as err:
        spec(**fields)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_cantonese_tone_alphabet():
    with pytest.raises(SpecError, match="'平' is not a yue tone class; use 0 2 4 3 or"):
        LyricSpec.from_dict({"lang": "yue", "topic": "海", "structure": "1", "tones": ["平"]})
