"""`tianci generate --model DIR`: a real from_pretrained load of a model directory the test saves."""

import json

import pytest

from .conftest import tiny_qwen3


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, qwen_tokenizer):
    path = tmp_path_factory.mktemp("tiny-qwen3")
    tiny_qwen3(len(qwen_tokenizer), seed=1).save_pretrained(path)  # safetensors by default
    qwen_tokenizer.save_pretrained(path)
    return path


def test_generate_from_a_local_directory(cli, model_dir):
    out = cli("generate", "--topic", "月光", "--structure", "5A 5A 5B 5A", "--rhymes", "A=光", "-n", "3",
              "--seed", "4", "--tones", "平平仄仄平", "--model", str(model_dir), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["spec"]["rhymes"] == {"A": "光"} and len(result["candidates"]) == 3
    for candidate in result["candidates"]:
        assert candidate["checks"]["ok"], candidate
        lines = candidate["lyrics"].split("\n")
        assert [len(line) for line in lines] == [5, 5, 5, 5]
        rhymes = [line["rhyme"] for line in candidate["checks"]["lines"]]
        assert rhymes[0] == rhymes[1] == rhymes[3] == "江阳"  # the A lines


def test_generate_table_view_in_cantonese(cli, model_dir):
    out = cli("generate", "--topic", "海", "--lang", "yue", "--structure", "4A 4A", "-n", "1", "--seed", "1",
              "--model", str(model_dir))
    assert out.returncode == 0, out.stderr
    assert "candidate 1 · structure ✓ rhyme ✓ tone ✓" in out.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--topic", "月", "--structure", "0A"], "structure: '0A' has 0 syllables"),
    (["--topic", "月", "--rhymes", "A=xyz"], "rhymes.A: unknown rhyme 'xyz'"),
    (["--topic", "月", "--tones", "平平"], "tones[0]: pattern '平平' has 2 positions"),
    (["--topic", "月"], "no default model is shipped yet: pass --model"),
    (["--topic", "月", "--model", "/nonexistent/model"], "cannot load model '/nonexistent/model'"),
])
def test_generate_bad_input_is_one_line(cli, args, message):
    out = cli("generate", *args)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
