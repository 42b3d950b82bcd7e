"""Export: MIDI with a lyric event per note and MusicXML with the syllables under the notes, read back by mido
and by music21 (the reader MuseScore-like tools share); LRC timing; the CLI's --export."""

import json
import xml.etree.ElementTree as ET

import mido
import music21
import pytest

from lyrics import generate
from lyrics.decoding.melody import MelodyError, parse_numbered
from lyrics.export import export_candidates, lrc, musicxml, write_midi

from .conftest import run_cli

TUNE = "1 2 3 - 5 6 | / 5 #4 2 1 3,"  # 3 held two beats; #4 a sharp, 3, an octave down


@pytest.fixture(scope="module")
def written(char_model, char_tokenizer):
    melody = parse_numbered(TUNE)
    spec = {"lang": "cmn", "topic": "月光", "structure": "5A 5A"}
    [candidate] = generate(char_model, char_tokenizer, spec, n=1, seed=2, melody=melody)
    assert candidate.checks.ok
    return candidate.lyrics, melody


def test_midi_has_the_notes_and_a_syllable_on_each(written, tmp_path):
    lyrics, melody = written
    write_midi(tmp_path / "song.mid", lyrics, melody)
    track = mido.MidiFile(tmp_path / "song.mid", charset="utf-8").tracks[0]
    words = [m.text for m in track if m.type == "lyrics"]
    starts = [m.note for m in track if m.type == "note_on"]
    lengths = [m.time / 480 for m in track if m.type == "note_off"]
    assert words == list(lyrics.replace("\n", ""))
    assert starts == [60 + p for line in melody.lines for p in line]
    assert lengths == [b for line in melody.durations() for b in line] and lengths[2] == 2.0  # 3 - : two beats


def test_musicxml_reads_back_with_its_syllables_under_the_notes(written):
    lyrics, melody = written
    text = musicxml(lyrics, melody, title="月光")
    ET.fromstring(text.split("\n", 2)[2])  # well-formed past the declaration and doctype
    score = music21.converter.parse(text, format="musicxml")
    notes = list(score.recurse().notes)
    assert [n.lyric for n in notes] == list(lyrics.replace("\n", ""))
    assert [n.pitch.midi for n in notes] == [60 + p for line in melody.lines for p in line]
    assert [n.quarterLength for n in notes] == [b for line in melody.durations() for b in line]
    measures = list(score.recurse().getElementsByClass("Measure"))
    assert len(measures) == 2 and [m.duration.quarterLength for m in measures] == [6.0, 5.0]  # a line a measure


def test_lrc_times_each_line_and_a_mismatch_is_one_line(written):
    lyrics, melody = written
    first, second = lrc(lyrics, melody, tempo=60).splitlines()
    assert first.startswith("[00:00.00]") and second == f"[00:06.00]{lyrics.split(chr(10))[1]}"
    assert lrc(lyrics) == lyrics + "\n"  # no melody: the plain lines
    with pytest.raises(MelodyError, match="the lyrics have 5 4 syllables a line and the melody 5 5 notes"):
        lrc("床前明月光\n疑是地上", parse_numbered("1 2 3 4 5 / 1 2 3 4 5"))


def test_export_writes_every_format_per_candidate(written, tmp_path):
    lyrics, melody = written
    candidate = {"lyrics": lyrics, "checks": {"structure": True, "ok": True}, "tokens": 10}
    paths = export_candidates(tmp_path, {"topic": "月光"}, [candidate], melody, "月光")
    assert sorted(p.name for p in paths) == ["candidate-1.json", "candidate-1.lrc", "candidate-1.mid",
                                             "candidate-1.musicxml"]
    assert json.loads((tmp_path / "candidate-1.json").read_text())["spec"] == {"topic": "月光"}


def test_the_cli_exports_the_candidates(tmp_path):
    out = run_cli("generate", "--topic", "月光", "--melody", TUNE, "-n", "2", "--seed", "1", "--export",
                  str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    assert "exported 8 files" in out.stderr
    score = music21.converter.parse(str(tmp_path / "out" / "candidate-2.musicxml"))
    assert len(list(score.recurse().notes)) == 10
    bad = run_cli("generate", "--topic", "月光", "--export", "/proc/nope")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--export /proc/nope: cannot write" in bad.stderr
