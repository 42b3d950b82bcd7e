"""The language registry: everything that differs between the languages, in one place.

A language is a :class:`Language` record (its names, script, rhyme schemes, tone classes, registers) bound to
a :class:`Reader`, the code that reads its texts. Mandarin and Cantonese are read from the ``language`` block
of their tables (``phonetics/data/mandarin.json``, ``cantonese.json``) and bound to their reader modules
(:mod:`phonetics.mandarin`, :mod:`phonetics.cantonese`); :func:`register` adds another. Code elsewhere asks
the registry (:func:`language`, :func:`languages`) instead of testing a language code, as pypinyin keeps its
styles in a registry: tables are data, the logic reading them is shared.

>>> language("cmn").tone_class(3), language("yue").tone_class(2)
('仄', '3')
>>> language("yue").tone_classes, language("cmn").schemes
(('0', '2', '4', '3'), ('13zhe', '14yun'))
>>> language("yue").to_script("长")
'長'
>>> language("yue").register_of("佢聽日返工"), language("cmn").registers
('colloquial', ())
>>> tuple(language("yue").lyric_registers), language_codes()
(('written', 'colloquial'), ('cmn', 'yue'))
>>> language("eng")
Traceback (most recent call last):
...
phonetics.errors.PhoneticsError: unknown language 'eng': use one of cmn, yue
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType, ModuleType
from typing import Any, Protocol, runtime_checkable

from .errors import PhoneticsError
from .script import convert
from .tables import load_table

_READER_METHODS = ("readings", "register_of", "split", "reading_sets", "rhyme_groups")


@runtime_checkable
class Reader(Protocol):
    """What a language's reader provides (a module or any object): readings in context, the parts of a
    syllable, every reading a character can have, and the rhyme groups of its schemes."""

    REGISTERS: tuple[str, ...]  # registers whose readings differ (Cantonese literary, colloquial); () for one

    def readings(self, text: str, register: str | None = None) -> list[str | None]:
        """One romanized reading (or None: not CJK, or unknown) per character of ``text``, chosen in context."""
        ...

    def register_of(self, text: str) -> str | None:
        """The register ``text`` is read in when none is asked for; None where there is one register."""
        ...

    def split(self, syllable: str) -> tuple[str | None, str, int]:
        """(initial, final, tone) of one romanized syllable; ValueError for anything else."""
        ...

    def reading_sets(self) -> dict[str, frozenset[str]]:
        """Per character (in the language's script), every reading it can have in some context."""
        ...

    def rhyme_groups(self, scheme_name: str) -> tuple[tuple[str, ...], Callable[[str], str | None]]:
        """(the groups of a rhyme scheme, final → its group or None)."""
        ...


@dataclass(frozen=True, eq=False)  # one record per registration: identity is equality
class Language:
    code: str  # ISO 639-3: cmn, yue
    name: str  # in English: Mandarin
    native_name: str  # as prompts and training texts write it: 普通话, 粤语
    romanization: str  # pinyin, jyutping
    script: str  # the script its texts are kept in: simplified, traditional
    opencc: str  # the OpenCC conversion into that script
    schemes: tuple[str, ...]  # rhyme schemes, the default first
    scheme_titles: Mapping[str, str]  # scheme → its title
    tone_class_name: str  # the tone-class system: 平仄, 0243
    tone_class_word: str  # how training texts name it: 平仄, 0243音高
    tone_classes: tuple[str, ...]  # its alphabet, in the order patterns write it (with melody_levels: low to high)
    tone_class_of: Mapping[int, str]  # tone → its class
    reader: Reader
    melody_levels: bool = False  # whether a melody fixes each syllable's tone class (Cantonese 0243)
    # registers a lyric spec may ask for → how briefs name them (Cantonese written 书面语, colloquial 口语)
    lyric_registers: Mapping[str, str] = field(default_factory=dict)
    default_scheme: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.reader, Reader):
            missing = [n for n in ("REGISTERS", *_READER_METHODS) if not hasattr(self.reader, n)]
            raise PhoneticsError(f"language {self.code!r}: its reader lacks {', '.join(missing)}")
        if not self.schemes or not set(self.schemes) <= set(self.scheme_titles):
            raise PhoneticsError(f"language {self.code!r}: give at least one rhyme scheme, each with a title")
        if not set(self.tone_class_of.values()) <= set(self.tone_classes):
            raise PhoneticsError(f"language {self.code!r}: every tone's class must be one of its tone_classes")
        object.__setattr__(self, "default_scheme", self.schemes[0])

    def tone_class(self, tone: int) -> str:
        """Mandarin 平/仄; Cantonese 0243 pitch level as a digit string (tone 4 → '0', 6 → '2', 3/5 → '4',
        1/2 → '3')."""
        return self.tone_class_of[tone]

    @property
    def registers(self) -> tuple[str, ...]:
        """The registers whose readings differ (Cantonese: literary, written, colloquial); empty for one register."""
        return tuple(self.reader.REGISTERS)

    def register_of(self, text: str) -> str | None:
        """The register ``text`` is read in when none is asked for (None where the language has one)."""
        return self.reader.register_of(text)

    def readings(self, text: str, register: str | None = None) -> list[str | None]:
        """One romanized reading (or None) per character of ``text``, chosen in context (and in ``register``,
        one of :attr:`registers`; None: :meth:`register_of` the text)."""
        if register is not None and register not in self.registers:
            have = f"use one of {', '.join(self.registers)}" if self.registers else "it has none: leave it out"
            raise PhoneticsError(f"{self.name} has no register {register!r}: {have}")
        return self.reader.readings(text, register)

    def read_ahead(self, texts: Sequence[str], register: str | None = None) -> None:
        """Let the reader read ``texts`` ahead, all at once (Mandarin: the context model's questions in one batch);
        :meth:`readings` gives the same readings either way. A no-op for a reader without ``read_ahead``."""
        ahead = getattr(self.reader, "read_ahead", None)
        if ahead is not None:
            ahead(texts, register)

    def split(self, syllable: str) -> tuple[str | None, str, int]:
        """(initial, final, tone) of one romanized syllable."""
        return self.reader.split(syllable)

    def reading_sets(self) -> dict[str, frozenset[str]]:
        """Per character (in the language's script), every reading it can have in some context."""
        return self.reader.reading_sets()

    def rhyme_groups(self, scheme_name: str) -> tuple[tuple[str, ...], Callable[[str], str | None]]:
        """(the groups of a scheme, final → group) as the reader defines them."""
        return self.reader.rhyme_groups(scheme_name)

    def to_script(self, text: str) -> str:
        """``text`` in the script this language is written in here (one character per character)."""
        return convert(text, self.opencc)

    @property
    def label(self) -> str:
        """How choosers show it: the English name and the native one in its own script (Cantonese 粵語)."""
        return f"{self.name} {self.to_script(self.native_name)}"


