"""Lyrics out of Tianci: a MIDI file with one lyric event per note, MusicXML with the syllables under the notes
(opens in MuseScore with its words), LRC-style timed text, and JSON.

One syllable per note, in order: line ``i``'s characters go on line ``i``'s notes. MusicXML puts each lyric
line in a measure of its own, its time signature as long as the line (a line of 7 beats is a 7/4 measure), so
no note is split over a bar line. Pitches are semitones above the tonic (``Melody``); the tonic is middle C
unless given. Tempo: 90 beats a minute unless given.

>>> from lyrics.decoding.melody import parse_numbered
>>> lrc("床前明月光\\n疑是地上霜", parse_numbered("1 2 3 - 5 6 / 5 3 2 1 1"), tempo=60)
'[00:00.00]床前明月光\\n[00:06.00]疑是地上霜\\n'
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from lyrics.decoding.melody import Melody, MelodyError
from lyrics.files import replacing_file, write_atomic, write_json
from phonetics import is_cjk

TICKS_PER_BEAT = 480
MIDDLE_C = 60
TEMPO = 90
_STEPS = (("C", 0), ("C", 1), ("D", 0), ("D", 1), ("E", 0), ("F", 0), ("F", 1), ("G", 0), ("G", 1), ("A", 0),
          ("A", 1), ("B", 0))
_TYPES = {4.0: "whole", 3.0: "half", 2.0: "half", 1.5: "quarter", 1.0: "quarter", 0.75: "eighth", 0.5: "eighth",
          0.25: "16th"}
_DOTTED = {3.0, 1.5, 0.75}


def syllables(lyrics: str, melody: Melody) -> list[list[str]]:
    """Per melody line, the lyric line's characters; a one-line error when they do not fit the notes."""
    lines = [[c for c in line if is_cjk(c)] for line in lyrics.split("\n")]
    shape = [len(line) for line in melody.lines]
    if [len(line) for line in lines] != shape:
        raise MelodyError(f"the lyrics have {' '.join(str(len(x)) for x in lines)} syllables a line and the melody "
                          f"{' '.join(map(str, shape))} notes")
    return lines


def write_midi(path: Path, lyrics: str, melody: Melody, tonic: int = MIDDLE_C, tempo: int = TEMPO) -> None:
    """A type-0 MIDI file: the notes, a ``lyrics`` meta event (the syllable, UTF-8) just before each note."""
    import mido

    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0),
                            mido.MetaMessage("track_name", name="Tianci", time=0)])
    for chars, notes, beats in zip(syllables(lyrics, melody), melody.lines, melody.durations(), strict=True):
        for char, pitch, length in zip(chars, notes, beats, strict=True):
            track.append(mido.MetaMessage("lyrics", text=char, time=0))
            track.append(mido.Message("note_on", note=tonic + pitch, velocity=80, time=0))
            track.append(mido.Message("note_off", note=tonic + pitch, velocity=0, time=round(length * TICKS_PER_BEAT)))
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT, charset="utf-8")  # the lyrics as UTF-8 bytes
    midi.tracks.append(track)
    with replacing_file(path) as tmp:
        midi.save(str(tmp))


def musicxml(lyrics: str, melody: Melody, title: str = "", tonic: int = MIDDLE_C) -> str:
    """A MusicXML 4.0 score-partwise document: one part, a measure per lyric line, a syllable under each note."""
    divisions = 4  # per quarter note: sixteenths are the shortest length written exactly
    measures = []
    for number, (chars, notes, beats) in enumerate(zip(syllables(lyrics, melody), melody.lines, melody.durations(),
                                                       strict=True), 1):
        sixteenths = [max(1, round(b * divisions)) for b in beats]
        total = sum(sixteenths)
        beats_xml, beat_type = (total // 4, 4) if total % 4 == 0 else (total, 16)
        attributes = f"<time><beats>{beats_xml}</beats><beat-type>{beat_type}</beat-type></time>"
        if number == 1:
            attributes = (f"<divisions>{divisions}</divisions><key><fifths>0</fifths></key>{attributes}"
                          "<clef><sign>G</sign><line>2</line></clef>")
        body = [f'<measure number="{number}"><attributes>{attributes}</attributes>']
        for char, pitch, length in zip(chars, notes, sixteenths, strict=True):
            step, alter = _STEPS[(tonic + pitch) % 12]
            octave = (tonic + pitch) // 12 - 1
            kind = _TYPES.get(length / divisions)
            body.append("<note><pitch>" f"<step>{step}</step>" + (f"<alter>{alter}</alter>" if alter else "")
                        + f"<octave>{octave}</octave></pitch><duration>{length}</duration>"
                        + (f"<type>{kind}</type>" if kind else "") + ("<dot/>" if length / divisions in _DOTTED else "")
                        + f"<lyric><syllabic>single</syllabic><text>{escape(char)}</text></lyric></note>")
        body.append("</measure>")
        measures.append("".join(body))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" '
            '"http://www.musicxml.org/dtds/partwise.dtd">\n'
            '<score-partwise version="4.0">'
            f"<work><work-title>{escape(title)}</work-title></work>"
            '<part-list><score-part id="P1"><part-name>Voice</part-name></score-part></part-list>'
            f'<part id="P1">{"".join(measures)}</part></score-partwise>\n')


def lrc(lyrics: str, melody: Melody | None = None, tempo: int = TEMPO) -> str:
    """LRC-style text: each line after the time it starts at (``[mm:ss.xx]``) when there is a melody, else the
    plain lines."""
    lines = lyrics.split("\n")
    if melody is None:
        return "\n".join(lines) + "\n"
    syllables(lyrics, melody)
    out, beat = [], 0.0
    for line, beats in zip(lines, melody.durations(), strict=True):
        seconds = beat * 60 / tempo
        out.append(f"[{int(seconds // 60):02d}:{seconds % 60:05.2f}]{line}")
        beat += sum(beats)
    return "\n".join(out) + "\n"


def export_candidates(folder: Path, spec: dict, candidates: list[dict], melody: Melody | None = None,
                      title: str = "") -> list[Path]:
    """Per candidate ``i`` (1-based, best first as given): ``candidate-i.json`` (the spec and the candidate),
    ``candidate-i.lrc`` (timed with a melody; plain lines without), and with a melody ``candidate-i.mid`` and
    ``candidate-i.musicxml``; each written whole. Returns the paths written."""
    folder = Path(folder)
    written = []
    for i, candidate in enumerate(candidates, 1):
        stem = folder / f"candidate-{i}"
        write_json(stem.with_suffix(".json"), {"spec": spec, **candidate})
        write_atomic(stem.with_suffix(".lrc"), lrc(candidate["lyrics"], melody) if candidate["checks"]["structure"]
                     else candidate["lyrics"] + "\n")
        written += [stem.with_suffix(".json"), stem.with_suffix(".lrc")]
        if melody is not None and candidate["checks"]["structure"]:
            write_midi(stem.with_suffix(".mid"), candidate["lyrics"], melody)
            write_atomic(stem.with_suffix(".musicxml"), musicxml(candidate["lyrics"], melody, title))
            written += [stem.with_suffix(".mid"), stem.with_suffix(".musicxml")]
    return written
