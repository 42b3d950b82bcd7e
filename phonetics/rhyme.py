"""Rhyme schemes and tone classes.

Mandarin: ``13zhe`` (十三辙) and ``14yun`` (中华新韵, fourteen groups), each a table of finals in
``phonetics/data``; tone class 平 for tones 1-2, 仄 for 3-4 (and the neutral tone, a short unstressed
syllable). Cantonese: ``strict`` (same final) and ``loose`` (same nucleus; a stop coda counts as its
homorganic nasal, -p~-m, -t~-n, -k~-ng); tone class the 0243 pitch level.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from . import cantonese
from .errors import PhoneticsError
from .script import is_cjk
from .tables import load_table

LANGS = ("cmn", "yue")
SCHEMES = {"cmn": ("13zhe", "14yun"), "yue": ("strict", "loose")}
DEFAULT_SCHEME = {"cmn": "13zhe", "yue": "strict"}

_CMN_TONE_CLASS = {1: "平", 2: "平", 3: "仄", 4: "仄", 5: "仄"}
_YUE_LEVELS = {int(k): v for k, v in load_table("cantonese")["pitch_levels_0243"].items()}
_LOOSE_PAIRS: dict[str, str] = load_table("cantonese")["loose_coda_pairs"]


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise PhoneticsError(f"unknown language {lang!r}: use one of {', '.join(LANGS)}")
    return lang


def tone_class(lang: str, tone: int) -> str:
    """Mandarin 平/仄; Cantonese 0243 pitch level as a digit string (tone 4 → '0', 6 → '2', 3/5 → '4',
    1/2 → '3')."""
    return _CMN_TONE_CLASS[tone] if lang == "cmn" else _YUE_LEVELS[tone]


def tone_classes(lang: str) -> tuple[str, ...]:
    """The tone-class alphabet of a language, in the order patterns write it."""
    return ("平", "仄") if lang == "cmn" else ("0", "2", "4", "3")


@dataclass(frozen=True, eq=False)  # one cached instance per scheme: identity is equality
class RhymeScheme:
    """Maps a syllable's final to its rhyme group under one scheme."""

    name: str
    lang: str
    title: str
    groups: tuple[str, ...]
    _final_to_group: dict[str, str]

    def group(self, final: str | None) -> str | None:
        """The rhyme group of ``final``; None when the final is unknown to the scheme."""
        if final is None:
            return None
        if self.lang == "cmn":
            return self._final_to_group.get(final)
        return _cantonese_group(self.name, final)

    @property
    def all_finals(self) -> tuple[str, ...]:
        """Every final the scheme assigns to a group."""
        return tuple(self._final_to_group)

    def resolve(self, pin: str) -> str:
        """A rhyme group named directly (江阳), by a final (``ang``, ``ong``) or by an example character
        (光: the group of its reading)."""
        if pin in self.groups:
            return pin
        if pin in self._final_to_group:
            return self.group(pin)  # type: ignore[return-value]
        if len(pin) == 1 and is_cjk(pin):
            from .annotate import annotate  # annotate depends on this module

            syllable = annotate(pin, self.lang, self.name)[0]
            if syllable.rhyme is None:
                raise PhoneticsError(f"no known reading for {pin!r}: pin the rhyme by a group name instead")
            return syllable.rhyme
        shown = ", ".join(self.groups[:20]) + (" ..." if len(self.groups) > 20 else "")
        raise PhoneticsError(
            f"unknown rhyme {pin!r} for scheme {self.name}: use a group ({shown}), a final, or one Chinese character"
        )


@cache
def scheme(lang: str, name: str | None = None) -> RhymeScheme:
    """The rhyme scheme ``name`` of ``lang`` (its default when None); a clear error for unknown ones."""
    check_lang(lang)
    name = name or DEFAULT_SCHEME[lang]
    if name not in SCHEMES[lang]:
        raise PhoneticsError(f"unknown rhyme scheme {name!r} for {lang}: use one of {', '.join(SCHEMES[lang])}")
    if lang == "cmn":
        table = load_table(f"rhyme_{name}")
        final_to_group = {f: g for g, finals in table["groups"].items() for f in finals}
        return RhymeScheme(name, lang, table["title"], tuple(table["groups"]), final_to_group)
    final_to_group = {f: _cantonese_group(name, f) for f in _cantonese_finals()}
    groups = tuple(dict.fromkeys(final_to_group.values()))
    title = "粵語韻母（同韻母）" if name == "strict" else "粵語寬韻（同韻腹，鼻音塞音韻尾相配）"
    return RhymeScheme(name, lang, title, groups, final_to_group)


def _cantonese_group(name: str, final: str) -> str:
    if name == "strict":
        return final
    nucleus, coda = cantonese.nucleus_and_coda(final)
    return nucleus + _LOOSE_PAIRS.get(coda, coda)


@cache
def _cantonese_finals() -> tuple[str, ...]:
    """Every final in the Cantonese dictionary, sorted by nucleus then coda."""
    finals = set()
    for reading in cantonese.lexicon().chars.values():
        try:
            finals.add(cantonese.split(reading)[1])
        except ValueError:
            continue
    return tuple(sorted(finals, key=cantonese.nucleus_and_coda))
