"""The language registry: a reader is anything that keeps the Reader protocol, a language is added by register()
and every caller (analysis, rhyme schemes, the lyric spec, melodies, the CLI's choices, the demo's radios) sees it
without another file changing; an unknown code is one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lyrics.decoding.melody import MelodyError, melody_fit, parse_numbered, pitch_levels
from lyrics.decoding.spec import LyricSpec, SpecError
from phonetics import (
    PhoneticsError,
    Reader,
    analyze,
    annotate,
    cantonese,
    language,
    language_codes,
    languages,
    mandarin,
    reading_sets,
    register,
    scheme,
    unregister,
)
from phonetics.languages import Language
from tianci.cli import main

TOY_READINGS = {"月": "ngat1", "光": "kang2", "霜": "sang1", "天": "tin2", "风": "pung1"}
SYLLABLE = re.compile(r"(ng|[ptkmnsgl])?([a-z]+)([12])")


class ToyReader:
    """A made-up language of five characters, two tones and one register, read without context."""

    REGISTERS: tuple[str, ...] = ()

    def __init__(self, readings: dict[str, str] = TOY_READINGS) -> None:
        self.table = readings

    def readings(self, text: str, register: str | None = None) -> list[str | None]:
        return [self.table.get(char) for char in text]

    def register_of(self, text: str) -> None:
        return None

    def split(self, syllable: str) -> tuple[str | None, str, int]:
        match = SYLLABLE.fullmatch(syllable)
        if match is None:
            raise ValueError(f"not a toy syllable: {syllable!r}")
        return match.group(1), match.group(2), int(match.group(3))

    def reading_sets(self) -> dict[str, frozenset[str]]:
        return {char: frozenset([reading]) for char, reading in self.table.items()}

    def rhyme_groups(self, scheme_name: str) -> tuple[tuple[str, ...], Callable[[str], str | None]]:
        finals = tuple(dict.fromkeys(self.split(r)[1] for r in self.table.values()))
        return finals, lambda final: final if final in finals else None


def toy(reader: Reader | None = None, **changes) -> Language:
    fields = dict(code="tst", name="Toy", native_name="玩具语", romanization="toyping", script="simplified",
                  opencc="t2s", schemes=("same",), scheme_titles={"same": "同韵"}, tone_class_name="LH",
                  tone_class_word="高低", tone_classes=("L", "H"), tone_class_of={1: "H", 2: "L"},
                  reader=reader or ToyReader(), melody_levels=True)
    return Language(**{**fields, **changes})


@pytest.fixture
def registered() -> Iterator[Language]:
    spoken = register(toy())
    yield spoken
    unregister("tst")


def test_the_built_in_readers_keep_the_protocol():
    assert isinstance(mandarin, Reader) and isinstance(cantonese, Reader)
    assert [spoken.code for spoken in languages()] == ["cmn", "yue"] == list(language_codes())
    assert language("yue").reader.module is cantonese and language("cmn").reader.module is mandarin
    assert language("cmn").registers == mandarin.REGISTERS == () and language("yue").registers == cantonese.REGISTERS


def test_a_command_in_one_language_does_not_import_the_others_reader():
    code = ("import sys; from phonetics import analyze; analyze('床前明月光', 'cmn'); "
            "print('phonetics.cantonese' in sys.modules, 'pycantonese' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.split() == ["False", "False", "False"]


def test_a_registered_language_is_found_listed_and_read(registered):
    assert language("tst") is registered and languages()[-1] is registered and "tst" in language_codes()
    syllables = annotate("月光，风", "tst")
    assert [(s.romanization, s.final, s.tone_class, s.rhyme) for s in syllables if s.is_syllable] == [
        ("ngat1", "at", "H", "at"), ("kang2", "ang", "L", "ang"), ("pung1", "ung", "H", "ung")]
    analysis = analyze("天光\n风月\n霜光", "tst")
    assert analysis.scheme == "same" and analysis.rhyme_letters == "ABA"
    assert [line.tone_pattern for line in analysis.lines] == ["LL", "HH", "HL"]
    assert scheme("tst").resolve("光") == "ang" and reading_sets("tst")["霜"] == {"sang1"}
    spec = LyricSpec.from_dict({"lang": "tst", "topic": "月", "structure": "2A 2A", "rhymes": {"A": "光"},
                                "tones": ["LH"]})
    assert spec.scheme == "same" and spec.rhymes == {"A": "ang"} and spec.lines[0].tones == "LH"
    with pytest.raises(SpecError, match="not a tst register; leave it out"):
        LyricSpec.from_dict({"lang": "tst", "topic": "月", "structure": "2", "register": "written"})


def test_after_unregister_the_language_is_gone_and_a_new_record_is_not_served_stale_groups():
    register(toy())
    assert scheme("tst").groups == ("at", "ang", "in", "ung")
    unregister("tst")
    with pytest.raises(PhoneticsError, match="unknown language 'tst'"):
        analyze("月", "tst")
    register(toy(ToyReader({"月": "ngat1", "光": "ngat2"})))
    try:
        assert scheme("tst").groups == ("at",) and reading_sets("tst") == {"月": {"ngat1"}, "光": {"ngat2"}}
    finally:
        unregister("tst")


def test_the_cli_offers_and_analyses_a_registered_language(registered, capsys):
    assert main(["analyze", "--lang", "tst", "--json", "风光，月光"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["lang"] == "tst" and record["rhyme_scheme"] == "AA"
    assert [s["romanization"] for s in record["syllables"] if s["is_syllable"]] == ["pung1", "kang2", "ngat1", "kang2"]
    assert main(["analyze", "--lang", "tst", "天光"]) == 0
    table = capsys.readouterr().out
    assert "tst · scheme same" in table and "LH" in table and "光kang2" in table
    assert main(["analyze", "--lang", "tst", "--register", "literary", "天"]) == 2
    assert capsys.readouterr().err == ("tianci: error: --register is for Cantonese; Toy reads one way: "
                                       "leave it out\n")
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    usage = " ".join(capsys.readouterr().out.split())
    assert "--lang {cmn,yue,tst}" in usage and "tst: Toy" in usage and "tst: same (default same)" in usage


def test_without_registration_the_cli_refuses_the_code_in_one_line(capsys):
    assert main(["analyze", "--lang", "tst", "天"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--lang: invalid choice: 'tst'" in err and "cmn" in err and "yue" in err


def test_an_unknown_code_is_one_line_naming_the_known_ones():
    for code in ("eng", "", None, ["yue"]):
        with pytest.raises(PhoneticsError) as err:
            language(code)
        assert str(err.value) == f"unknown language {code!r}: use one of cmn, yue"


def test_register_refuses_a_taken_code_a_bad_code_and_a_reader_that_lacks_methods(registered):
    with pytest.raises(PhoneticsError) as err:
        register(toy())
    assert str(err.value) == "language 'tst' is registered already: unregister it first"
    with pytest.raises(PhoneticsError) as err:
        register(toy(code="two words"))
    assert str(err.value) == "language code 'two words': give a short name in letters, e.g. 'cmn'"

    class Mute:
        REGISTERS = ()

        def readings(self, text, register=None):
            return [None] * len(text)

    with pytest.raises(PhoneticsError) as err:
        toy(Mute(), code="mute")
    assert str(err.value) == "language 'mute': its reader lacks register_of, split, reading_sets, rhyme_groups"
    with pytest.raises(PhoneticsError, match="every tone's class must be one of its tone_classes"):
        toy(tone_class_of={1: "M"})
    assert language_codes() == ("cmn", "yue", "tst")


def test_the_melody_fixes_levels_in_the_order_the_language_gives(registered):
    assert pitch_levels((0, 3, 3, 0), "tst") == "LHHL"  # two levels: low and high, not Cantonese 0243
    fit = melody_fit("天光\n月风", parse_numbered("1 3 / 5 5"), "tst")
    assert [line["levels"] for line in fit["lines"]] == ["LL", "HH"] and fit["fit"] == 0.5
    with pytest.raises(MelodyError, match="Mandarin has no pitch levels for a melody to fix"):
        pitch_levels((0, 3), "cmn")


def test_the_demo_radios_list_the_registered_languages(registered):
    from tianci import demo  # gradio: only this test pays for its import

    assert demo.language_choices() == [("Mandarin", "cmn"), ("Cantonese", "yue"), ("Toy", "tst")]
    assert demo.language_choices(native=True)[1:] == [("Cantonese 粵語", "yue"), ("Toy 玩具语", "tst")]
    assert demo.register_choices() == ([("written 書面語", "written"), ("colloquial 口語", "colloquial")],
                                       "Cantonese register")