def table_registers(table: str) -> tuple[str, ...]:
    """The registers whose readings differ, as the language's table names them (none: one register)."""
    return tuple(load_table(table)["language"].get("registers", ()))


class LazyReader:
    """A reader module imported on its first use, so that a command in one language does not load another's
    dictionaries (pypinyin and the context model; pycantonese). ``REGISTERS`` is given here, from the language's
    table as the module reads it (a test checks they agree), so that registering the language imports nothing."""

    def __init__(self, module: str, registers: tuple[str, ...]):
        self.name = module
        self.REGISTERS = registers

    @cached_property
    def module(self) -> ModuleType:
        return importlib.import_module(self.name)

    def readings(self, text: str, register: str | None = None) -> list[str | None]:
        return self.module.readings(text, register)

    def register_of(self, text: str) -> str | None:
        return self.module.register_of(text)

    def split(self, syllable: str) -> tuple[str | None, str, int]:
        return self.module.split(syllable)

    def reading_sets(self) -> dict[str, frozenset[str]]:
        return self.module.reading_sets()

    def rhyme_groups(self, scheme_name: str) -> tuple[tuple[str, ...], Callable[[str], str | None]]:
        return self.module.rhyme_groups(scheme_name)

    def read_ahead(self, texts: Sequence[str], register: str | None = None) -> None:
        ahead = getattr(self.module, "read_ahead", None)
        if ahead is not None:
            ahead(texts, register)


