"""Readings by metre: in a couplet of regulated verse (近體詩), a character whose two readings differ in tone class
(過 gwo1 平 "to call on" / gwo3 仄 "to pass"; 令 ling4 / ling6; 教 gaau1 / gaau3) takes the one its place in the
line's tone pattern asks for.

The pattern: in a line of five or seven characters the even places alternate (2 and 4 differ, 4 and 6 differ); the
two lines of a couplet are opposite at each even place; the couplet's second line rhymes on a level tone (平), its
first ends oblique (仄). A couplet is taken as regulated only when every other even place of both lines, and their
ends, keep the pattern (old-style verse, 古體, which keeps none of it, is left as read); a pair character's place is
then set by its neighbours.

>>> level = lambda reading: reading[-1] in "14" and reading[-2] not in "ptk"
>>> pairs = {"過": ("gwo1", "gwo3")}
>>> out = "bat1 ci4 saan1 lou6 jyun5 daap6 syut3 jaa5 soeng1 gwo3".split()
>>> by_metre("不辭山路遠，踏雪也相過", [*out[:5], None, *out[5:]], pairs, level)[-1]
'gwo1'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise

from .script import CJK_RUN

LINE_PLACES = {5: (2, 4), 7: (2, 4, 6)}  # the even places (1-based) that alternate, by line length


def by_metre(
    text: str,
    readings: Sequence[str | None],
    pairs: Mapping[str, tuple[str, str]],
    level: Callable[[str], bool],
) -> list[str | None]:
    """``readings`` of ``text`` (one per character) with each pair character of a regulated couplet set by metre:
    ``pairs`` maps a character to its (level, oblique) readings; ``level`` tells a reading's class."""
    out = list(readings)

    def tone(start: int, line: str, place: int) -> bool | None:
        """The class at ``place`` (1-based; True: level); None for a pair character or an unknown reading."""
        reading = out[start + place - 1]
        return None if line[place - 1] in pairs or reading is None else level(reading)

    lines = [(m.start(), m.group()) for m in CJK_RUN.finditer(text)]
    for first in range(0, len(lines) - 1, 2):
        couplet = lines[first], lines[first + 1]
        n = len(couplet[0][1])
        places = LINE_PLACES.get(n)
        if places is None or len(couplet[1][1]) != n or not _regulated(couplet, places, first == 0, tone, pairs):
            continue
        for (start, line), (other_start, other) in (couplet, couplet[::-1]):
            for place in (*places, n):
                pair = pairs.get(line[place - 1])
                if pair is None or out[start + place - 1] not in pair:
                    continue
                if place == n:  # the second line rhymes on a level tone where the first ends oblique
                    if start != couplet[1][0] or tone(other_start, other, n) is not False:
                        continue
                    wanted = True
                else:  # places two apart differ, four apart agree; the other line is opposite
                    votes = {known == ((q - place) % 4 == 0) for q in places
                             if q != place and (known := tone(start, line, q)) is not None}
                    if (opposite := tone(other_start, other, place)) is not None:
                        votes.add(not opposite)
                    if len(votes) != 1:
                        continue
                    wanted = votes.pop()
                out[start + place - 1] = pair[0] if wanted else pair[1]
    return out


def _regulated(couplet: tuple[tuple[int, str], tuple[int, str]], places: tuple[int, ...], opening: bool,
               tone: Callable[[int, str, int], bool | None], pairs: Mapping[str, tuple[str, str]]) -> bool:
    """Whether a couplet keeps the regulated pattern wherever its tones are fixed: every even place known but for
    pair characters, alternating along each line and opposite across the two; the second line ends level (or on a
    pair character), the first oblique unless the couplet opens the poem (whose first line may rhyme too)."""
    (a, line_a), (b, line_b) = couplet
    n = len(line_a)
    if tone(b, line_b, n) is False or (not opening and tone(a, line_a, n) is True):
        return False
    known = [[tone(start, line, q) for q in places] for start, line in couplet]
    for (_, line), tones in zip(couplet, known, strict=True):
        if any(t is None and line[q - 1] not in pairs for t, q in zip(tones, places, strict=True)):
            return False
        if any(x is not None and x == y for x, y in pairwise(tones)):
            return False
    return not any(x is not None and x == y for x, y in zip(*known, strict=True))
