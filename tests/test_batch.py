"""`tianci batch`: good and bad specs in one file, results line by line, resume after a kill."""

import json
import signal
import subprocess
import sys
import time

import pytest

from lyrics import generation
from lyrics.decoding.spec import LyricSpec
from pipeline.batch import run_batch
from pipeline.results import finished_ids
from pipeline.writer import Writer

from .conftest import ROOT


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, char_model, char_tokenizer):
    path = tmp_path_factory.mktemp("char-model")
    char_model.save_pretrained(path)
    char_tokenizer.save_pretrained(path)
    return path


def _specs(path, count=6):
    lines = [json.dumps({"id": f"s{i}", "lang": "cmn" if i % 2 else "yue", "topic": f"月{i}",
                         "structure": "5A 5A" if i % 3 else "4A 4B 4A"}, ensure_ascii=False) for i in range(count)]
    lines.insert(2, '{"id": "bad-json", ')
    lines.insert(4, json.dumps({"id": "bad-spec", "lang": "cmn", "topic": "月", "structure": "0A"}))
    lines.insert(5, json.dumps({"lang": "fr", "topic": "x", "structure": "5"}))  # no id: line-6
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_good_and_bad_specs_each_get_a_line(cli, tmp_path, model_dir):
    specs, out = _specs(tmp_path / "specs.jsonl"), tmp_path / "out.jsonl"
    result = cli("batch", str(specs), str(out), "--model", str(model_dir), "-n", "2", "--batch-size", "4",
                 "--seed", "1")
    assert result.returncode == 0, result.stderr
    rows = {row["id"]: row for row in map(json.loads, out.read_text("utf-8").splitlines())}
    assert set(rows) == {"s0", "s1", "s2", "s3", "s4", "s5", "line-3", "bad-spec", "line-6"}  # unreadable: by line
    assert "line 3 is not JSON" in rows["line-3"]["error"]
    assert "structure: '0A' has 0 syllables" in rows["bad-spec"]["error"]
    assert "lang: 'fr' is not supported" in rows["line-6"]["error"]
    for i in range(6):
        row = rows[f"s{i}"]
        assert len(row["candidates"]) == 2 and all(c["checks"]["ok"] for c in row["candidates"])
        assert all(set(c["scores"]) == {"overall", "language", "relevance", "content"} for c in row["candidates"])
        assert row["lyrics"] == max(row["candidates"], key=lambda c: c["scores"]["overall"])["lyrics"]  # shipped scorer
        assert [len(x) for x in row["lyrics"].split("\n")] == ([5, 5] if i % 3 else [4, 4, 4])
    assert "9 items (0 already done), 3 errors" in result.stderr
    again = cli("batch", str(specs), str(out), "--model", str(model_dir))
    assert "9 items (9 already done)" in again.stderr
    assert len(out.read_text("utf-8").splitlines()) == 9  # nothing written twice


def test_specs_of_one_shape_share_a_model_call(tmp_path, char_model, char_tokenizer, monkeypatch):
    calls = []
    real = char_model.generate

    def counting(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(char_model, "generate", counting)
    specs = [LyricSpec.from_dict({"lang": "cmn", "topic": t, "structure": "5A 5A", "rhymes": {"A": "光"}})
             for t in ("春", "秋天的风", "海")]
    results = generation.Decoder(char_model, char_tokenizer).generate_many(specs, 2, seed=0)
    assert calls == [6]  # three prompts of different lengths, left-padded, two rows each, in one call
    assert [len(r) for r in results] == [2, 2, 2] and all(c.checks.ok for r in results for c in r)


def test_a_partial_last_line_is_cut_on_resume(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "a", "lyrics": "x"}\n{"id": "b", "lyr', encoding="utf-8")
    assert finished_ids(out) == {"a"}
    assert out.read_text("utf-8") == '{"id": "a", "lyrics": "x"}\n'


def test_resume_after_a_kill_loses_and_repeats_nothing(tmp_path, model_dir, char_model, char_tokenizer):
    specs, out = _specs(tmp_path / "specs.jsonl", count=40), tmp_path / "out.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "tianci.cli", "batch", str(specs), str(out), "--model",
                             str(model_dir), "-n", "2", "--batch-size", "2"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while proc.poll() is None and time.time() < deadline:
        if out.is_file() and out.read_text("utf-8").count("\n") >= 8:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the batch ended before it could be killed"
    before = finished_ids(out)
    assert 8 <= len(before) < 43
    summary = run_batch(Writer(char_model, char_tokenizer), specs, out, n=2, batch_size=8, progress=False)
    ids = [json.loads(line)["id"] for line in out.read_text("utf-8").splitlines()]
    assert len(ids) == len(set(ids)) == 43 and summary.skipped == len(before)


def test_a_line_that_is_not_utf8_is_an_error_record_and_the_batch_goes_on(tmp_path, char_model, char_tokenizer):
    specs, out = tmp_path / "specs.jsonl", tmp_path / "out.jsonl"
    good = json.dumps({"id": "ok", "lang": "cmn", "topic": "月", "structure": "5A 5A"}, ensure_ascii=False)
    specs.write_bytes(b'{"id": "latin1", "topic": "\xe9t\xe9"}\n' + good.encode("utf-8") + b"\n")
    summary = run_batch(Writer(char_model, char_tokenizer), specs, out, n=1, progress=False)
    rows = {row["id"]: row for row in map(json.loads, out.read_text("utf-8").splitlines())}
    assert rows["line-1"]["error"] == "line 1 is not UTF-8 (byte 28); save the specs as UTF-8"
    assert rows["ok"]["candidates"][0]["checks"]["ok"] and summary.errors == 1


@pytest.mark.parametrize(("specs", "out", "message"), [
    ("{tmp}", "{tmp}/out.jsonl", "is a folder; give a JSON Lines file of specs"),
    ("{tmp}/specs.jsonl", "{tmp}", "is a folder; give a file path for the results"),
    ("{tmp}/specs.jsonl", "/dev/full", "/dev/full: not a regular file"),
    ("{tmp}/specs.jsonl", "/proc/x.jsonl", "/proc/x.jsonl: cannot write there"),
])
def test_unusable_paths_are_one_line_errors_before_any_model_work(cli, tmp_path, specs, out, message):
    (tmp_path / "specs.jsonl").write_text('{"lang": "cmn", "topic": "月", "structure": "5"}\n', encoding="utf-8")
    result = cli("batch", specs.format(tmp=tmp_path), out.format(tmp=tmp_path), "--model", "/nonexistent")
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
