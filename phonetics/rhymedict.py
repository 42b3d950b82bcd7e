"""Rhyme dictionary: the characters of each rhyme group, ordered by how often the corpus uses them.

Counts are kept per (character, reading) as read in context, so a polyphone is counted under the
group of the reading it actually had (行 in 银行 under 江阳, in 行走 under 中东). Groups are derived
per scheme on demand, so one count table serves every scheme of its language. Characters are kept in
the script each language is written in here: simplified for Mandarin, Hong Kong traditional for
Cantonese; texts and queries in the other script are converted.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .annotate import annotate, split_romanization
from .errors import PhoneticsError
from .languages import language, to_lang_script
from .rhyme import scheme
from .script import is_cjk


@dataclass
class RhymeDictionary:
    lang: str
    counts: dict[str, dict[str, int]]  # char → {reading: occurrences}
    _groups: dict[str, dict[str, Counter[str]]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_texts(cls, texts: Iterable[str], lang: str) -> RhymeDictionary:
        language(lang)
        counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for text in texts:
            for syllable in annotate(to_lang_script(text, lang), lang):
                if syllable.romanization:
                    counts[syllable.char][syllable.romanization] += 1
        return cls(lang, {c: dict(r) for c, r in counts.items()})

    def to_json(self) -> str:
        """The dictionary as JSON text, as :meth:`load` reads it back."""
        return json.dumps({"lang": self.lang, "counts": self.counts}, ensure_ascii=False)

    @classmethod
    def load(cls, path: Path) -> RhymeDictionary:
        data = json.loads(path.read_text("utf-8"))
        return cls(data["lang"], data["counts"])

    def groups(self, scheme_name: str | None = None) -> dict[str, Counter[str]]:
        """Rhyme group → Counter of its characters, under one scheme."""
        rhymes = scheme(self.lang, scheme_name)
        if rhymes.name not in self._groups:
            groups: defaultdict[str, Counter[str]] = defaultdict(Counter)
            for char, readings in self.counts.items():
                for reading, n in readings.items():
                    if (group := rhymes.group(split_romanization(self.lang, reading)[1])) is not None:
                        groups[group][char] += n
            self._groups[rhymes.name] = dict(groups)
        return self._groups[rhymes.name]

    def members(self, group: str, scheme_name: str | None = None, limit: int | None = None) -> list[str]:
        """Characters of ``group`` (a name, a final, or an example character), commonest first."""
        rhymes = scheme(self.lang, scheme_name)
        counter = self.groups(rhymes.name).get(rhymes.resolve(group), Counter())
        return [c for c, _ in counter.most_common(limit)]

    def rhymes_with(
        self, char: str, scheme_name: str | None = None, limit: int | None = None
    ) -> list[tuple[str, str, list[str]]]:
        """(readings, group, rhyming characters) for each rhyme group ``char`` can take, its commonest
        reading's group first; readings of one group are joined by ``/`` (行 xing2/heng2 · 中东)."""
        if len(char) != 1 or not is_cjk(char):
            raise PhoneticsError(f"{char!r} is not one Chinese character: give a single character such as 光")
        rhymes = scheme(self.lang, scheme_name)
        char = to_lang_script(char, self.lang)
        readings = sorted(self.counts.get(char, {}).items(), key=lambda kv: -kv[1])
        if not readings:  # not in the corpus: its reading out of context
            only = annotate(char, self.lang, rhymes.name)[0]
            if only.romanization is None:
                raise PhoneticsError(f"no known reading for {char!r}")
            readings = [(only.romanization, 0)]
        by_group: dict[str, list[str]] = {}
        for reading, _ in readings:
            if (group := rhymes.group(split_romanization(self.lang, reading)[1])) is not None:
                by_group.setdefault(group, []).append(reading)
        out = []
        for group, group_readings in by_group.items():
            ranked = [c for c, _ in self.groups(rhymes.name).get(group, Counter()).most_common() if c != char]
            out.append(("/".join(group_readings), group, ranked[:limit] if limit is not None else ranked))
        return out
