"""Hostile files and stores, each a one-line error (exit 2) saying what to change, or read as meant: the ratings
import's shapes and encodings, ratings stores that are not SQLite files, truncated MIDI, absurd octaves, spec and
record files saved as UTF-16 or with a byte-order mark."""

from __future__ import annotations

import json
import os
import sqlite3
import stat

import pytest

from lyrics.decoding.melody import parse_numbered
from lyrics.export import write_midi

RATING = {"prompt": "月光", "lyrics": "床前明月光", "overall": 4}


def one_line_error(done, says: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert says in done.stderr and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr


def jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), "utf-8")
    return str(path)


def stored(db) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT prompt, lyrics, overall, rater FROM ratings ORDER BY id").fetchall()


def test_ratings_import_reads_the_shapes_score_writes(cli, tmp_path):
    """A prompt object (as `tianci score` writes it) is kept as JSON; lyrics as a list of lines are joined."""
    db = tmp_path / "r.sqlite"
    rows = [{"prompt": {"topic": "月光", "lang": "cmn"}, "lyrics": "床前明月光", "overall": 4},
            {"prompt": "海", "lyrics": ["潮水退了", "沙上留着脚印"], "overall": 3, "language": 4}]
    done = cli("ratings", "import", jsonl(tmp_path / "in.jsonl", rows), "--db", str(db))
    assert done.returncode == 0 and "imported 2 ratings" in done.stdout, done.stderr
    (prompt, _, _, _), (_, lyrics, _, _) = stored(db)
    assert json.loads(prompt) == {"topic": "月光", "lang": "cmn"} and lyrics == "潮水退了\n沙上留着脚印"


@pytest.mark.parametrize(("row", "says"), [
    ({**RATING, "rater": {"name": "x"}}, "row 1: rater: give text, not dict"),
    ({**RATING, "lyrics": [1, 2]}, "row 1: lyrics: give text, not list"),
    ({"prompt": "月光", "lyrics": "床前明月光"}, "row 1: no scores; give at least one of overall"),
    ({**RATING, "overall": None, "language": ""}, "row 1: no scores"),
])
def test_ratings_import_refuses_bad_rows_and_stores_nothing(cli, tmp_path, row, says):
    db = tmp_path / "r.sqlite"
    done = cli("ratings", "import", jsonl(tmp_path / "in.jsonl", [RATING, row]), "--db", str(db))
    one_line_error(done, says.replace("row 1", "row 2"))
    assert stored(db) == []  # all or none


@pytest.mark.parametrize(("name", "data", "says"), [
    ("gbk.csv", "prompt,lyrics,overall\n月光,床前明月光,4\n".encode("gbk"), "line 2 is not UTF-8"),
    ("binary.jsonl", b"\x00\x9f\x92\x96\xff\xfe\x00\x01" * 8, "line 1 is not UTF-8"),
])
def test_ratings_import_refuses_files_that_are_not_utf8(cli, tmp_path, name, data, says):
    path = tmp_path / name
    path.write_bytes(data)
    one_line_error(cli("ratings", "import", str(path), "--db", str(tmp_path / "r.sqlite")), says)


def test_ratings_import_reads_a_csv_with_a_byte_order_mark(cli, tmp_path):
    """Excel saves CSV as UTF-8 with a byte-order mark: the first column is still "prompt"."""
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffprompt,lyrics,overall\n月光,床前明月光,4\n".encode())
    done = cli("ratings", "import", str(path), "--db", str(tmp_path / "r.sqlite"))
    assert done.returncode == 0 and stored(tmp_path / "r.sqlite") == [("月光", "床前明月光", 4.0, "")], done.stderr


def test_a_ratings_store_that_is_not_a_sqlite_file_is_refused_and_kept(cli, tmp_path):
    rows = jsonl(tmp_path / "in.jsonl", [RATING])
    folder = tmp_path / "folder"
    folder.mkdir()
    one_line_error(cli("ratings", "import", rows, "--db", str(folder)), "not a regular file")
    device = tmp_path / "full"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    one_line_error(cli("ratings", "mos", "--db", str(device)), "not a regular file")
    assert stat.S_ISCHR(os.stat(device).st_mode)
    text = tmp_path / "notes.sqlite"
    text.write_bytes(b"my notes, not a database" * 100)
    one_line_error(cli("ratings", "import", rows, "--db", str(text)), "cannot use it as the ratings store")
    assert text.read_bytes() == b"my notes, not a database" * 100
    one_line_error(cli("ratings", "import", rows, "--db", str(text / "r.sqlite")), "cannot write there")


def test_ratings_mos_reports_the_write_tabs_ratings(cli, tmp_path):
    db = tmp_path / "r.sqlite"
    rows = [{**RATING, "model": "tiny", "overall": 4}, {**RATING, "model": "tiny", "overall": 2, "language": 5}]
    assert cli("ratings", "import", jsonl(tmp_path / "in.jsonl", rows), "--db", str(db)).returncode == 0
    done = cli("ratings", "mos", "--db", str(db))
    assert "rated tiny: overall 3.00 ± 1.96, language 5.00 ± inf (95%, 2 ratings)" in done.stdout, done.stdout
    report = json.loads(cli("ratings", "mos", "--db", str(db), "--json").stdout)
    assert report["ratings"]["tiny"]["overall"] == {"mos": 3.0, "ci95": 1.96, "ratings": 2}


def test_a_truncated_midi_is_one_line(cli, tmp_path):
    whole = tmp_path / "whole.mid"
    write_midi(whole, "月光照我\n风吹过来", parse_numbered("1 2 3 5 / 5 3 2 1"))
    cut = tmp_path / "cut.mid"
    for size in (4, 20, len(whole.read_bytes()) - 3):
        cut.write_bytes(whole.read_bytes()[:size])
        one_line_error(cli("generate", "--topic", "月", "--midi", str(cut)), "not a readable MIDI file")


def test_an_absurd_octave_is_refused_before_any_work_or_export(cli, tmp_path):
    export = tmp_path / "export"
    done = cli("generate", "--topic", "月", "--melody", "1 2 3 5''''''' / 5 3 2 1", "--export", str(export))
    one_line_error(done, "is 7 octaves above the tonic; keep notes within 4")
    assert not export.exists()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
def test_spec_and_record_files_saved_as_utf16_or_with_a_bom_are_read(cli, tmp_path, encoding):
    specs, out = tmp_path / "specs.jsonl", tmp_path / "out.jsonl"
    specs.write_bytes('{"id": "a", "lang": "cmn", "topic": "月光", "structure": "5A 5A"}\n'.encode(encoding))
    done = cli("batch", str(specs), str(out), "-n", "1", "--scorer", "none")
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert record["id"] == "a" and "error" not in record and record["candidates"]
    records = tmp_path / "records.jsonl"
    records.write_bytes('{"lang": "cmn", "topic": "月光", "lyrics": "床前明月光"}\n'.encode(encoding))
    done = cli("score", str(records), str(tmp_path / "scored.jsonl"))
    assert done.returncode == 0 and "error" not in (tmp_path / "scored.jsonl").read_text("utf-8"), done.stderr


def test_lone_surrogates_and_control_characters_in_imported_ratings_are_stored_safely(cli, tmp_path):
    path, db = tmp_path / "in.jsonl", tmp_path / "r.sqlite"
    path.write_text('{"prompt": "\\ud800月", "lyrics": "床\\u0007前\\udfff", "overall": 4, "rater": "\\ud83d"}\n')
    done = cli("ratings", "import", str(path), "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert stored(db) == [("\ufffd月", "床前\ufffd", 4.0, "\ufffd")]
