"""Dataset building: normalisation, scripts per language, deduplication, split by work, user corpora."""

import itertools
import json

import pytest

from lyrics.data.works import (
    DataError,
    build,
    hkcancor_source,
    make_record,
    normalise_lines,
    poetry_source,
    read_split,
    split_of,
    user_source,
)


@pytest.mark.parametrize(("paragraphs", "lines"), [
    (["床前明月光，疑是地上霜。", "举头望明月，低头思故乡。"],
     ["床前明月光", "疑是地上霜", "举头望明月", "低头思故乡"]),
    (["春眠不觉晓（一作：春眠不知晓），处处闻啼鸟。"], ["春眠不觉晓", "处处闻啼鸟"]),
    (["便唤作、无由再逢伊面。"], ["便唤作", "无由再逢伊面"]),
    (["I love you 我爱你", "baby □ 别走"], ["我爱你", "别走"]),
    (["，。！"], []),
])
def test_normalise_lines(paragraphs, lines):
    assert normalise_lines(paragraphs) == lines


def test_each_language_keeps_its_script_and_both_share_the_split():
    cmn = make_record("t", "cmn", "靜夜思", "李白", ["床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。"])
    yue = make_record("t", "yue", "静夜思", "李白", ["床前明月光，疑是地上霜。举头望明月，低头思故乡。"])
    assert cmn.lines[2] == "举头望明月" and cmn.title == "静夜思"
    assert yue.lines[2] == "舉頭望明月" and yue.title == "靜夜思"
    assert cmn.split == yue.split == split_of(cmn.lines)
    assert make_record("t", "cmn", "", "", ["一句而已"]) is None  # one line is too short


def test_real_sources_yield_records_in_their_scripts():
    tang_yue = next(r for r in poetry_source("tang", "yue") if r)
    tang_cmn = next(r for r in poetry_source("tang", "cmn") if r)
    assert tang_yue.split == tang_cmn.split  # 帝京篇十首 in two scripts
    assert (tang_yue.lines[1], tang_cmn.lines[1]) == ("函谷壯皇居", "函谷壮皇居")
    ci = next(r for r in poetry_source("songci", "cmn") if r)
    assert ci.genre == "ci" and all(len(line) >= 1 for line in ci.lines)
    speech = next(r for r in hkcancor_source() if r)
    assert speech.lang == "yue" and len(speech.lines) >= 2


def test_build_dedups_and_splits_by_work(tmp_path):
    works = [r for r in itertools.islice(poetry_source("songci", "cmn"), 400) if r]
    stats = build([iter(works), iter(works[:50]), iter([None])], tmp_path / "data")
    assert stats.duplicates == 50 and stats.too_short == 1
    by_split = {split: list(read_split(tmp_path / "data", "cmn", split)) for split in ("train", "valid", "test")}
    ids = [r.id for records in by_split.values() for r in records]
    assert len(ids) == len(set(ids)) == len(works)
    texts = {split: {r.text for r in records} for split, records in by_split.items()}
    assert not texts["train"] & texts["valid"] and not texts["train"] & texts["test"]
    assert 0.8 < len(by_split["train"]) / len(works) < 0.97
    assert json.loads((tmp_path / "data" / "stats.json").read_text())["duplicates"] == 50


def test_user_corpora(tmp_path):
    songs = tmp_path / "songs.jsonl"
    songs.write_text(
        json.dumps({"title": "月光", "lyrics": "月光照窗前\n思念在心间", "lang": "cmn", "genre": "ballad",
                    "tags": ["love"]}, ensure_ascii=False) + "\n\n"
        + json.dumps({"title": "海", "lyrics": "海闊天空\n在勇敢以後", "lang": "yue"}, ensure_ascii=False) + "\n",
        encoding="utf-8")
    first, second = list(user_source(songs))
    assert (first.lang, first.genre, first.tags) == ("cmn", "ballad", ("love",))
    assert first.lines == ("月光照窗前", "思念在心间")
    assert second.lang == "yue" and second.source == "user:songs.jsonl"
    plain = tmp_path / "songs.txt"
    plain.write_text("《夜曲》\n一群嗜血的蚂蚁\n被腐肉所吸引\n\n\n故事的小黄花\n从出生那年就飘着\n", encoding="utf-8")
    nocturne, flower = list(user_source(plain, "cmn"))
    assert nocturne.title == "夜曲" and nocturne.lines == ("一群嗜血的蚂蚁", "被腐肉所吸引")
    assert flower.title == "" and len(flower.lines) == 2


@pytest.mark.parametrize(("name", "content", "lang", "message"), [
    ("bad.jsonl", '{"title": "x"}\nnot json\n', None, 'bad.jsonl:1: need an object with "lyrics"'),
    ("bad.jsonl", '{"lyrics": "a\\nb", "lang": "cmn"}\nnot json\n', None, "bad.jsonl:2: not JSON"),
    ("songs.txt", "月光\n照窗前\n", None, "plain-text corpora need --lang"),
])
def test_bad_user_corpora_name_the_line(tmp_path, name, content, lang, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        list(user_source(path, lang))
    with pytest.raises(DataError, match="no such file"):
        list(user_source(tmp_path / "missing.jsonl"))


def test_cli_data_build(cli, tmp_path):
    songs = tmp_path / "mine.txt"
    songs.write_text("月光照窗前\n思念在心间\n\n海风吹过\n浪花飞\n", encoding="utf-8")
    out = cli("data", "build", "--sources", "shijing", "--input", str(songs), "--lang", "cmn",
              "--out", str(tmp_path / "d"))
    assert out.returncode == 0, out.stderr
    assert "built" in out.stdout and "cmn/train" in out.stdout
    records = [r for split in ("train", "valid", "test") for r in read_split(tmp_path / "d", "cmn", split)]
    assert {r.source for r in records} == {"shijing", "user:mine.txt"}
    bad = cli("data", "build", "--sources", "nope", "--out", str(tmp_path / "e"))
    assert bad.returncode == 2 and bad.stderr.startswith("tianci: error: unknown source 'nope'")
