"""Property-based fuzzing: any input to analysis, spec parsing, melody parsing and batch lines gets a result
or a one-line error of the project's own kind, never an exception. Strings cover every plane, control
characters and lone surrogates; 10,000 examples per target (2,000 for score records, which run the scorer's
text features)."""

import json
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lyrics.data.keywords import load_tables
from lyrics.decoding.melody import MelodyError, parse_numbered
from lyrics.decoding.spec import LyricSpec, SpecError
from lyrics.models import DEFAULT_MODEL
from phonetics import PhoneticsError, analyze
from pipeline.batch import read_specs
from scorer.features import FEATURES, text_features
from scorer.model import scorer_text
from scorer.scoring import read_records, score_slots

FUZZ = settings(max_examples=10_000, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
ANY_CHAR = st.characters(codec=None, exclude_categories=())  # every code point, surrogates and controls too
LYRIC_CHARS = st.sampled_from("月光天年风花雪夜，。！？\n/ 123abc𠀀😀\ud800\x00\x1b") | ANY_CHAR
TEXT = st.text(LYRIC_CHARS, max_size=40)
TABLES = load_tables(DEFAULT_MODEL)  # the shipped generator's keyword tables, which the scorer's features read


def _one_line(err: Exception) -> None:
    assert str(err) and "\n" not in str(err), repr(err)


@FUZZ
@given(text=TEXT, lang=st.sampled_from(["cmn", "yue"]))
def test_any_text_is_analysed(text, lang):
    analysis = analyze(text, lang)
    assert "".join(s.char for s in analysis.syllables) == text


SPEC_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | TEXT
    | st.sampled_from(["cmn", "yue", "7A 7A 7B 7A", "5A 5", "[verse] 5A 5A", "光", "江阳", "平平仄仄平", "0243"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT | st.sampled_from("AB"), children,
                                                                      max_size=3),
    max_leaves=6)
SPEC_KEYS = st.sampled_from(["lang", "topic", "structure", "rhymes", "tones", "scheme", "n", "seed", "id", "genre",
                             "keywords"])


@FUZZ
@given(data=st.dictionaries(SPEC_KEYS, SPEC_VALUES, max_size=8) | SPEC_VALUES)
def test_any_spec_is_parsed_or_refused_in_one_line(data):
    try:
        LyricSpec.from_dict(data)
    except SpecError as err:
        _one_line(err)


@FUZZ
@given(base=st.fixed_dictionaries({"lang": st.sampled_from(["cmn", "yue"]), "topic": st.sampled_from(["月", "海"]),
                                   "structure": st.sampled_from(["7A 7A", "5A 5B 5A"])}),
       extra=st.dictionaries(SPEC_KEYS, SPEC_VALUES, max_size=3))
def test_near_valid_specs_are_parsed_or_refused_in_one_line(base, extra):
    try:
        LyricSpec.from_dict({**base, **extra})
    except SpecError as err:
        _one_line(err)


MELODY = st.text(st.sampled_from("1234567 0-|/\n'#b,") | ANY_CHAR, max_size=60)


@FUZZ
@given(text=MELODY, structure=st.none() | st.lists(st.integers(1, 12), min_size=1, max_size=4))
def test_any_melody_is_parsed_or_refused_in_one_line(text, structure):
    try:
        melody = parse_numbered(text, structure)
    except MelodyError as err:
        _one_line(err)
        return
    assert melody.lines and all(melody.lines)


LINE = st.binary(max_size=60) | TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")) | st.builds(
    lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8", "surrogatepass"),
    st.dictionaries(SPEC_KEYS, SPEC_VALUES, max_size=5))


@FUZZ
@given(lines=st.lists(LINE.filter(lambda b: b"\n" not in b and b"\r" not in b), min_size=1, max_size=4))
def test_any_batch_line_becomes_a_spec_or_an_error_record(tmp_path, lines):
    path = tmp_path / "specs.jsonl"  # one file, rewritten for each example
    path.write_bytes(b"\n".join(lines) + b"\n")
    items = read_specs(path, 1)
    assert len(items) == sum(1 for line in lines if line.strip(string.whitespace.encode()))
    for _, item in items:
        if isinstance(item, str):
            assert item and "\n" not in item
        else:
            assert isinstance(item, LyricSpec)


def test_fuzz_targets_include_lone_surrogates():
    assert isinstance(analyze("\udc80月", "yue").lines[0].syllable_count, int)
    try:
        LyricSpec.from_dict({"lang": "cmn", "topic": "\ud800", "structure": "5"})
    except (SpecError, PhoneticsError) as err:
        _one_line(err)


RECORD_KEYS = st.sampled_from(["lyrics", "topic", "lang", "genre", "prompt", "spec", "candidates", "better", "worse",
                               "kind", "keywords"])
RECORD_VALUES = st.recursive(
    SPEC_VALUES | st.sampled_from(["床前明月光\n疑是地上霜", "", " ", "cmn", "yue", "xx"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(RECORD_KEYS, children, max_size=4),
    max_leaves=8)
RECORD_LINE = st.binary(max_size=60) | st.builds(
    lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8", "surrogatepass"),
    st.dictionaries(RECORD_KEYS, RECORD_VALUES, max_size=6))


@settings(FUZZ, max_examples=2_000)
@given(lines=st.lists(RECORD_LINE.filter(lambda b: b"\n" not in b and b"\r" not in b), min_size=1, max_size=3))
def test_any_score_record_is_read_and_featurised_or_marked(tmp_path, lines):
    """`tianci score`'s reading, every lyric it would score, and what the scorer computes from text (its input
    text and features) never fail: a bad line or record becomes an error record naming its line."""
    path = tmp_path / "records.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    records = read_records(path)
    assert len(records) == sum(1 for line in lines if line.strip(string.whitespace.encode()))
    slots = score_slots([r for r in records if "error" not in r])
    for record in records:
        assert isinstance(record, dict)
        if "error" in record:
            assert record["error"] and "\n" not in str(record["error"])
    for _, prompt, lyrics in slots:
        assert isinstance(scorer_text(prompt, lyrics), str)
        assert len(text_features(prompt, lyrics, TABLES)) == len(FEATURES)


@FUZZ
@given(data=st.fixed_dictionaries({"lang": st.sampled_from(["cmn", "yue"]), "topic": TEXT,
                                   "structure": st.just("5A 5A")},
                                  optional={"genre": SPEC_VALUES, "mood": SPEC_VALUES, "register": SPEC_VALUES,
                                            "keywords": SPEC_VALUES, "keep": SPEC_VALUES, "id": SPEC_VALUES}))
def test_every_spec_field_is_parsed_or_refused_in_one_line(data):
    """The fields users type (topic, genre, mood, register, keywords, kept lines, id), any value in each."""
    try:
        spec = LyricSpec.from_dict(data)
    except SpecError as err:
        _one_line(err)
        return
    assert spec.topic and "\ud800" not in spec.topic + (spec.genre or "") + (spec.mood or "")
