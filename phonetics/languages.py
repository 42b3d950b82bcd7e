"""The language registry: everything that differs between Mandarin and Cantonese, in one place.

Each :class:`Language` is read from the ``language`` block of its table (``phonetics/data/mandarin.json``,
``cantonese.json``) and bound to its reader module; code elsewhere asks the registry instead of testing the
language code, as pypinyin keeps its styles in a registry.

>>> language("cmn").tone_class(3), language("yue").tone_class(2)
('仄', '3')
>>> language("yue").tone_classes, language("cmn").schemes
(('0', '2', '4', '3'), ('13zhe', '14yun'))
>>> language("yue").to_script("长")
'長'
>>> language("yue").register_of("佢聽日返工"), language("cmn").registers
('colloquial', ())
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from . import cantonese, mandarin
from .errors import PhoneticsError
from .script import convert
from .tables import load_table


@dataclass(frozen=True, eq=False)
class Language:
    code: str  # ISO 639-3: cmn, yue
    name: str  # in English: Mandarin
    native_name: str  # as prompts and training texts write it: 普通话, 粤语
    romanization: str  # pinyin, jyutping
    script: str  # the script its texts are kept in: simplified, traditional
    opencc: str  # the OpenCC conversion into that script
    schemes: tuple[str, ...]  # rhyme schemes, the default first
    default_scheme: str
    scheme_titles: dict[str, str]
    tone_class_name: str  # the tone-class system: 平仄, 0243
    tone_class_word: str  # how training texts name it: 平仄, 0243音高
    tone_classes: tuple[str, ...]  # its alphabet, in the order patterns write it
    melody_levels: bool  # whether a melody fixes each syllable's tone class (Cantonese 0243)
    _tone_to_class: dict[int, str]
    _reader: ModuleType

    def tone_class(self, tone: int) -> str:
        """Mandarin 平/仄; Cantonese 0243 pitch level as a digit string (tone 4 → '0', 6 → '2', 3/5 → '4',
        1/2 → '3')."""
        return self._tone_to_class[tone]

    @property
    def registers(self) -> tuple[str, ...]:
        """The registers whose readings differ (Cantonese: literary, colloquial); empty for one register."""
        return self._reader.REGISTERS

    def register_of(self, text: str) -> str | None:
        """The register ``text`` is read in when none is asked for (None where the language has one)."""
        return self._reader.register_of(text)

    def readings(self, text: str, register: str | None = None) -> list[str | None]:
        """One romanized reading (or None) per character of ``text``, chosen in context (and in ``register``,
        one of :attr:`registers`; None: :meth:`register_of` the text)."""
        if register is not None and register not in self.registers:
            have = f"use one of {', '.join(self.registers)}" if self.registers else "it has none: leave it out"
            raise PhoneticsError(f"{self.name} has no register {register!r}: {have}")
        return self._reader.readings(text, register)

    def split(self, syllable: str) -> tuple[str | None, str, int]:
        """(initial, final, tone) of one romanized syllable."""
        return self._reader.split(syllable)

    def reading_sets(self) -> dict[str, frozenset[str]]:
        """Per character (in the language's script), every reading it can have in some context."""
        return self._reader.reading_sets()

    def rhyme_groups(self, scheme_name: str) -> tuple[tuple[str, ...], Callable[[str], str | None]]:
        """(the groups of a scheme, final → group) as the reader module defines them."""
        return self._reader.rhyme_groups(scheme_name)

    def to_script(self, text: str) -> str:
        """``text`` in the script this language is written in here (one character per character)."""
        return convert(text, self.opencc)


def _language(reader: ModuleType, table: str) -> Language:
    data: dict[str, Any] = load_table(table)
    info = data["language"]
    tones = data["tone_classes"] if "tone_classes" in data else data["pitch_levels_0243"]
    titles = data.get("scheme_titles") or {name: load_table(f"rhyme_{name}")["title"] for name in info["schemes"]}
    return Language(code=info["code"], name=info["name"], native_name=info["native_name"],
                    romanization=info["romanization"], script=info["script"], opencc=info["opencc"],
                    schemes=tuple(info["schemes"]), default_scheme=info["default_scheme"], scheme_titles=titles,
                    tone_class_name=info["tone_class_name"], tone_class_word=info["tone_class_word"],
                    tone_classes=tuple(data["tone_class_order"]), melody_levels=bool(info["melody_levels"]),
                    _tone_to_class={int(k): v for k, v in tones.items()}, _reader=reader)


LANGUAGES: dict[str, Language] = {lang.code: lang for lang in (_language(mandarin, "mandarin"),
                                                                _language(cantonese, "cantonese"))}
LANGS = tuple(LANGUAGES)


def language(code: str) -> Language:
    """The registered language ``code`` (``cmn``, ``yue``); a one-line error for any other."""
    found = LANGUAGES.get(code) if isinstance(code, str) else None
    if found is None:
        raise PhoneticsError(f"unknown language {code!r}: use one of {', '.join(LANGS)}")
    return found


def to_lang_script(text: str, lang: str) -> str:
    """``text`` in the script ``lang`` is written in here: Mandarin simplified, Cantonese Hong Kong traditional."""
    return language(lang).to_script(text)
