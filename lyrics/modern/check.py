"""The corpus check: every song is read by Tianci's own phonetics and must fit its brief exactly.

A song passes when its sections are the brief's, in order; every line holds only Chinese characters and has
its brief's syllable count; the chorus's rhyme lines end in the brief's group (read in context, Cantonese with
everyday readings, as modern lyrics are sung; in a language with registers, on any reading in the last
character's reading set, as sung Cantonese rhymes 乾淨 on zing6 or zeng6 and 三更 on gang1 or gaang1, and as the
constrained decoder keeps every reading of the set); the required words appear; a Cantonese song keeps its register
(colloquial: at least two colloquial characters; written: none); and it is no near-duplicate of a song kept
before it (more than half of the shorter song's lines shared). Each failure is one reason naming the line.

>>> brief = BriefSampler().brief("cmn", seed=1, index=0)
>>> song = Song(brief.id, "doc", brief, "[verse]\\n你好")
>>> CorpusCheck().add(song)[0]
'sections are verse; the brief asks for verse, pre-chorus, chorus'
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from lyrics.modern.briefs import SECTION_NAMES, Brief, BriefSampler
from phonetics import analyze, is_cjk, language, reading_sets, scheme, to_lang_script

MARKER = re.compile(r"^\[(" + "|".join(re.escape(name) for name in SECTION_NAMES) + r")\]$")
READ_REGISTER = {"yue": "colloquial"}  # modern lyrics are sung with everyday readings, not literary ones
SHARED_LINES_NEAR_DUPLICATE = 0.5


@dataclass(frozen=True)
class Song:
    id: str
    batch: str
    brief: Brief
    lyrics: str  # section markers and lines, newline-separated

    def to_dict(self) -> dict:
        return {"id": self.id, "batch": self.batch, "lang": self.brief.lang, "brief": self.brief.to_dict(),
                "lyrics": self.lyrics}

    @classmethod
    def from_dict(cls, data: dict) -> Song:
        return cls(data["id"], data["batch"], Brief.from_dict(data["brief"]), data["lyrics"])

    @cached_property
    def sections(self) -> list[tuple[str, list[str]]]:
        return parse_lyrics(self.lyrics)

    @property
    def lines(self) -> list[str]:
        return [line for _, lines in self.sections for line in lines]


def parse_lyrics(text: str) -> list[tuple[str, list[str]]]:
    """(section, lines) in order; lines stripped of surrounding spaces, blank ones dropped. Lines before any
    marker belong to a section named ``""``.

    >>> parse_lyrics("[verse]\\n月亮 \\n\\n星星\\n[chorus]\\n太阳")
    [('verse', ['月亮', '星星']), ('chorus', ['太阳'])]
    """
    sections: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if marker := MARKER.match(line):
            sections.append((marker.group(1), []))
        else:
            if not sections:
                sections.append(("", []))
            sections[-1][1].append(line)
    return sections


def normalise(lyrics: str, lang: str) -> str:
    """The lyrics in the language's script (Mandarin simplified, Cantonese Hong Kong traditional)."""
    return to_lang_script(lyrics.replace("\r\n", "\n"), lang)


