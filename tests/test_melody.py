"""Melody input: numbered notation and MIDI, the Cantonese 0243 constraints, generation that fits."""

import json

import mido
import pytest

from lyrics import generate
from lyrics.decoding.melody import Melody, MelodyError, melody_fit, parse_numbered, pitch_levels, read_midi


def test_numbered_notation_notes_octaves_holds_rests_and_line_ends():
    melody = parse_numbered("3 5 6 1' | 6 5 3 - / 2 0 3 #4 b7, 1,,")
    assert melody.lines == ((4, 7, 9, 12, 9, 7, 4), (2, 4, 6, -2, -24))
    assert melody.structure == "7 5"


def test_lines_come_from_two_bars_or_the_structure():
    assert parse_numbered("1 2 | 3 4 | 5 6 | 7 1'").structure == "4 4"
    assert parse_numbered("1234 5671'", [3, 5]).lines == ((0, 2, 4), (5, 7, 9, 11, 12))


@pytest.mark.parametrize(("text", "structure", "message"), [
    ("", None, "give notes in numbered notation"),
    ("0 - | 0", None, "no notes"),
    ("1 2 8", None, "cannot read '8'"),
    ("1 2 3", [2, 2], "3 notes but the structure asks for 4"),
])
def test_bad_melodies_say_what_to_change(text, structure, message):
    with pytest.raises(MelodyError, match=message):
        parse_numbered(text, structure)


@pytest.mark.parametrize(("notes", "levels"), [
    ((0, 0, 0), "000"),                       # the same note: the same level
    ((0, 2, 4, 5), "0243"),                   # four rising steps: every level once, low to high
    ((5, 4, 2, 0), "3420"),                   # falling
    ((0, 7), "04"),                           # a fifth up skips a level
    ((0, 2), "02"),                           # a step up does not
    ((0, 2, 4, 5, 7, 9), "002243"),           # six pitches: the closest neighbours share a level
])
def test_cantonese_levels_follow_the_melody(notes, levels):
    assert pitch_levels(notes, "yue") == levels


def test_the_levels_keep_every_direction_when_four_pitches_or_fewer():
    notes = (7, 7, 9, 7, 12, 4, 7)
    ranks = ["0243".index(level) for level in pitch_levels(notes, "yue")]
    for i in range(1, len(notes)):
        want = (notes[i] > notes[i - 1]) - (notes[i] < notes[i - 1])
        assert (ranks[i] > ranks[i - 1]) - (ranks[i] < ranks[i - 1]) == want


def test_a_midi_file_gives_its_melody_track(tmp_path):
    midi = mido.MidiFile(ticks_per_beat=480)
    chords, tune = mido.MidiTrack(), mido.MidiTrack()
    midi.tracks += [chords, tune]
    for note in (48, 52):  # an accompaniment with fewer notes
        chords += [mido.Message("note_on", note=note, velocity=60, time=0),
                   mido.Message("note_off", note=note, velocity=0, time=960)]
    phrase = [(60, 0), (62, 0), (64, 0), (60, 960), (67, 0), (65, 0)]  # a rest of two beats before the 4th note
    for note, rest in phrase:
        tune += [mido.Message("note_on", note=note, velocity=80, time=rest),
                 mido.Message("note_off", note=note, velocity=0, time=240)]
    path = tmp_path / "tune.mid"
    midi.save(path)
    assert read_midi(path).lines == ((0, 2, 4), (0, 7, 5))
    assert read_midi(path, [2, 4]).lines == ((0, 2), (4, 0, 7, 5))
    (tmp_path / "bad.mid").write_bytes(b"not midi")
    with pytest.raises(MelodyError, match="not a readable MIDI file"):
        read_midi(tmp_path / "bad.mid")


def test_fit_counts_transitions_that_follow_the_melody():
    melody = Melody(((0, 0, 7),))
    assert melody_fit("三三三", melody, "yue")["fit"] == 0.5  # 三 saam1 ×3: same, same (a rise is wanted)
    assert melody_fit("三三九", melody, "yue")["fit"] == 0.5  # 九 gau2 is at level 3 like 三: still no rise
    assert melody_fit("時時三", melody, "yue")["fit"] == 1.0  # 時 si4 (0), 時, then 三 (3): same, up


