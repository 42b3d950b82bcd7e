"""Independent checks of finished lyrics against their spec, by ``phonetics.analyze`` alone.

They share nothing with the decoding constraints but the spec, so a constraint bug shows up here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lyrics.decoding.spec import FREE, LyricSpec
from phonetics import analyze


@dataclass
class LineCheck:
    text: str
    syllables: int
    expected_syllables: int
    rhyme: str | None
    expected_rhyme: str | None  # the label's group: pinned, or its first line's
    tone_pattern: str
    expected_tones: str | None
    structure_ok: bool
    rhyme_ok: bool  # in the label's group, on a character no earlier line of the label ended on
    tone_ok: bool
    identical_rhyme: bool = False  # ends on the character an earlier line of its label ended on (重韵)


@dataclass
class Checks:
    structure: bool
    rhyme: bool
    tone: bool
    lines: list[LineCheck]
    relaxed: list[dict[str, Any]] = field(default_factory=list)  # [{"line": 3, "dropped": "tone"}]

    @property
    def ok(self) -> bool:
        return self.structure and self.rhyme and self.tone

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


def check_lyrics(lyrics: str, spec: LyricSpec) -> Checks:
    """Structure (line count, syllables per line, nothing but syllables), rhyme (every line of a label
    ends in one group, the pinned one if pinned, no two on the same character) and tone (each non-``*``
    position has its class)."""
    raw_lines = lyrics.split("\n")
    analysis = analyze(lyrics, spec.lang, spec.scheme)
    by_text = len(raw_lines) == len(spec.lines) and len(analysis.lines) == len(spec.lines)
    label_group: dict[str, str | None] = dict(spec.rhymes)
    label_finals: dict[str, set[str]] = {}
    out = []
    for i, line_spec in enumerate(spec.lines):
        line = analysis.lines[i] if by_text else None
        text = raw_lines[i] if i < len(raw_lines) else ""
        pattern = line.tone_pattern if line else ""
        structure_ok = bool(line) and line.syllable_count == line_spec.syllables and all(
            s.is_syllable for s in line.syllables)
        rhyme = line.rhyme if line else None
        expected = None
        rhyme_ok = True
        identical = False
        if line_spec.label:
            expected = label_group.setdefault(line_spec.label, rhyme)
            final = line.final_syllable.char if line and line.final_syllable else None
            identical = final is not None and final in label_finals.setdefault(line_spec.label, set())
            if final is not None:
                label_finals[line_spec.label].add(final)
            rhyme_ok = rhyme is not None and rhyme == expected and not identical
        tone_ok = not line_spec.tones or (len(pattern) == len(line_spec.tones) and all(
            want in (FREE, got) for want, got in zip(line_spec.tones, pattern, strict=True)))
        out.append(LineCheck(text, line.syllable_count if line else 0, line_spec.syllables, rhyme, expected,
                             pattern, line_spec.tones, structure_ok, rhyme_ok, tone_ok, identical))
    return Checks(
        structure=by_text and all(c.structure_ok for c in out),
        rhyme=all(c.rhyme_ok for c in out),
        tone=all(c.tone_ok for c in out),
        lines=out,
    )
