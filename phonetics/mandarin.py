"""Mandarin readings: context-aware pinyin, and the split of a pinyin syllable into initial/final/tone.

Readings come from pypinyin's phrase dictionary (polyphones resolved per word: 银行 háng, 行走 xíng),
run on the simplified form of the text, since that dictionary is keyed on simplified phrases and
misreads many traditional ones (plain pypinyin reads 重慶 zhòng, 音樂 lè, 銀行 xíng).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from functools import lru_cache

from pypinyin import Style, lazy_pinyin
from pypinyin.constants import PHRASES_DICT, PINYIN_DICT
from pypinyin.contrib.tone_convert import to_tone3

from .script import CJK_RUN, convert
from .tables import load_table

_TABLE = load_table("mandarin")
_INITIALS = tuple(_TABLE["initials"])  # two-letter initials come first, so prefix matching is greedy
_APICAL = frozenset(_TABLE["apical_initials"])
_PALATAL = frozenset(_TABLE["palatal_initials"])
_ZERO_SPELLINGS: dict[str, str] = _TABLE["zero_initial_spellings"]
_ZERO_PREFIXES: dict[str, str] = _TABLE["zero_initial_prefixes"]
_CITATION: dict[str, str] = _TABLE["citation_readings"]
_SYLLABLE = re.compile(r"([a-zê]+)([1-5])")
_NASAL_SYLLABLES = frozenset({"m", "n", "ng", "hm", "hng"})


def readings(text: str) -> list[str | None]:
    """Pinyin (tone digit, ``v`` for ü, ``5`` neutral) per character of ``text``; None off CJK or unknown."""
    simplified = convert(text, "t2s")
    out: list[str | None] = [None] * len(text)
    for run in CJK_RUN.finditer(simplified):
        out[run.start():run.end()] = _run_readings(run.group())
    return out


@lru_cache(maxsize=1 << 19)  # the 21k Song ci hold 274k distinct runs
def _run_readings(run: str) -> tuple[str | None, ...]:
    """Readings of one run of CJK characters, cached: clauses repeat across a corpus."""
    syllables = _pypinyin(run)
    if len(syllables) != len(run):  # pypinyin kept unreadable characters as one item: go char by char
        syllables = [_pypinyin(c)[0] for c in run]
    return tuple(_citation(char, syl) for char, syl in zip(run, syllables, strict=True))


def _pypinyin(text: str) -> list[str]:
    # Unreadable characters come back as themselves and fail the syllable check in _citation.
    return lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)


def _citation(char: str, syllable: str | None) -> str | None:
    """Undo tone sandhi stored in phrases (一个 yi2 → yi1, 不要 bu2 → bu4); keep neutral tones."""
    if syllable is None or not _SYLLABLE.fullmatch(syllable):
        return None
    citation = _CITATION.get(char)
    if citation and syllable[:-1] == citation[:-1] and syllable[-1] != "5":
        return citation
    return sys.intern(syllable)  # a few thousand distinct syllables shared by every cached run


def reading_sets() -> dict[str, frozenset[str]]:
    """Every reading :func:`readings` can give each character (simplified keys), in any context: the
    character dictionary's and each phrase's. Constraint code allows a character only when all its
    readings qualify, so a reading chosen later from context cannot break a constraint."""
    found: dict[str, set[str]] = {}
    tone3: dict[str, str] = {}

    def add(char: str, marked: str) -> None:
        if (syllable := tone3.get(marked)) is None:
            syllable = tone3[marked] = to_tone3(marked, neutral_tone_with_five=True)
        if (syllable := _citation(char, syllable)) is not None:
            found.setdefault(char, set()).add(syllable)

    for code, marked in PINYIN_DICT.items():
        for reading in marked.split(","):
            add(chr(code), reading)
    for phrase, phrase_readings in PHRASES_DICT.items():
        for char, options in zip(phrase, phrase_readings, strict=False):
            for reading in options:
                add(char, reading)
    return {c: frozenset(r) for c, r in found.items()}


@lru_cache(maxsize=4096)
def split(syllable: str) -> tuple[str | None, str, int]:
    """``'zhuang1'`` → ``('zh', 'uang', 1)``; finals in their underlying form (``ju`` → ``v``, ``zhi`` → ``-i``,
    ``you`` → ``iu``, ``wen`` → ``un``), so that rhyme tables key on them."""
    match = _SYLLABLE.fullmatch(syllable)
    if match is None:
        raise ValueError(f"not a pinyin syllable with tone digit: {syllable!r}")
    body, tone = match.group(1), int(match.group(2))
    if body in _NASAL_SYLLABLES:  # interjections 呣 m, 嗯 n/ng, 哼 hng
        return ("h" if body.startswith("h") else None), body.removeprefix("h"), tone
    initial = next((i for i in _INITIALS if body.startswith(i) and len(body) > len(i)), None)
    if initial is None:
        if body in _ZERO_SPELLINGS:
            return None, _ZERO_SPELLINGS[body], tone
        glide = _ZERO_PREFIXES.get(body[0])
        return None, (glide + body[1:] if glide else body), tone
    rest = body[len(initial):]
    if initial in _PALATAL and rest.startswith("u"):
        rest = "v" + rest[1:]
    elif initial in _APICAL and rest == "i":
        rest = "-i"
    return initial, rest, tone


def rhyme_groups(scheme_name: str) -> tuple[tuple[str, ...], Callable[[str], str | None]]:
    """(groups, final → group) of the rhyme table ``phonetics/data/rhyme_<scheme_name>.json``."""
    table = load_table(f"rhyme_{scheme_name}")
    final_to_group = {final: group for group, finals in table["groups"].items() for final in finals}
    return tuple(table["groups"]), final_to_group.get
