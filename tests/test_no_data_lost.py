"""Writes never replace anything but a regular file the command owns; a batch OUT that is not this spec set's
results keeps its bytes; a repeated spec id is an error record, not a silent drop."""

from __future__ import annotations

import json
import os
import stat

import pytest

from lyrics.files import write_atomic
from phonetics.cache import NotARegularFile
from pipeline.batch import read_specs


@pytest.fixture
def device(tmp_path):
    """A character device like /dev/full (1, 7), made in a temporary folder."""
    path = tmp_path / "full"
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except PermissionError:
        pytest.fail("mknod needs root here (CI runs as root)")
    return path


def is_device(path) -> bool:
    return stat.S_ISCHR(os.stat(path).st_mode)


def test_atomic_writes_refuse_a_device_and_a_folder(device, tmp_path):
    with pytest.raises(NotARegularFile, match="not a regular file"):
        write_atomic(device, "x")
    assert is_device(device)
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(NotARegularFile):
        write_atomic(folder, "x")
    assert folder.is_dir() and not list(tmp_path.glob(".*tmp"))


def test_score_and_ratings_export_leave_a_device_alone(device, tmp_path, cli):
    records = tmp_path / "in.jsonl"
    records.write_text(json.dumps({"lang": "cmn", "topic": "月光", "lyrics": "床前明月光"}, ensure_ascii=False) + "\n")
    done = cli("score", str(records), str(device))
    assert done.returncode == 2 and "not a regular file" in done.stderr and is_device(device)
    done = cli("ratings", "export", str(device), "--db", str(tmp_path / "r.sqlite"))
    assert done.returncode == 2 and "not a regular file" in done.stderr and is_device(device)


@pytest.mark.parametrize("content", [b"\x7fELF\x02\x01\x01\x00binary", b"all:\n\techo hi\n",
                                     b'{"lang": "cmn", "topic": "x", "structure": "5"}\n'])
def test_batch_keeps_an_out_that_is_not_its_results(tmp_path, cli, content):
    specs = tmp_path / "specs.jsonl"
    specs.write_text(json.dumps({"id": "a", "lang": "cmn", "topic": "月光", "structure": "5A 5A"}) + "\n")
    out = tmp_path / "out.jsonl"
    out.write_bytes(content)
    done = cli("batch", str(specs), str(out), "--scorer", "none")
    assert done.returncode == 2 and "give a new OUT path" in done.stderr, done.stderr
    assert out.read_bytes() == content


def test_batch_refuses_results_of_other_specs(tmp_path, cli):
    specs = tmp_path / "specs.jsonl"
    specs.write_text(json.dumps({"id": "a", "lang": "cmn", "topic": "月光", "structure": "5A 5A"}) + "\n")
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": "zzz", "error": "x"}) + "\n")
    done = cli("batch", str(specs), str(out), "--scorer", "none")
    assert done.returncode == 2 and "results of other specs" in done.stderr


def test_a_repeated_id_is_an_error_record(tmp_path):
    specs = tmp_path / "specs.jsonl"
    spec = {"id": "a", "lang": "cmn", "topic": "月光", "structure": "5A 5A"}
    specs.write_text("\n".join(json.dumps(s) for s in (spec, {**spec, "topic": "海"}, {**spec, "id": "b"})) + "\n")
    items = read_specs(specs, 2)
    assert [item_id for item_id, _ in items] == ["a", "line-2", "b"]
    assert items[1][1] == "line 2: id 'a' is used by an earlier spec; give each spec its own id"


def test_score_marks_bad_records_with_their_line_and_scores_the_rest(tmp_path, cli):
    records = tmp_path / "in.jsonl"
    good = {"lang": "cmn", "topic": "月光", "lyrics": "床前明月光\n疑是地上霜"}
    lines = [json.dumps(good, ensure_ascii=False).encode(), json.dumps({**good, "lang": "xx"}).encode(),
             json.dumps({**good, "lyrics": ""}).encode(), "月光".encode("gbk") + b'"}',
             json.dumps({**good, "topic": "\ud800"}).encode()]  # an escaped lone surrogate: valid JSON
    records.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    done = cli("score", str(records), str(out))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert "scores" in rows[0] and rows[0]["scores"]["overall"] > 0
    assert rows[1]["error"] == "line 2: lang 'xx' is not supported; use one of cmn, yue"
    assert rows[2]["error"] == "line 3: empty lyrics; give the text to score"
    assert rows[3]["error"].startswith("line 4 is not UTF-8")
    assert rows[4]["topic"] == "\ufffd" and "scores" in rows[4]  # cleaned at the boundary, then scored
