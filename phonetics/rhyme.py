"""Rhyme schemes and tone classes, as the language registry (:mod:`phonetics.languages`) defines them.

Mandarin: ``13zhe`` (十三辙) and ``14yun`` (中华新韵, fourteen groups), each a table of finals in
``phonetics/data``; tone class 平 for tones 1-2, 仄 for 3-4 (and the neutral tone, a short unstressed
syllable). Cantonese: ``strict`` (same final) and ``loose`` (same nucleus; a stop coda counts as its
homorganic nasal, -p~-m, -t~-n, -k~-ng); tone class the 0243 pitch level.

>>> scheme("cmn").resolve("光"), scheme("yue", "loose").group("ak")
('江阳', 'ang')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from .errors import PhoneticsError
from .languages import Language, language
from .script import is_cjk

__all__ = ["RhymeScheme", "scheme", "tone_class", "tone_classes"]


def tone_class(lang: str, tone: int) -> str:
    """Mandarin 平/仄; Cantonese 0243 pitch level as a digit string (tone 4 → '0', 6 → '2', 3/5 → '4',
    1/2 → '3')."""
    return language(lang).tone_class(tone)


def tone_classes(lang: str) -> tuple[str, ...]:
    """The tone-class alphabet of a language, in the order patterns write it."""
    return language(lang).tone_classes


@dataclass(frozen=True, eq=False)  # one cached instance per scheme: identity is equality
class RhymeScheme:
    """Maps a syllable's final to its rhyme group under one scheme."""

    name: str
    lang: str
    title: str
    groups: tuple[str, ...]
    _group_of: Callable[[str], str | None]

    def group(self, final: str | None) -> str | None:
        """The rhyme group of ``final``; None when the final is unknown to the scheme."""
        return None if final is None else self._group_of(final)

    def resolve(self, pin: str) -> str:
        """A rhyme group named directly (江阳), by a final (``ang``, ``ong``) or by an example character
        (光: the group of its reading)."""
        if pin in self.groups:
            return pin
        if (group := self.group(pin)) in self.groups:
            return group  # type: ignore[return-value]
        if len(pin) == 1 and is_cjk(pin):
            spoken = language(self.lang)
            reading = spoken.readings(pin)[0]
            group = self.group(spoken.split(reading)[1]) if reading else None
            if group is None:
                raise PhoneticsError(f"no known reading for {pin!r}: pin the rhyme by a group name instead")
            return group
        shown = ", ".join(self.groups[:20]) + (" ..." if len(self.groups) > 20 else "")
        raise PhoneticsError(
            f"unknown rhyme {pin!r} for scheme {self.name}: use a group ({shown}), a final, or one Chinese character"
        )


def scheme(lang: str, name: str | None = None) -> RhymeScheme:
    """The rhyme scheme ``name`` of ``lang`` (its default when None); a clear error for unknown ones."""
    spoken = language(lang)
    name = name or spoken.default_scheme
    if name not in spoken.schemes:
        raise PhoneticsError(f"unknown rhyme scheme {name!r} for {lang}: use one of {', '.join(spoken.schemes)}")
    return _scheme(spoken, name)


@cache  # per registered record, so a language registered again under its code is not served the old groups
def _scheme(spoken: Language, name: str) -> RhymeScheme:
    groups, group_of = spoken.rhyme_groups(name)
    return RhymeScheme(name, spoken.code, spoken.scheme_titles[name], groups, group_of)
