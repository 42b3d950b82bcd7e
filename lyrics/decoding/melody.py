"""Melody input: numbered notation (简谱) as text or a MIDI file, turned into per-syllable constraints.

Numbered notation, tokens separated by spaces (or written together, ``3561'``):

- ``1``-``7``: scale degrees of the major scale; ``'`` after a note raises it an octave, ``,`` lowers it
  (repeatable: ``1''``); ``#`` or ``b`` before it raises or lowers a semitone;
- ``0``: a rest (no syllable); ``-``: holds the previous note (no new syllable);
- ``|``: a bar line; ``/`` or a newline: the end of a lyric line.

One syllable per note. Lines end at ``/`` and newlines; a melody without them is cut by the given
structure's syllable counts, else one line per two bars. A MIDI file gives its melody track (the track with
the most notes, drums aside; the highest note where notes start together); lines end at rests of a beat
or more.

Cantonese (0243): each line's notes become an exact pattern of 0243 levels (low to high 0 < 2 < 4 < 3,
see ``phonetics.tone_classes``) following the lyricists' practice:

1. the same note twice gives the same level; a rise gives a higher level; a fall a lower one;
2. the line's distinct pitches are ranked and mapped to levels low to high; a leap of a fourth (5
   semitones) or more between neighbouring distinct pitches skips a level when levels are left over;
3. a line with more than four distinct pitches merges the closest neighbouring pitches first (a step of
   a semitone or tone then asks for the same level: the usual compromise, so a few transitions of such
   lines cannot follow the melody).

Mandarin gets softer guidance (singing overrides lexical tone far more than in Cantonese): the melody sets
syllable counts and line breaks, and each note gives cues from the tone-melody rules of sung Mandarin
(``melody_cues`` in ``phonetics/data/mandarin.json``: a rise suits tone 2, a fall tone 4, a high note tone 1,
a low one tone 3), which :class:`lyrics.decoding.melody_pull.MelodyPull` turns into a soft pull while
decoding, with a pull the user sets.

:func:`melody_fit` measures how well lyrics follow a melody. Cantonese: the share of within-line transitions
whose direction (same, up, down) the syllables' 0243 levels share. Mandarin: over the syllables with a cue,
the share whose tone suits it (a clash counts 0, a tone the cue says nothing about 1/2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from phonetics import TianciError, analyze, language
from phonetics.tables import load_table

MAJOR = (0, 2, 4, 5, 7, 9, 11)  # semitones of degrees 1-7 above the tonic
LEAP = 5  # semitones: a fourth or more between neighbouring pitches skips a level
_TOKEN = re.compile(r"([#b]?)([0-7])([',]*)|(-)|(\|)|(/|\n)|(\s+)")
MAX_NOTES = 2000
MAX_OCTAVES = 4  # a note at most this many octaves from the tonic (MIDI keeps notes 0-127 around middle C)
MELODY_PULL = 2.0  # Mandarin's default pull (bench/melody_fit.py: fit 0.49 off, 0.92 at 2, checks all passing)
CUES: dict[str, dict[str, list[int]]] = load_table("mandarin")["melody_cues"]


class MelodyError(TianciError, ValueError):
    """A melody that cannot be read; one line saying what to change."""


@dataclass(frozen=True)
class Melody:
    lines: tuple[tuple[int, ...], ...]  # per lyric line, one pitch (semitones from the tonic) per syllable
    beats: tuple[tuple[float, ...], ...] | None = None  # per note, its length in beats (None: one beat each)

    @property
    def structure(self) -> str:
        return " ".join(str(len(line)) for line in self.lines)

    def durations(self) -> tuple[tuple[float, ...], ...]:
        return self.beats or tuple(tuple(1.0 for _ in line) for line in self.lines)


def _melody(lines: list[list[tuple[int, float]]]) -> Melody:
    kept = [line for line in lines if line]
    return Melody(tuple(tuple(p for p, _ in line) for line in kept), tuple(tuple(b for _, b in line) for line in kept))


def parse_numbered(text: str, structure: list[int] | None = None) -> Melody:
    """A melody in numbered notation; ``structure``: syllables per line, for a melody without line ends."""
    if not text or not text.strip():
        raise MelodyError('melody: give notes in numbered notation, e.g. "3 5 6 1\' | 6 5 3 -"')
    explicit = "/" in text or "\n" in text.strip()
    by_bars = not explicit and not structure
    lines: list[list[tuple[int, float]]] = [[]]  # (pitch, beats)
    last: list[tuple[int, float]] | None = None  # the line holding the last note, which a hold lengthens
    bars_in_line = 0
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise MelodyError(f"melody: cannot read {text[position:position + 8]!r} at character {position + 1}; "
                              "use notes 1-7 with ' or , for octaves, 0 rests, - holds, | bars, / line ends")
        position = match.end()
        accidental, degree, octaves, hold, bar, line_end, _space = match.groups()
        if degree is not None and degree != "0":  # a rest (0) or a hold (-) adds no syllable
            shift = octaves.count("'") - octaves.count(",")
            if abs(shift) > MAX_OCTAVES:
                where = "above" if shift > 0 else "below"
                raise MelodyError(f"melody: {match.group(0)!r} at character {match.start() + 1} is {abs(shift)} "
                                  f"octaves {where} the tonic; keep notes within {MAX_OCTAVES}")
            pitch = MAJOR[int(degree) - 1] + 12 * shift
            lines[-1].append((pitch + {"#": 1, "b": -1}.get(accidental, 0), 1.0))
            last = lines[-1]
        elif hold and last:
            last[-1] = (last[-1][0], last[-1][1] + 1.0)
        elif bar and by_bars:
            bars_in_line += 1
            if bars_in_line == 2:
                lines.append([])
                bars_in_line = 0
        elif line_end and explicit:
            lines.append([])
    notes = [note for line in lines for note in line]
    if not notes:
        raise MelodyError("melody: no notes (only rests, holds or bar lines); give notes 1-7")
    if len(notes) > MAX_NOTES:
        raise MelodyError(f"melody: {len(notes)} notes; at most {MAX_NOTES}")
    if structure and not explicit:
        return _melody(_cut(notes, structure))
    return _melody(lines)


def _cut(notes: list, structure: list[int]) -> list[list]:
    if sum(structure) != len(notes):
        raise MelodyError(f"melody: {len(notes)} notes but the structure asks for {sum(structure)} syllables; "
                          "make them equal or mark line ends with /")
    out, start = [], 0
    for count in structure:
        out.append(list(notes[start:start + count]))
        start += count
    return out


def read_midi(path: Path, structure: list[int] | None = None) -> Melody:
    """The melody track of a MIDI file (mido), one syllable per note, lines at rests of a beat or more."""
    import mido

    try:
        midi = mido.MidiFile(path)
    except (OSError, ValueError, EOFError, IndexError, KeyError) as err:  # a truncated file fails in any of these
        why = (str(err).splitlines() or [type(err).__name__])[0][:80]
        raise MelodyError(f"--midi {path}: not a readable MIDI file ({why}); give a complete .mid file") from None
    best: list[tuple[int, int, int]] = []  # (start tick, end tick, note)
    for track in midi.tracks:
        now, sounding, notes = 0, {}, []
        for message in track:
            now += message.time
            if message.type not in ("note_on", "note_off") or getattr(message, "channel", 0) == 9:
                continue
            if message.type == "note_on" and message.velocity > 0:
                sounding[message.note] = now
            elif message.note in sounding:
                notes.append((sounding.pop(message.note), now, message.note))
        if len(notes) > len(best):
            best = notes
    if not best:
        raise MelodyError(f"--midi {path}: no notes in any track")
    best.sort(key=lambda n: (n[0], -n[2]))
    melody = [n for i, n in enumerate(best) if i == 0 or n[0] != best[i - 1][0]]  # highest at each onset
    tonic = min(n[2] for n in melody)
    lines: list[list[tuple[int, float]]] = [[]]
    for i, (start, end, note) in enumerate(melody):
        if i and start - melody[i - 1][1] >= midi.ticks_per_beat and not structure:
            lines.append([])
        lines[-1].append((note - tonic, round((end - start) / midi.ticks_per_beat, 3)))
    if structure:
        return _melody(_cut([n for line in lines for n in line], structure))
    return _melody(lines)


def pitch_levels(pitches: tuple[int, ...], lang: str) -> str:
    """The pattern of ``lang``'s pitch levels a line of notes asks for (the rules in the module docstring), for a
    language whose melody fixes its tone classes (``melody_levels``: Cantonese 0243).

    >>> pitch_levels((0, 2, 4, 2, 0), "yue"), pitch_levels((0, 2, 7, 2), "yue")  # a leap of a fifth skips 4
    ('02420', '0232')
    """
    spoken = language(lang)
    if not spoken.melody_levels:
        raise MelodyError(f"{spoken.name} has no pitch levels for a melody to fix")
    order = spoken.tone_classes  # low to high
    distinct = sorted(set(pitches))
    groups = [[p] for p in distinct]
    while len(groups) > len(order):  # merge the closest neighbours first
        gaps = [groups[i + 1][0] - groups[i][-1] for i in range(len(groups) - 1)]
        i = gaps.index(min(gaps))
        groups[i:i + 2] = [groups[i] + groups[i + 1]]
    spare = len(order) - len(groups)
    rank, ranks = 0, {}
    for i, group in enumerate(groups):
        if i:
            leap = group[0] - groups[i - 1][-1] >= LEAP
            rank += 1 + (1 if leap and spare > 0 else 0)
            spare -= 1 if leap and spare > 0 else 0
        for pitch in group:
            ranks[pitch] = rank
    return "".join(order[ranks[p]] for p in pitches)


def melody_tones(melody: Melody, lang: str) -> list[str] | None:
    """Per line, the spec's tone pattern: exact 0243 levels for Cantonese; None for Mandarin (free)."""
    return [pitch_levels(line, lang) for line in melody.lines] if language(lang).melody_levels else None


