"""Kept lines: given lines stay as written, the decoder writes the rest so rhymes, tones and structure hold
across all lines, on the character tokenizer and on the real Qwen3 tokenizer."""

import json

import pytest

from lyrics import generate
from lyrics.decoding.constraints import UnsatisfiableSpec
from lyrics.decoding.spec import LyricSpec, SpecError
from lyrics.generation import Decoder
from lyrics.models import DEFAULT_MODEL, load_model
from phonetics import analyze

from .conftest import run_cli

SPEC = {"lang": "cmn", "topic": "月光", "structure": "5A 5A 5B 5A"}


def rhyme_of(line: str, lang: str = "cmn") -> str:
    return analyze(line, lang).lines[0].rhyme


@pytest.mark.parametrize("which", ["char", "qwen"])
def test_kept_lines_stay_and_pin_their_label(which, char_model, char_tokenizer, qwen_model, qwen_tokenizer):
    model, tokenizer = (char_model, char_tokenizer) if which == "char" else (qwen_model, qwen_tokenizer)
    spec = {**SPEC, "keep": {"2": "疑是地上霜"}, "tones": ["*****", "*****", "*****", "平平仄仄平"]}
    candidates = generate(model, tokenizer, spec, n=4, seed=3)
    for c in candidates:
        lines = c.lyrics.split("\n")
        assert c.checks.ok, c.checks.to_dict()
        assert lines[1] == "疑是地上霜"  # kept as given
        assert {rhyme_of(lines[0]), rhyme_of(lines[3])} == {rhyme_of("疑是地上霜")} == {"江阳"}
        assert "霜" not in (lines[0][-1], lines[3][-1])  # no other A line ends on the kept line's character
    assert len({c.lyrics for c in candidates}) > 1  # the other lines are still written, not copied


def test_kept_lines_with_hints_and_cantonese_on_the_shipped_model():
    model, tokenizer = load_model(DEFAULT_MODEL, device="cpu")
    spec = {"lang": "yue", "topic": "海港", "structure": "5A 5A 5B 5A", "keep": {"1": "海港夜色長", "3": "燈火照歸人"}}
    for c in generate(model, tokenizer, spec, n=3, seed=1):  # the model writes a hint line before every line
        lines = c.lyrics.split("\n")
        assert c.checks.ok and lines[0] == "海港夜色長" and lines[2] == "燈火照歸人"
        assert rhyme_of(lines[1], "yue") == rhyme_of(lines[3], "yue") == rhyme_of("海港夜色長", "yue")


@pytest.mark.parametrize(("keep", "message"), [
    ({"1": "床前明月"}, "keep: line 1 ('床前明月') has 4 syllables; the structure asks for 5"),
    ({"5": "床前明月光"}, "keep: line '5' is not a line of the structure (1 to 4)"),
    ({"1": "床前明月光", "2": "疑是地上风"},
     "keep: line 2 ('疑是地上风') ends in 中东, but line 1 (kept) puts label A"),
    ({"1": "床前明月光", "4": "低头望月光"}, "keep: lines 1 and 4 both end on '光' (label A): an identical rhyme"),
    ({"3": "床前明月光!"}, "keep: line 3 ('床前明月光!') must be one line of Chinese characters only"),
    ("1:床前明月光", "keep: '1:床前明月光' should look like 1=床前明月光"),
])
def test_impossible_keeps_are_one_line_errors_naming_the_line(keep, message):
    with pytest.raises(SpecError) as err:
        LyricSpec.from_dict({**SPEC, "keep": keep})
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_kept_line_against_pinned_rhymes_and_tones():
    with pytest.raises(SpecError, match=r"keep: line 1 \('床前明月光'\) ends in 江阳, but rhymes.A puts label A "
                                        "in 中东"):
        LyricSpec.from_dict({**SPEC, "rhymes": {"A": "风"}, "keep": {"1": "床前明月光"}})
    with pytest.raises(SpecError, match=r"keep: line 1 \('床前明月光'\) has tones 平平平仄平; the line asks for 仄"):
        LyricSpec.from_dict({**SPEC, "tones": ["仄仄平平仄"], "keep": {"1": "床前明月光"}})


def test_a_kept_line_the_tokenizer_cannot_write_is_unsatisfiable(char_tokenizer):
    rare = next(c for c in "龘靐齉麤爨" if char_tokenizer.convert_tokens_to_ids(c) == char_tokenizer.unk_token_id)
    spec = LyricSpec.from_dict({**SPEC, "keep": {"3": f"明月{rare}山水"}})
    with pytest.raises(UnsatisfiableSpec, match=r"line 3 \(kept, '明月.山水'\): the tokenizer cannot write it"):
        Decoder(None, char_tokenizer).compile(spec)


def test_the_cli_keeps_lines_and_reports_them():
    out = run_cli("generate", "--topic", "月光", "--structure", "5A 5A 5B 5A", "--keep", "1=床前明月光,3=举头望明月",
                  "-n", "2", "--seed", "1", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["spec"]["keep"] == {"1": "床前明月光", "3": "举头望明月"}
    for c in result["candidates"]:
        lines = c["lyrics"].split("\n")
        assert c["checks"]["ok"] and lines[0] == "床前明月光" and lines[2] == "举头望明月"
    bad = run_cli("generate", "--topic", "月光", "--structure", "5A 5A", "--keep", "2=床前明月")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "keep: line 2" in bad.stderr


def test_a_batch_spec_keeps_its_lines(tmp_path, char_model, char_tokenizer):
    from pipeline.batch import run_batch
    from pipeline.writer import Writer

    specs = tmp_path / "specs.jsonl"
    specs.write_text(json.dumps({**SPEC, "id": "k", "keep": {"4": "低头思故乡"}}, ensure_ascii=False) + "\n"
                     + json.dumps({**SPEC, "id": "bad", "keep": {"4": "低头思故"}}, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    summary = run_batch(Writer(char_model, char_tokenizer), specs, tmp_path / "out.jsonl", n=2, seed=0,
                        progress=False)
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "out.jsonl").read_text("utf-8").splitlines())}
    assert summary.errors == 1 and "keep: line 4" in rows["bad"]["error"]
    assert all(c["lyrics"].split("\n")[3] == "低头思故乡" and c["checks"]["ok"] for c in rows["k"]["candidates"])
