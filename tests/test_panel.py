"""The blind panel (bench/panel.py): anonymised sheets, ratings into the store, MOS with a 95% interval."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys

from lyrics.files import write_jsonl
from lyrics.modern.corpus import corpus_songs, split_of
from scorer.ratings import RatingsStore

from .conftest import ROOT

PANEL = str(ROOT / "bench" / "panel.py")


def panel(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, PANEL, *args], capture_output=True, text=True, cwd=ROOT, timeout=600,
                          check=False)


def test_sheet_is_anonymised_and_mos_is_computed_per_system(tmp_path):
    out = tmp_path / "sheet"
    done = panel("sheet", "--out", str(out), "--per-lang", "2", "--system", "old=models/tiny", "--n", "2")
    assert done.returncode == 0, done.stderr
    items = [json.loads(line) for line in (out / "sheet.jsonl").read_text("utf-8").splitlines()]
    key = json.loads((out / "key.json").read_text("utf-8"))
    assert len(items) == 8 and set(key) == {item["item"] for item in items}  # 4 briefs x (corpus + old)
    assert {v["system"] for v in key.values()} == {"corpus", "old"}
    sheet_text = (out / "sheet.md").read_text("utf-8") + (out / "sheet.jsonl").read_text("utf-8")
    assert "corpus" not in sheet_text and "old" not in sheet_text and "models/tiny" not in sheet_text
    test_ids = {s.id for s in corpus_songs() if split_of(s.id) == "test"}
    assert {v["spec"] for v in key.values()} <= test_ids  # held-out briefs only
    corpus_items = [i for i in items if key[i["item"]]["system"] == "corpus"]
    assert all(len(i["lyrics"].split("\n")) >= 4 for i in corpus_items)

    # Constructed ratings: the corpus 5/4, the old default 1/2, so the arithmetic is checkable by hand.
    ratings = [{"item": i["item"], "fluency": s, "topic": s, "quality": s, "overall": s}
               for i in items for s in ([5, 4] if key[i["item"]]["system"] == "corpus" else [1, 2])[:1]]
    ratings += [{**r, "fluency": 4 if r["fluency"] == 5 else 2} for r in ratings]
    rater_file = tmp_path / "ratings.jsonl"
    write_jsonl(rater_file, ratings)
    db = tmp_path / "ratings.sqlite"
    done = panel("record", "--sheet", str(out), "--ratings", str(rater_file), "--rater", "r1", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert len(RatingsStore(db).ratings()) == 16
    assert {r["model"] for r in RatingsStore(db).ratings()} == {"corpus", "old"}
    table = json.loads(panel("report", "--sheet", str(out), "--json").stdout)
    fluency = [5] * 4 + [4] * 4
    assert table["corpus"]["fluency"]["mos"] == 4.5 and table["corpus"]["fluency"]["n"] == 8
    half = 1.96 * statistics.stdev(fluency) / math.sqrt(8)
    assert math.isclose(table["corpus"]["fluency"]["ci95"], round(half, 3))
    assert table["old"]["overall"]["mos"] == 1.0 and table["old/cmn"]["overall"]["n"] == 4


def test_record_refuses_a_rating_out_of_range(tmp_path):
    out = tmp_path / "sheet"
    assert panel("sheet", "--out", str(out), "--per-lang", "1").returncode == 0
    item = json.loads((out / "sheet.jsonl").read_text("utf-8").splitlines()[0])["item"]
    bad = tmp_path / "bad.jsonl"
    write_jsonl(bad, [{"item": item, "fluency": 7, "topic": 3, "quality": 3, "overall": 3}])
    done = panel("record", "--sheet", str(out), "--ratings", str(bad), "--rater", "r", "--db", str(tmp_path / "d"))
    assert done.returncode != 0 and "fluency must be a number from 1 to 5" in done.stderr