def with_melody(fields: dict, *, text: str | None = None, midi: Path | None = None,
                structure_given: bool = False) -> tuple[dict, Melody]:
    """Spec fields (``lyrics.decoding.spec``) completed from a melody: its lines as the structure, all rhyming with
    label A, unless a structure was given (its syllable counts then cut the notes and must match them),
    and for Cantonese its 0243 levels as the tones."""
    from lyrics.decoding.spec import LyricSpec

    if fields.get("tones"):
        raise MelodyError("give --tones or a melody, not both: the melody sets the tones")
    counts = [line.syllables for line in LyricSpec.from_dict(fields).lines] if structure_given else None
    melody = read_midi(midi, counts) if midi is not None else parse_numbered(text or "", counts)
    if counts and [len(line) for line in melody.lines] != counts:
        raise MelodyError(f"the melody's lines have {melody.structure} notes but the structure asks for "
                          f"{' '.join(map(str, counts))} syllables")
    fields = dict(fields)
    if not structure_given:
        fields["structure"] = " ".join(f"{len(line)}A" for line in melody.lines)
    if tones := melody_tones(melody, fields["lang"]):
        fields["tones"] = tones
    return fields, melody


def note_cues(notes: tuple[int, ...]) -> list[tuple[str, ...]]:
    """Per note of a line, its Mandarin cues: ``rise`` / ``fall`` from the previous note, ``high`` / ``low``
    when it lies in the top or bottom third of a line spanning at least a third (3 semitones)."""
    low, high = min(notes), max(notes)
    span = high - low
    out = []
    for i, pitch in enumerate(notes):
        cues = []
        if i and pitch != notes[i - 1]:
            cues.append("rise" if pitch > notes[i - 1] else "fall")
        if span >= 3 and pitch >= high - span / 3:
            cues.append("high")
        elif span >= 3 and pitch <= low + span / 3:
            cues.append("low")
        out.append(tuple(cues))
    return out


