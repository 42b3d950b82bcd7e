"""Bad input gets a clear result or a one-line error naming the valid choices; never a traceback."""

import pytest

from phonetics import PhoneticsError, analyze, annotate


@pytest.mark.parametrize("lang", ["cmn", "yue"])
@pytest.mark.parametrize("text", ["", "   ", "，。！？", "😀🎵", "hello world 123"])
def test_texts_without_syllables(text, lang):
    analysis = analyze(text, lang)
    assert all(line.syllable_count == 0 for line in analysis.lines)
    assert analysis.rhyme_rate is None
    assert set(analysis.rhyme_letters) <= {"-"}
    assert "".join(s.char for s in analysis.syllables) == text


@pytest.mark.parametrize("lang", ["cmn", "yue"])
def test_mixed_chinese_and_english(lang):
    analysis = analyze("I love you 我爱你\nbaby 别走 oh", lang)
    assert [line.syllable_count for line in analysis.lines] == [3, 2]
    assert analysis.lines[1].final_syllable.char == "走"


@pytest.mark.parametrize("lang", ["cmn", "yue"])
def test_a_100000_character_paste(lang):
    verse = "床前明月光，疑是地上霜。举头望明月，低头思故乡。\n"
    text = (verse * (100_000 // len(verse) + 1))[:100_000]
    analysis = analyze(text, lang)
    assert len(analysis.syllables) == 100_000
    assert sum(line.syllable_count for line in analysis.lines) == sum(s.is_syllable for s in analysis.syllables)


def test_oversized_text_is_refused_in_one_line():
    with pytest.raises(PhoneticsError, match="at most 1,000,000"):
        annotate("月" * 1_000_001, "cmn")


@pytest.mark.parametrize(("call", "message"), [
    (lambda: annotate("月", "fr"), "unknown language 'fr': use one of cmn, yue"),
    (lambda: annotate("月", "cmn", "loose"), "unknown rhyme scheme 'loose' for cmn: use one of 13zhe, 14yun"),
    (lambda: analyze("月", "yue", "13zhe"), "unknown rhyme scheme '13zhe' for yue: use one of strict, loose"),
    (lambda: annotate(None, "cmn"), "text must be a string"),
])
def test_errors_name_the_valid_choices(call, message):
    with pytest.raises(PhoneticsError) as err:
        call()
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("lang", ["cmn", "yue"])
def test_lone_surrogates_and_control_characters_are_kept_as_non_syllables(lang):
    text = "月\ud800光\udfff\x00\x1b亮\U0010ffff"
    analysis = analyze(text, lang)
    assert "".join(s.char for s in analysis.syllables) == text
    assert [s.char for s in analysis.syllables if s.is_syllable] == ["月", "光", "亮"]


@pytest.mark.parametrize(("args", "message"), [
    (["--temperature", "nan"], "--temperature must be a number above 0"),
    (["--temperature", "inf"], "--temperature must be a number above 0"),
    (["--temperature", "1e308"], "--temperature must be a number above 0 and at most 10"),
    (["--top-p", "0"], "--top-p must be above 0 and at most 1"),
    (["--top-p", "5"], "--top-p must be above 0 and at most 1"),
    (["--seed", str(2**70)], "seed: give an integer from 0 to"),
    (["--structure", ""], "structure: give lines as"),
    (["--keyword-pull", "-1"], "--keyword-pull must be from 0 (off) to 100"),
])
def test_generate_numbers_out_of_range_are_one_line_errors(cli, args, message):
    out = cli("generate", "--topic", "月", *args)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_analyze_escapes_markup_and_refuses_empty_text(cli):
    out = cli("analyze", "月光\\照我[bold]")
    assert out.returncode == 0 and "照" in out.stdout and "Traceback" not in out.stderr
    out = cli("analyze", "")
    assert out.returncode == 2 and "TEXT is empty" in out.stderr


def test_batch_refuses_a_negative_seed(cli, tmp_path):
    specs = tmp_path / "s.jsonl"
    specs.write_text('{"lang": "cmn", "topic": "月", "structure": "5"}\n')
    out = cli("batch", str(specs), str(tmp_path / "o.jsonl"), "--seed", "-3")
    assert out.returncode == 2 and "--seed must be 0 or more" in out.stderr


def test_analyze_reads_bytes_that_are_not_utf8(tmp_path):
    import subprocess
    import sys

    from .conftest import ROOT

    for args, data in ((["analyze", "--json", "-"], b"\xff\xfe\xe6\x9c\x88\xe5\x85\x89\n"),
                       (["analyze", "--json", b"\xff\xfe\xe6\x9c\x88".decode("utf-8", "surrogateescape")], None)):
        out = subprocess.run([sys.executable, "-m", "tianci.cli", *args], input=data, capture_output=True,
                             cwd=ROOT, timeout=120, check=False)
        assert out.returncode == 0 and b"Traceback" not in out.stderr, out.stderr
        assert "月" in out.stdout.decode("utf-8")


def test_a_scorer_is_refused_as_a_generator(cli):
    out = cli("generate", "--topic", "月", "--model", "models/scorer-tiny")
    assert out.returncode == 2 and "as a generator: it is a Qwen3ForSequenceClassification" in out.stderr


def test_a_spec_past_the_models_context_is_refused_in_one_line(cli):
    out = cli("generate", "--topic", "月", "--structure", " ".join(["30A"] * 64), "-n", "1")
    assert out.returncode == 2 and "this model reads at most 512" in out.stderr
    assert out.stderr.count("\n") == 1


def test_a_missing_scorer_path_is_not_sent_to_the_hub(cli, tmp_path):
    records = tmp_path / "in.jsonl"
    records.write_text('{"lang": "cmn", "topic": "月", "lyrics": "床前明月光"}\n')
    out = cli("score", str(records), str(tmp_path / "o.jsonl"), "--scorer", "/nonexistent")
    assert out.returncode == 2 and "--scorer /nonexistent: no such folder" in out.stderr