_REGISTRY: dict[str, Language] = {}
LANGUAGES: Mapping[str, Language] = MappingProxyType(_REGISTRY)  # code → language, live and read-only


def register(spoken: Language) -> Language:
    """Add a language to the registry (a one-line error if its code is taken); every caller sees it at once."""
    if not isinstance(spoken, Language):
        raise PhoneticsError(f"register a Language record, not {type(spoken).__name__}")
    if not isinstance(spoken.code, str) or not spoken.code.isidentifier():
        raise PhoneticsError(f"language code {spoken.code!r}: give a short name in letters, e.g. 'cmn'")
    if spoken.code in _REGISTRY:
        raise PhoneticsError(f"language {spoken.code!r} is registered already: unregister it first")
    _REGISTRY[spoken.code] = spoken
    return spoken


def unregister(code: str) -> Language:
    """Take a language out of the registry (the inverse of :func:`register`) and return it."""
    return _REGISTRY.pop(language(code).code)


def language(code: str) -> Language:
    """The registered language ``code`` (``cmn``, ``yue``); a one-line error for any other."""
    found = _REGISTRY.get(code) if isinstance(code, str) else None
    if found is None:
        raise PhoneticsError(f"unknown language {code!r}: use one of {', '.join(_REGISTRY)}")
    return found


def languages() -> tuple[Language, ...]:
    """Every registered language, in the order registered (Mandarin, Cantonese first)."""
    return tuple(_REGISTRY.values())


def language_codes() -> tuple[str, ...]:
    """The codes of :func:`languages`: the values a ``lang`` field or ``--lang`` option accepts."""
    return tuple(_REGISTRY)


def to_lang_script(text: str, lang: str) -> str:
    """``text`` in the script ``lang`` is written in here: Mandarin simplified, Cantonese Hong Kong traditional."""
    return language(lang).to_script(text)


def from_table(table: str, reader: Reader) -> Language:
    """The language described by the ``language`` block of ``phonetics/data/<table>.json``, read by ``reader``."""
    data: dict[str, Any] = load_table(table)
    info = data["language"]
    if info["default_scheme"] != info["schemes"][0]:
        raise PhoneticsError(f"{table}.json: the default scheme must come first in schemes")
    tones = data["tone_classes"] if "tone_classes" in data else data["pitch_levels_0243"]
    titles = data.get("scheme_titles") or {name: load_table(f"rhyme_{name}")["title"] for name in info["schemes"]}
    return Language(code=info["code"], name=info["name"], native_name=info["native_name"],
                    romanization=info["romanization"], script=info["script"], opencc=info["opencc"],
                    schemes=tuple(info["schemes"]), scheme_titles=MappingProxyType(dict(titles)),
                    tone_class_name=info["tone_class_name"], tone_class_word=info["tone_class_word"],
                    tone_classes=tuple(data["tone_class_order"]),
                    tone_class_of=MappingProxyType({int(k): v for k, v in tones.items()}), reader=reader,
                    melody_levels=bool(info["melody_levels"]),
                    lyric_registers=MappingProxyType(dict(info.get("lyric_registers", {}))))


register(from_table("mandarin", LazyReader("phonetics.mandarin", table_registers("mandarin"))))
register(from_table("cantonese", LazyReader("phonetics.cantonese", table_registers("cantonese"))))