def cue_score(tone: int | None, cues: tuple[str, ...]) -> float:
    """How well a Mandarin tone suits a note's cues: +1 per cue it suits, -1 per cue it clashes with."""
    if tone is None:
        return 0.0
    return float(sum((tone in CUES[c]["suits"]) - (tone in CUES[c]["clashes"]) for c in cues))


def melody_fit(text: str, melody: Melody, lang: str) -> dict:
    """How well lyrics follow a melody, per line and overall (the module docstring says how, per language)."""
    if language(lang).melody_levels:
        return _levels_fit(text, melody, lang)
    analysis = analyze(text, lang)
    _same_shape(analysis, melody)
    scored = total = 0.0
    lines = []
    for line, notes in zip(analysis.lines, melody.lines, strict=True):
        cues = note_cues(notes)
        tones = [s.tone for s in line.syllables if s.is_syllable]
        marks = [cue_score(t, c) for t, c in zip(tones, cues, strict=True) if c]
        good = sum(1.0 if m > 0 else 0.5 if m == 0 else 0.0 for m in marks)
        lines.append({"text": line.text, "tones": "".join(str(t or "?") for t in tones),
                      "cues": [list(c) for c in cues], "fit": good / len(marks) if marks else 1.0})
        scored, total = scored + good, total + len(marks)
    return {"fit": scored / total if total else 1.0, "cued": int(total), "lines": lines}


def _same_shape(analysis, melody: Melody) -> None:
    if len(analysis.lines) != len(melody.lines):
        raise MelodyError(f"the lyrics have {len(analysis.lines)} lines and the melody {len(melody.lines)}")
    for line, notes in zip(analysis.lines, melody.lines, strict=True):
        if line.syllable_count != len(notes):
            raise MelodyError(f"line {line.text!r}: {line.syllable_count} syllables for {len(notes)} notes")


def _levels_fit(text: str, melody: Melody, lang: str) -> dict:
    """Cantonese: per line and overall, the share of transitions between successive syllables whose direction
    (same, up, down) their 0243 levels share with the notes."""
    rank = {level: i for i, level in enumerate(language(lang).tone_classes)}
    analysis = analyze(text, lang)
    _same_shape(analysis, melody)
    matched = total = 0
    lines = []
    for line, notes in zip(analysis.lines, melody.lines, strict=True):
        pattern = line.tone_pattern
        good = 0
        for i in range(1, len(notes)):
            a, b = pattern[i - 1], pattern[i]
            want = (notes[i] > notes[i - 1]) - (notes[i] < notes[i - 1])
            good += a in rank and b in rank and (rank[b] > rank[a]) - (rank[b] < rank[a]) == want
        lines.append({"text": line.text, "levels": pattern, "melody": pitch_levels(notes, lang),
                      "fit": good / max(1, len(notes) - 1)})
        matched += good
        total += len(notes) - 1
    return {"fit": matched / max(1, total), "transitions": total, "lines": lines}
