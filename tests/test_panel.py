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


def _constructed_sheet(folder, system: str, specs: list[str], tag: str) -> None:
    items, key = [], {}
    for k, (who, spec) in enumerate([(s, spec) for spec in specs for s in ("corpus", system)], 1):
        item = f"item-{k:03d}"
        key[item] = {"system": who, "spec": spec}
        items.append({"item": item, "lang": "cmn", "request": f"主题：{spec}", "lyrics": f"歌词{tag}{k}"})
    folder.mkdir()
    write_jsonl(folder / "sheet.jsonl", items)
    (folder / "key.json").write_text(json.dumps(key), "utf-8")


def test_pool_rates_systems_of_earlier_sheets_side_by_side(tmp_path):
    _constructed_sheet(tmp_path / "a", "memory", ["s1", "s2"], "甲")
    _constructed_sheet(tmp_path / "b", "ends", ["s1", "s2"], "乙")
    out = tmp_path / "pooled"
    done = panel("pool", "--take", f"before={tmp_path / 'a'}:memory", "--take", f"{tmp_path / 'b'}:ends",
                 "--out", str(out))
    assert done.returncode == 0, done.stderr
    key = json.loads((out / "key.json").read_text("utf-8"))
    items = {row["item"]: row for row in map(json.loads, (out / "sheet.jsonl").read_text("utf-8").splitlines())}
    pairs = sorted((v["system"], v["spec"], items[item]["lyrics"]) for item, v in key.items())
    # each system's lyrics as its sheet had them; the corpus items from the first sheet
    assert pairs == [("before", "s1", "歌词甲2"), ("before", "s2", "歌词甲4"), ("corpus", "s1", "歌词甲1"),
                     ("corpus", "s2", "歌词甲3"), ("ends", "s1", "歌词乙2"), ("ends", "s2", "歌词乙4")]
    sheet = (out / "sheet.md").read_text("utf-8")
    assert not any(name in sheet for name in ("memory", "ends", "before", "corpus"))  # briefs and lyrics only
    _constructed_sheet(tmp_path / "c", "other", ["s1", "s3"], "丙")
    done = panel("pool", "--take", f"{tmp_path / 'a'}:memory", "--take", f"{tmp_path / 'c'}:other", "--out",
                 str(tmp_path / "bad"))
    assert done.returncode != 0 and done.stderr.strip().endswith("its briefs differ from the first sheet's")
