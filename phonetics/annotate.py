"""``annotate(text, lang)``: one :class:`Syllable` per character, in order, nothing dropped."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from .errors import PhoneticsError
from .languages import Language, language
from .rhyme import RhymeScheme, scheme
from .script import is_cjk

MAX_CHARS = 1_000_000


@dataclass(frozen=True, slots=True)
class Syllable:
    """One character of the text. CJK characters are syllables; anything else (Latin, digits,
    punctuation, emoji, spaces) is kept in place with ``is_syllable`` False. A CJK character with no
    known reading is a syllable with ``romanization`` None (``known`` False)."""

    char: str
    romanization: str | None = None
    initial: str | None = None
    final: str | None = None
    tone: int | None = None
    rhyme: str | None = None
    tone_class: str | None = None
    is_syllable: bool = False

    @property
    def known(self) -> bool:
        return self.romanization is not None

    def to_dict(self) -> dict[str, Any]:
        # by hand, not dataclasses.asdict: it deep-copies every field, and --json writes one dict a character
        return {"char": self.char, "romanization": self.romanization, "initial": self.initial, "final": self.final,
                "tone": self.tone, "rhyme": self.rhyme, "tone_class": self.tone_class,
                "is_syllable": self.is_syllable, "known": self.romanization is not None}


def annotate(text: str, lang: str, scheme_name: str | None = None, register: str | None = None) -> list[Syllable]:
    """Annotate ``text`` as Mandarin (``cmn``) or Cantonese (``yue``) under a rhyme scheme, in ``register``
    (Cantonese ``literary``, ``written`` or ``colloquial``; None: the one the text is in, :meth:`Language.register_of`).

    >>> [s.romanization for s in annotate("银行", "cmn")]
    ['yin2', 'hang2']
    >>> annotate("光", "cmn")[0].rhyme, annotate("光", "cmn", "14yun")[0].rhyme
    ('江阳', '唐')
    >>> [s.tone_class for s in annotate("長大", "yue")]
    ['3', '2']
    """
    spoken = language(lang)
    rhyme_scheme = scheme(lang, scheme_name)
    if not isinstance(text, str):
        raise PhoneticsError(f"text must be a string, not {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise PhoneticsError(f"text has {len(text):,} characters; at most {MAX_CHARS:,} per call: split it")
    found = spoken.readings(text, register)
    return [_syllable(char, reading, rhyme_scheme) for char, reading in zip(text, found, strict=True)]


def split_romanization(lang: str, romanization: str) -> tuple[str | None, str, int]:
    """(initial, final, tone) of a pinyin (``cmn``) or jyutping (``yue``) syllable."""
    return language(lang).split(romanization)


def reading_sets(lang: str) -> dict[str, frozenset[str]]:
    """Per character, every reading ``annotate`` can give it in some context (Mandarin keys in
    simplified script, Cantonese in traditional)."""
    return _reading_sets(language(lang))


@cache  # per registered record, as rhyme schemes are
def _reading_sets(spoken: Language) -> dict[str, frozenset[str]]:
    return spoken.reading_sets()


@lru_cache(maxsize=1 << 16)
def _syllable(char: str, reading: str | None, rhyme_scheme: RhymeScheme) -> Syllable:
    """Syllables are immutable, so one instance serves every occurrence of a (char, reading)."""
    if reading is None:
        return Syllable(char, is_syllable=is_cjk(char))
    spoken = language(rhyme_scheme.lang)
    initial, final, tone = spoken.split(reading)
    return Syllable(char, reading, initial, final, tone, rhyme_scheme.group(final), spoken.tone_class(tone), True)
