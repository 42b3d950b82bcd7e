"""The SQLite ratings store: concurrent writers, import/export, the MOS report."""

import json
import multiprocessing

import pytest

from scorer.ratings import RatingsError, RatingsStore, mean_interval, mos_report


def _write_many(path, worker, count):
    store = RatingsStore(path)
    for i in range(count):
        store.add(f"主题：月光 {worker}", f"第{i}行", {"overall": 1 + (i % 5)}, rater=f"w{worker}")


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "ratings.sqlite"
    RatingsStore(path)
    workers = [multiprocessing.get_context("spawn").Process(target=_write_many, args=(path, w, 60)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
        assert p.exitcode == 0
    rows = RatingsStore(path).ratings()
    assert len(rows) == 240
    assert {(r["rater"], r["lyrics"]) for r in rows} == {(f"w{w}", f"第{i}行") for w in range(4) for i in range(60)}
    with open(path, "rb") as handle:
        assert handle.read(16) == b"SQLite format 3\x00"


def test_import_and_export_jsonl_and_csv(cli, tmp_path):
    db = tmp_path / "r.sqlite"
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"prompt": "月光", "lyrics": "床前明月光", "overall": 5, "language": 4, "rater": "ann"},
        {"prompt": "海", "lyrics": "海上生明月", "overall": 3},
    ]) + "\n", encoding="utf-8")
    out = cli("ratings", "import", str(source), "--db", str(db))
    assert out.returncode == 0 and "imported 2 ratings" in out.stdout, out.stderr
    assert cli("ratings", "export", str(tmp_path / "all.csv"), "--db", str(db)).returncode == 0
    again = tmp_path / "again.sqlite"
    assert cli("ratings", "import", str(tmp_path / "all.csv"), "--db", str(again)).returncode == 0
    assert [(r["lyrics"], r["overall"], r["language"]) for r in RatingsStore(again).ratings()] == [
        ("床前明月光", 5.0, 4.0), ("海上生明月", 3.0, None)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "月", "lyrics": "x", "overall": 9}\n', encoding="utf-8")
    out = cli("ratings", "import", str(bad), "--db", str(db))
    assert out.returncode == 2 and "row 1: overall: 9 is outside 1-5" in out.stderr
    assert len(RatingsStore(db).ratings()) == 2  # nothing of the bad file went in


def test_a_rating_needs_a_score(tmp_path):
    with pytest.raises(RatingsError, match="give at least one of"):
        RatingsStore(tmp_path / "r.sqlite").add("p", "l", {})


def test_mos_report_means_intervals_and_preference(cli, tmp_path):
    db = tmp_path / "r.sqlite"
    store = RatingsStore(db)
    for a, b in [(4, 2), (5, 3), (3, 3), (4, 1)]:
        store.compare("月光", ("new", "甲", a), ("old", "乙", b))
    report = mos_report(store.comparisons())
    assert report["models"]["new"]["mos"] == 4.0 and report["models"]["old"]["mos"] == 2.25
    assert report["models"]["new"]["ci95"] == pytest.approx(1.96 * 0.8165 / 2, abs=1e-3)
    (pair,) = report["pairs"]
    assert (pair["a"], pair["a_preferred"], pair["b_preferred"], pair["ties"]) == ("new", 0.75, 0.0, 0.25)
    out = cli("ratings", "mos", "--db", str(db))
    assert "new: MOS 4.00 ± 0.80" in out.stdout and "new preferred 75%" in out.stdout
    assert mean_interval([3.0])[1] == float("inf")
