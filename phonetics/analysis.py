"""``analyze(lyrics, lang)``: per line the syllables, line-final rhyme and tones; the rhyme scheme of the whole.

Lines end at newlines, at ``/``, and at clause punctuation (，。！？；：、 and their ASCII forms), so a verse
pasted on one line (床前明月光，疑是地上霜。) is read line by line.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .annotate import Syllable, annotate
from .languages import language
from .rhyme import scheme

LINE_BREAK = re.compile(r"[\n\r/／，。！？；：、,.!?;:]+")
_LETTERS = string.ascii_uppercase + string.ascii_lowercase
NO_RHYME = "-"  # the letter of a line with no readable final syllable


@dataclass(frozen=True)
class Line:
    text: str
    syllables: list[Syllable]  # every character of the line, syllable or not

    @property
    def sung(self) -> list[Syllable]:
        return [s for s in self.syllables if s.is_syllable]

    @property
    def syllable_count(self) -> int:
        return len(self.sung)

    @property
    def final_syllable(self) -> Syllable | None:
        sung = self.sung
        return sung[-1] if sung else None

    @property
    def rhyme(self) -> str | None:
        last = self.final_syllable
        return last.rhyme if last else None

    @property
    def tones(self) -> list[int | None]:
        return [s.tone for s in self.sung]

    @property
    def tone_pattern(self) -> str:
        """The line's tone classes, ``*`` where a reading is unknown: 平平仄仄平 / 3403."""
        return "".join(s.tone_class or "*" for s in self.sung)

    def to_dict(self) -> dict[str, Any]:
        last = self.final_syllable
        return {
            "text": self.text,
            "syllable_count": self.syllable_count,
            "final": last.char if last else None,
            "final_romanization": last.romanization if last else None,
            "rhyme": self.rhyme,
            "tones": self.tones,
            "tone_pattern": self.tone_pattern,
        }


@dataclass(frozen=True)
class Analysis:
    text: str
    lang: str
    scheme: str
    syllables: list[Syllable]
    lines: list[Line]
    register: str | None = None  # the register read in (Cantonese literary / written / colloquial): asked or guessed

    @property
    def rhyme_letters(self) -> str:
        """One letter per line, equal letters for lines whose final syllables share a rhyme group (AABA);
        ``-`` for a line with no readable final syllable."""
        letters: dict[str, str] = {}
        out = []
        for line in self.lines:
            if line.rhyme is None:
                out.append(NO_RHYME)
                continue
            if line.rhyme not in letters:
                letters[line.rhyme] = _LETTERS[len(letters)] if len(letters) < len(_LETTERS) else "?"
            out.append(letters[line.rhyme])
        return "".join(out)

    @property
    def rhyme_rate(self) -> float | None:
        """Share of lines with a readable final syllable whose rhyme group recurs in another line."""
        groups = [line.rhyme for line in self.lines if line.rhyme is not None]
        if not groups:
            return None
        counts = Counter(groups)
        return sum(counts[g] > 1 for g in groups) / len(groups)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "lang": self.lang,
            "scheme": self.scheme,
            "register": self.register,
            "syllables": [s.to_dict() for s in self.syllables],
            "lines": [line.to_dict() for line in self.lines],
            "rhyme_scheme": self.rhyme_letters,
            "rhyme_rate": self.rhyme_rate,
        }


def split_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the non-blank lines of ``text``."""
    spans, start = [], 0
    for brk in [*LINE_BREAK.finditer(text), None]:
        end = brk.start() if brk else len(text)
        chunk = text[start:end]
        if chunk.strip():
            lead = len(chunk) - len(chunk.lstrip())
            spans.append((start + lead, start + len(chunk.rstrip())))
        start = brk.end() if brk else end
    return spans


def analyze(lyrics: str, lang: str, scheme_name: str | None = None, register: str | None = None) -> Analysis:
    """Analyze lyrics line by line, in ``register`` (None: the one the lyrics are in, which the analysis reports).

    >>> a = analyze("床前明月光，疑是地上霜。举头望明月，低头思故乡。", "cmn")
    >>> a.rhyme_letters, [line.syllable_count for line in a.lines]
    ('AABA', [5, 5, 5, 5])
    >>> a = analyze("野火燒不盡，春風吹又生", "yue")
    >>> a.register, a.lines[1].final_syllable.romanization
    ('literary', 'sang1')
    """
    rhymes = scheme(lang, scheme_name)
    register = register or language(lang).register_of(lyrics)
    syllables = annotate(lyrics, lang, rhymes.name, register)
    lines = [Line(lyrics[a:b], syllables[a:b]) for a, b in split_lines(lyrics)]
    return Analysis(lyrics, lang, rhymes.name, syllables, lines, register)