def test_generation_from_a_melody_fits_it(char_model, char_tokenizer):
    melody = parse_numbered("5 5 6 5 1' 7 / 5 5 6 5 2' 1'")
    spec = {"lang": "yue", "topic": "月光", "structure": "6A 6A",
            "tones": [pitch_levels(line, "yue") for line in melody.lines]}
    for candidate in generate(char_model, char_tokenizer, spec, n=3, seed=0):
        assert candidate.checks.ok, candidate.checks.to_dict()
        assert melody_fit(candidate.lyrics, melody, "yue")["fit"] == 1.0


def test_cli_generate_and_analyze_with_a_melody(cli, tmp_path, char_model, char_tokenizer):
    model_dir = tmp_path / "model"
    char_model.save_pretrained(model_dir)
    char_tokenizer.save_pretrained(model_dir)
    tune = "3 5 6 1' | 6 5 3 - / 2 3 5 5 3 2 1"
    out = cli("generate", "--lang", "yue", "--topic", "海", "--melody", tune, "-n", "2", "--seed", "3",
              "--model", str(model_dir), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["spec"]["structure"] == "7A 7A"
    assert result["spec"]["tones"] == ["0243420", "2433420"]
    lyrics = result["candidates"][0]["lyrics"]
    assert all(c["checks"]["ok"] for c in result["candidates"])
    out = cli("analyze", "--lang", "yue", "--melody", tune, "--json", lyrics.replace("\n", "/"))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["melody"]["fit"] == 1.0


@pytest.mark.parametrize(("args", "message"), [
    (["generate", "--topic", "月", "--melody", "1 2 3", "--tones", "平平仄"], "give --tones or a melody, not both"),
    (["generate", "--topic", "月", "--melody", "1 2 3", "--structure", "4A"], "3 notes but the structure asks for 4"),
    (["generate", "--topic", "月", "--midi", "/nonexistent.mid"], "--midi /nonexistent.mid: no such file"),
    (["analyze", "--melody", "1 2 3", "月光"], "line '月光': 2 syllables for 3 notes"),  # Mandarin too
    (["generate", "--topic", "月", "--melody", "1 2 3", "--melody-pull", "nan"], "--melody-pull must be from 0"),
    (["analyze", "--lang", "yue", "--melody", "1 2 3", "月光"], "line '月光': 2 syllables for 3 notes"),
])
def test_melody_bad_input_is_one_line(cli, args, message):
    out = cli(*args)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


# ---- Mandarin: cues from the tune, a soft pull, and the fit -------------------------------------------

def test_mandarin_cues_and_fit():
    from lyrics.decoding.melody import note_cues

    assert note_cues((0, 4, 9, 5, 2)) == [("low",), ("rise",), ("rise", "high"), ("fall",), ("fall", "low")]
    tune = Melody(((0, 4, 9, 5, 2),))
    # 好 hao3 low ✓, 玩 wan2 rise ✓, 天 tian1 rise (no say) + high ✓, 去 qu4 fall ✓, 海 hai3 fall (-) + low ✓
    fit = melody_fit("好玩天去海", tune, "cmn")
    assert fit["cued"] == 5 and fit["fit"] == 1.0 and fit["lines"][0]["tones"] == "32143"
    assert melody_fit("天去好玩天", tune, "cmn")["fit"] == 0.0  # every cue clashes: 1 low, 4 up, 3 high, 2 down, 1 low
    with pytest.raises(MelodyError, match="4 syllables for 5 notes"):
        melody_fit("好玩天去", tune, "cmn")


def test_the_mandarin_melody_pull_raises_the_fit_and_every_check_holds(char_model, char_tokenizer):
    tunes = [parse_numbered("1 3 5 1' 6 / 5 3 2 1 3 / 6 5 3 5 1' / 2 3 5 3 1"),
             parse_numbered("5 5 6 5 1' / 7 6 5 3 2 / 1 2 3 5 6 / 5 3 2 2 1")]
    fits = {}
    for strength in (0.0, 4.0):
        scores = []
        for k, tune in enumerate(tunes):
            spec = {"lang": "cmn", "topic": "月光", "structure": "5A 5A 5B 5A"}
            for c in generate(char_model, char_tokenizer, spec, n=4, seed=k, melody=tune, melody_pull=strength):
                assert c.checks.ok, c.checks.to_dict()
                scores.append(melody_fit(c.lyrics, tune, "cmn")["fit"])
        fits[strength] = sum(scores) / len(scores)
    assert fits[4.0] > fits[0.0] + 0.2, fits


def test_analyze_reports_the_mandarin_melody_fit(cli):
    out = cli("analyze", "--json", "--lang", "cmn", "--melody", "1 3 6 4 2", "好玩天去海")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["melody"]["fit"] == 1.0
