"""`tianci generate`: the shipped default model, and a real from_pretrained load of a directory the test saves."""

import json

import pytest

from lyrics.models import DEFAULT_MODEL

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


def test_the_old_pull_flags_still_work_with_a_one_line_warning(capsys, model_dir):
    from tianci.cli import build_parser, main

    args = build_parser().parse_args(["generate", "--topic", "月", "--keyword-bias", "9", "--melody-bias", "3"])
    assert (args.keyword_pull, args.melody_pull) == (9.0, 3.0) and not hasattr(args, "keyword_bias")
    capsys.readouterr()
    common = ["generate", "--topic", "月光", "--structure", "5A 5A", "-n", "2", "--seed", "3", "--json",
              "--model", str(model_dir), "--melody", "1 2 3 5 6 | 6 5 3 2 1"]
    assert main([*common, "--keyword-pull", "9", "--melody-pull", "3"]) == 0
    new = capsys.readouterr()
    assert main([*common, "--keyword-bias", "9", "--melody-bias", "3"]) == 0
    old = capsys.readouterr()
    assert old.out == new.out and "deprecated" not in new.err
    assert [line for line in old.err.splitlines() if "deprecated" in line] == [
        "warning: --keyword-bias is deprecated; use --keyword-pull",
        "warning: --melody-bias is deprecated; use --melody-pull"]
    assert main([*common, "--keyword-bias", "-1"]) == 2
    assert "--keyword-pull must be from 0 (off) to 100" in capsys.readouterr().err


def test_the_users_keywords_go_into_the_brief(cli, model_dir):
    out = cli("generate", "--topic", "夏天", "--keywords", "海浪、沙滩", "--structure", "5A 5A", "-n", "1",
              "--model", str(model_dir))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("keywords: 海浪、沙滩\n")  # a model without tables plans nothing more
    out = cli("generate", "--topic", "夏天", "--keywords", "sea", "--model", str(model_dir))
    assert out.returncode == 2 and "keywords: 'sea' is not 1-4 Chinese characters" in out.stderr


def test_generate_table_view_in_cantonese(cli, model_dir):
    out = cli("generate", "--topic", "海", "--lang", "yue", "--structure", "4A 4A", "-n", "1", "--seed", "1",
              "--model", str(model_dir))
    assert out.returncode == 0, out.stderr
    assert "candidate 1 · structure ✓ rhyme ✓\n" in out.stdout  # no tone mark: no tones were asked
    assert "Loading weights" not in out.stderr


def test_a_cantonese_melody_shows_its_levels_and_each_fit(cli, model_dir):
    out = cli("generate", "--lang", "yue", "--topic", "海", "--melody", "5 5 6 5 / 1' 7 6 5", "-n", "2", "--seed", "1",
              "--model", str(model_dir))
    assert out.returncode == 0, out.stderr
    assert "melody asks 0243 levels: 0020 / 3420" in out.stdout
    assert out.stdout.count("tone ✓ · melody fit 1.00") == 2  # exact levels: every transition follows the tune


def test_analyze_keeps_every_character_of_a_long_line_at_80_columns(cli):
    line = "床前明月光疑是地上霜举头望明月低头思故乡春眠不觉晓处处闻啼鸟"
    out = cli("analyze", line)
    assert out.returncode == 0, out.stderr
    assert all(c in out.stdout for c in line) and "…" not in out.stdout
    assert max(len(row) for row in out.stdout.splitlines()) <= 80


@pytest.mark.parametrize(("args", "message"), [
    (["--topic", "月", "--structure", "0A"], "structure: '0A' has 0 syllables"),
    (["--topic", "月", "--rhymes", "A=xyz"], "rhymes.A: unknown rhyme 'xyz'"),
    (["--topic", "月", "--tones", "平平"], "tones[0]: pattern '平平' has 2 positions"),
    (["--topic", "月", "--model", "/nonexistent/model"], "cannot load model '/nonexistent/model': no such folder"),
    (["--topic", "月", "--model", "models/tny"], "cannot load model 'models/tny': no such folder"),  # not a hub id
])
def test_generate_bad_input_is_one_line(cli, args, message):
    out = cli("generate", *args)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


@pytest.mark.parametrize(("lang", "topic", "structure"),
                         [("cmn", "月光", "7A 7A 7B 7A"), ("yue", "海港", "5A 5A 5B 5A")])
def test_the_default_model_writes_checked_verse(cli, lang, topic, structure):
    """No --model: the shipped models/tiny, trained by this repository's pipeline, with its hint lines."""
    out = cli("generate", "--lang", lang, "--topic", topic, "--structure", structure, "-n", "4", "--seed", "2",
              "--json")
    assert out.returncode == 0, out.stderr
    candidates = json.loads(out.stdout)["candidates"]
    assert len(candidates) == 4
    for candidate in candidates:
        assert candidate["checks"]["ok"], candidate
    texts = {c["lyrics"] for c in candidates}
    assert len(texts) == 4  # sampled, not one string repeated
    chars = "".join(texts).replace("\n", "")
    assert len(set(chars)) > len(chars) / 3  # not a few characters over and over


def test_the_default_model_is_a_small_safe_self_contained_folder():
    files = {p.name for p in DEFAULT_MODEL.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "tianci.json", "README.md"} <= files
    assert not [name for name in files if name.endswith((".bin", ".pt", ".pkl", ".pth"))]
    assert sum(p.stat().st_size for p in DEFAULT_MODEL.iterdir()) < 40 * 2**20
    assert json.loads((DEFAULT_MODEL / "tianci.json").read_text())["hints"] is True


def test_a_folder_with_only_pickle_weights_is_refused_in_one_line(cli, tmp_path, model_dir):
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    (folder / "config.json").write_text((model_dir / "config.json").read_text())
    out = cli("generate", "--topic", "月", "--model", str(folder))
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "only pickle weights (pytorch_model.bin), which are never loaded" in out.stderr


def test_the_default_model_writes_to_its_topic():
    """The keyword pull puts the plan (the user's keywords first, then whatever the model plans from the topic)
    into the lyrics; without the pull the same seed writes far fewer of the plan's characters."""
    from lyrics import generate
    from lyrics.models import load_model

    model, tokenizer = load_model(DEFAULT_MODEL, device="cpu")
    counts = {}
    for pull in (0.0, 4.0):
        hits = 0
        for topic, words in (("城市夜晚", "霓虹"), ("夏天的海边", "海浪"), ("生日快乐", "蛋糕")):
            spec = {"lang": "cmn", "topic": topic, "structure": "7A 7A 7B 7A", "keywords": words}
            for candidate in generate(model, tokenizer, spec, n=4, seed=1, keyword_pull=pull):
                assert candidate.checks.ok
                hits += len(set(candidate.lyrics) & set(words + topic.replace("的", ""))) >= 2
        counts[pull] = hits
    assert counts[4.0] >= 8 and counts[4.0] >= counts[0.0] + 4, counts  # of 12 candidates