def song_problems(song: Song, markers: str = "", min_markers: int = 0) -> list[str]:
    """Why ``song`` fails its brief (empty when it passes). ``markers``: the colloquial Cantonese characters."""
    brief = song.brief
    names = [name or "(no marker)" for name, _ in song.sections]
    wanted = [s.name for s in brief.form]
    if names != wanted:
        return [f"sections are {', '.join(names) or 'none'}; the brief asks for {', '.join(wanted)}"]
    problems = []
    for (name, lines), section in zip(song.sections, brief.form, strict=True):
        if len(lines) != len(section.lines):
            problems.append(f"[{name}] has {len(lines)} lines; the brief asks for {len(section.lines)}")
    if problems:
        return problems
    for line in song.lines:
        if bad := [c for c in line if not is_cjk(c)]:
            problems.append(f"line {line!r} has characters that are not Chinese: {''.join(dict.fromkeys(bad))!r}")
    if problems:
        return problems
    analysis = analyze("\n".join(song.lines), brief.lang, register=READ_REGISTER.get(brief.lang))
    read = iter(analysis.lines)
    for (name, lines), section in zip(song.sections, brief.form, strict=True):
        rhymed = set(section.rhyme_positions())
        for i, (line, want) in enumerate(zip(lines, section.lines, strict=True)):
            got = next(read)
            where = f"[{name}] line {i + 1} {line!r}"
            if got.syllable_count != want:
                problems.append(f"{where} has {got.syllable_count} syllables; the brief asks for {want}")
            if i in rhymed and got.rhyme != brief.rhyme and not _rhymes_sung(line[-1], brief.lang, brief.rhyme):
                last = got.final_syllable
                reading = last.romanization if last else None
                problems.append(f"{where} ends on {line[-1]} ({reading}, group {got.rhyme}), "
                                f"not the chorus rhyme {brief.rhyme} ({brief.rhyme_examples[:8]} ...)")
    text = "".join(song.lines)
    for word in brief.words:
        if to_lang_script(word, brief.lang) not in text:
            problems.append(f"the required word {word} is missing")
    if brief.register is not None:
        used = sum(text.count(m) for m in markers)
        if brief.register == "colloquial" and used < min_markers:
            problems.append(f"colloquial register with {used} colloquial characters ({markers}); "
                            f"use at least {min_markers}")
        if brief.register == "written" and used:
            found = "".join(dict.fromkeys(c for c in text if c in markers))
            problems.append(f"written register with colloquial characters {found}: write 的/了/在/不/他 instead")
    return problems


def _rhymes_sung(char: str, lang: str, group: str) -> bool:
    """Whether a line's last character may rhyme on ``group`` by another reading of its reading set: in a
    language with registers only (Cantonese literary/colloquial pairs: 淨 zeng6/zing6, 更 gaang1/gang1)."""
    if not language(lang).registers:
        return False
    rhymes = scheme(lang)
    split = language(lang).split
    return any(rhymes.group(split(r)[1]) == group for r in reading_sets(lang).get(to_lang_script(char, lang), ()))


@dataclass
class CorpusCheck:
    """Checks songs one after another, remembering the kept ones so later near-duplicates are caught."""

    sampler: BriefSampler = field(default_factory=BriefSampler)
    kept: list[Song] = field(default_factory=list)
    _songs_with_line: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _ids: set[str] = field(default_factory=set)

    def add(self, song: Song, revision: bool = False) -> list[str]:
        """Check ``song``; keep it when it passes. Returns the reasons it was rejected (empty: kept).
        ``revision``: a new version of a kept song, which replaces it (it is no near-duplicate of itself)."""
        if revision:
            self.forget(song.id)
        if song.id in self._ids:
            return [f"song id {song.id} is already in the corpus"]
        markers = self.sampler.tables["colloquial_markers_yue"]
        problems = song_problems(song, markers, self.sampler.tables["min_markers_colloquial"])
        if not problems and (twin := self.near_duplicate(song)):
            problems = [f"near-duplicate of {twin}: more than half of its lines are shared"]
        if not problems:
            self.remember(song)
        return problems

    def forget(self, song_id: str) -> None:
        """Drop a kept song (its revision is checked in its place)."""
        self.kept = [s for s in self.kept if s.id != song_id]
        self._ids.discard(song_id)
        for ids in self._songs_with_line.values():
            ids.discard(song_id)

    def remember(self, song: Song) -> None:
        """Keep ``song`` unchecked (one of the corpus already), so later songs are compared with it."""
        self.kept.append(song)
        self._ids.add(song.id)
        for line in set(song.lines):
            self._songs_with_line[line].add(song.id)

    def near_duplicate(self, song: Song) -> str | None:
        shared: Counter[str] = Counter()
        for line in set(song.lines):
            shared.update(self._songs_with_line.get(line, ()))
        lengths = {s.id: len(set(s.lines)) for s in self.kept if s.id in shared}
        for other, n in shared.most_common():
            if n > SHARED_LINES_NEAR_DUPLICATE * min(len(set(song.lines)), lengths[other]):
                return other
        return None

    def overused_lines(self, max_songs: int = 3) -> dict[str, int]:
        """Lines used by more than ``max_songs`` kept songs, with their counts."""
        return {line: len(ids) for line, ids in self._songs_with_line.items() if len(ids) > max_songs}
