"""The modern corpus: the seeded brief sampler, the check, the report, `tianci corpus` and the `modern` data source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lyrics.data.works import build, modern_source
from lyrics.modern import Brief, BriefSampler, CorpusCheck, Section, Song
from lyrics.modern.corpus import CORPUS, check_files, corpus_files, corpus_songs, read_songs, shard_of, split_of
from lyrics.modern.report import corpus_report, write_report
from phonetics import is_cjk, language, scheme

# A song written for these tests, and the brief it answers (Mandarin, chorus rhyme 江阳 on lines 2 and 4).
GOOD_CMN = "[verse]\n最后一班地铁进站\n车厢里只剩我一个\n耳机里那首歌还在放\n手机电量剩百分之三\n" \
           "[chorus]\n窗外的广告一闪一闪亮\n像有人在隧道里歌唱\n明天的会议先别去想\n至少这一站是我的方向"
GOOD_YUE = "[verse]\n收工行過街口\n冷氣吹到頭髮\n伙記話今日冇位\n我企喺門口等\n" \
           "[chorus]\n凍檸茶啲冰一粒粒化\n苦過今日老細講嘅話\n飲多啖當係獎勵自家\n聽朝再返工都未怕"


def brief_for(lyrics: str, lang: str, rhyme: str, words: tuple[str, ...], register: str | None = None,
              brief_id: str = "t-1") -> Brief:
    form = []
    for line in lyrics.split("\n"):
        if line.startswith("["):
            form.append((line[1:-1], []))
        else:
            form[-1][1].append(len(line))
    return Brief(brief_id, lang, "work", "加班后的末班地铁", words, "温柔", "我自言自语", "流行抒情", (),
                 tuple(Section(name, tuple(lines)) for name, lines in form), rhyme, "", register)


def song(lyrics: str = GOOD_CMN, song_id: str = "t-1") -> Song:
    """``lyrics`` answering the brief ``GOOD_CMN`` was written to."""
    return Song(song_id, "test", brief_for(GOOD_CMN, "cmn", "江阳", ("耳机",), brief_id=song_id), lyrics)


# ---- the sampler ----------------------------------------------------------------------------------------------

def test_sampler_is_deterministic_per_seed_and_index():
    sampler = BriefSampler()
    first = sampler.sample("yue", seed=5, count=20)
    assert first == BriefSampler().sample("yue", seed=5, count=20)
    assert sampler.sample("yue", seed=5, count=5, start=15) == first[15:]  # brief i depends on (seed, i) only
    assert [b.topic for b in sampler.sample("yue", seed=6, count=20)] != [b.topic for b in first]


@pytest.mark.parametrize("lang", ["cmn", "yue"])
def test_sampler_covers_the_inventory_and_draws_valid_briefs(lang):
    sampler = BriefSampler()
    inventory = sampler.inventory[lang]
    areas = {area for area, _ in inventory}
    assert len(inventory) >= 300 and len(areas) >= 20
    briefs = sampler.sample(lang, seed=3, count=len(inventory))
    assert {(b.area, b.topic) for b in briefs} == set(inventory)  # every topic once per pass
    words = set(sampler.words(lang))
    markers = set(sampler.tables["colloquial_markers_yue"])
    groups = scheme(lang, language(lang).schemes[0]).groups
    for b in briefs:
        assert b.form[-1].name in {"chorus", "bridge"} and any(s.name == "chorus" for s in b.form)
        assert all(4 <= len(s.lines) <= 8 and all(5 <= n <= 12 for n in s.lines) for s in b.form)
        assert b.rhyme in groups and set(b.words) <= words and 1 <= len(b.words) <= 2
        assert (b.register in {"written", "colloquial"}) == (lang == "yue")
        if b.register == "written":
            assert not set("".join(b.words)) & markers
        assert Brief.from_dict(json.loads(json.dumps(b.to_dict()))) == b
    assert len({b.rhyme for b in briefs}) >= 10 and len({b.mood for b in briefs}) >= 20


def test_structure_marks_the_chorus_rhyme_lines():
    brief = brief_for(GOOD_CMN, "cmn", "江阳", ("耳机",))
    assert brief.structure() == "[verse] 8 8 9 9 [chorus] 10 9A 9 10A"


# ---- the check --------------------------------------------------------------------------------------------------

def test_good_songs_pass_in_both_languages():
    check = CorpusCheck()
    assert check.add(song()) == []
    cantonese = Song("t-2", "test", brief_for(GOOD_YUE, "yue", "aa", ("收工",), "colloquial", "t-2"), GOOD_YUE)
    assert check.add(cantonese) == []


@pytest.mark.parametrize(("lyrics", "reason"), [
    (GOOD_CMN.replace("车厢里只剩我一个", "车厢里只剩下我一个"), "has 9 syllables; the brief asks for 8"),
    (GOOD_CMN.replace("像有人在隧道里歌唱", "像有人在隧道里说话"), "not the chorus rhyme 江阳"),
    (GOOD_CMN.replace("手机电量剩百分之三", "手机电量剩百分之3"), "not Chinese: '3'"),
    (GOOD_CMN.replace("最后一班地铁进站", "最后一班地铁进站，"), "not Chinese: '，'"),
    (GOOD_CMN.replace("耳机", "音箱"), "the required word 耳机 is missing"),
    (GOOD_CMN.replace("[chorus]\n", ""), "sections are verse; the brief asks for verse, chorus"),
])
def test_the_check_rejects_a_bad_song_with_its_reason(lyrics, reason):
    problems = CorpusCheck().add(song(lyrics))
    assert problems and any(reason in p for p in problems), problems


def test_registers_are_enforced():
    brief = brief_for(GOOD_YUE, "yue", "aa", ("收工",), "written")
    assert "written register with colloquial characters" in CorpusCheck().add(Song("w", "t", brief, GOOD_YUE))[0]
    plain = GOOD_YUE.replace("我企喺門口等", "我企在門口等").replace("伙記話今日冇位", "伙記話今日沒位") \
        .replace("凍檸茶啲冰", "凍檸茶那冰").replace("老細講嘅話", "老細講的話")
    colloquial = brief_for(plain, "yue", "aa", ("收工",), "colloquial")
    assert "colloquial register with 0 colloquial characters" in CorpusCheck().add(Song("c", "t", colloquial, plain))[0]


def test_near_duplicates_and_repeated_ids_are_rejected():
    check = CorpusCheck()
    assert check.add(song()) == []
    twin = GOOD_CMN.replace("最后一班地铁进站", "最后一趟地铁进站").replace("车厢里只剩我一个", "车厢里就剩我一个")
    assert "near-duplicate of t-1" in check.add(song(twin, "t-2"))[0]  # 6 of 8 lines shared
    assert "already in the corpus" in check.add(song(song_id="t-1"))[0]


# ---- the command line, the report, the data source ----------------------------------------------------------

def write_lines(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_cli_check_and_add(tmp_path, cli):
    good, bad = song(), song(GOOD_CMN.replace("像有人在隧道里歌唱", "像有人在隧道里说话"), "t-2")
    briefs = write_lines(tmp_path / "briefs.jsonl", [good.brief.to_dict(), bad.brief.to_dict()])
    answers = write_lines(tmp_path / "answers.jsonl", [{"id": "t-1", "lyrics": good.lyrics},
                                                       {"id": "t-2", "lyrics": bad.lyrics},
                                                       {"id": "nope", "lyrics": "[verse]\n你好"}])
    done = cli("corpus", "check", str(answers), "--briefs", str(briefs))
    assert done.returncode == 1
    assert "t-2: [chorus] line 2 '像有人在隧道里说话' ends on 话" in done.stdout
    assert "no brief with id 'nope'" in done.stdout and "1 songs pass, 2 rejected" in done.stderr
    corpus = tmp_path / "corpus" / "songs"  # a folder of shards, as the shipped corpus
    done = cli("corpus", "add", str(answers), "--briefs", str(briefs), "--corpus", str(corpus))
    assert done.returncode == 0 and "added 1 songs" in done.stdout
    assert [s.id for s in corpus_songs(corpus)] == ["t-1"]
    assert [p.name for p in corpus.iterdir()] == ["cmn-00.jsonl"]
    rejected = {json.loads(line)["id"] for line in (corpus.parent / "rejections.jsonl").read_text("utf-8").splitlines()}
    assert "t-2" in rejected and "t-1" not in rejected
    again = cli("corpus", "add", str(answers), "--briefs", str(briefs), "--corpus", str(corpus))
    assert "added 0 songs" in again.stdout and "1 already there" in again.stdout
    revised = good.lyrics.replace("车厢里只剩我一个", "车厢里就剩我一个")  # a writer's later edit of a merged song
    write_lines(answers, [{"id": "t-1", "lyrics": revised}])
    again = cli("corpus", "add", str(answers), "--briefs", str(briefs), "--corpus", str(corpus))
    assert "added 0 songs" in again.stdout and "revised 1" in again.stdout, again.stdout
    assert [s.lyrics for s in corpus_songs(corpus)] == [revised]
    assert cli("corpus", "check", str(corpus)).returncode == 0  # corpus records carry their briefs
    single = tmp_path / "one.jsonl"  # a single file given as --corpus holds everything
    cli("corpus", "add", str(answers), "--briefs", str(briefs), "--corpus", str(single))
    assert [s.id for s in corpus_songs(single)] == ["t-1"]


def test_cli_briefs_are_the_samplers(cli):
    done = cli("corpus", "briefs", "--lang", "cmn", "--seed", "9", "--start", "3", "--count", "2")
    got = [Brief.from_dict(json.loads(line)) for line in done.stdout.splitlines()]
    assert got == BriefSampler().sample("cmn", 9, 2, start=3)


def test_report_counts_and_plots(tmp_path):
    songs = [song(), song(GOOD_CMN.replace("最后一班地铁进站", "最后一趟地铁进站"), "t-2")]
    report = corpus_report(songs, rejections=tmp_path / "none.jsonl")
    stats = report.langs["cmn"]
    assert (stats.songs, stats.lines, stats.distinct_lines) == (2, 16, 9)
    assert stats.common_lines[0][1] == 2 and stats.areas == {"work": 2} and stats.rhymes == {"江阳": 2}
    md, png = write_report(report, tmp_path)
    assert "| cmn | 2 |" in md.read_text("utf-8") and png.read_bytes()[:4] == b"\x89PNG"


def test_modern_source_keeps_songs_whole_in_one_split(tmp_path):
    songs = [song(song_id=f"cmn-t-{i}") for i in range(40)]
    corpus = write_lines(tmp_path / "songs.jsonl", [s.to_dict() for s in songs])
    records = list(modern_source(corpus))
    assert len(records) == 40 and all(r.lines == tuple(songs[0].lines) for r in records)  # 8 lines: one piece
    assert {r.split for r in records} == {split_of(s.id) for s in songs}
    assert all(r.title == "加班后的末班地铁" and r.source == "modern" for r in records)
    stats = build([modern_source(corpus)], tmp_path / "data")
    assert sum(stats.kept.values()) == 1  # the same text 40 times: one work, the rest duplicates


def test_every_shipped_song_passes_the_check():
    shipped = corpus_songs(CORPUS)
    assert shipped, "corpus/songs/ is empty"
    for path in corpus_files(CORPUS):  # tracked files stay small: a shard holds one language, 2,000 songs at most
        assert path.stat().st_size < 4_000_000 and {shard_of(s) for s in read_songs(path)} == {path.name}
    result = check_files([CORPUS], against=None)
    assert result.rejected == [] and len(result.kept) == len(shipped)
    for s in shipped:
        assert all(is_cjk(c) for line in s.lines for c in line)


def test_modern_fraction_keeps_held_out_songs_whole(tmp_path):
    songs = [song(GOOD_CMN.replace("耳机里", f"耳机{i:03d}"[:3]), f"cmn-t-{i}") for i in range(200)]
    corpus = write_lines(tmp_path / "songs.jsonl", [s.to_dict() for s in songs])
    whole = {r.id: r.split for r in modern_source(corpus)}
    half = {r.id: r.split for r in modern_source(corpus, fraction=0.5)}
    assert {i for i, s in whole.items() if s != "train"} <= set(half)  # valid and test: every song
    kept = sum(s == "train" for s in half.values()) / sum(s == "train" for s in whole.values())
    assert 0.35 < kept < 0.65
    quarter = {r.id for r in modern_source(corpus, fraction=0.25)}
    assert quarter <= set(half)  # the subsets nest, so a learning curve adds songs


def test_extend_vocab_keeps_every_id_and_adds_the_modern_characters(qwen_tokenizer):
    from lyrics.training.chartok import build_char_tokenizer
    from lyrics.training.config import ConfigError
    from lyrics.training.start import extended_char_tokenizer

    old = build_char_tokenizer("月光床前")
    new = extended_char_tokenizer(old, ["她", "们", "月"])
    assert all(new.get_vocab()[t] == i for t, i in old.get_vocab().items())
    assert len(new) == len(old) + 2
    assert new.encode("她们月", add_special_tokens=False)[-1] == old.convert_tokens_to_ids("月")
    with pytest.raises(ConfigError, match="character-level base"):
        extended_char_tokenizer(qwen_tokenizer, ["她"])


def test_a_cantonese_chorus_may_rhyme_on_any_reading_of_its_reading_set():
    from lyrics.modern.check import _rhymes_sung

    assert _rhymes_sung("淨", "yue", "ing") and _rhymes_sung("淨", "yue", "eng")  # 乾淨 zing6 / zeng6
    assert _rhymes_sung("更", "yue", "ang") and _rhymes_sung("更", "yue", "aang")  # 三更 gang1 / gaang1
    assert not _rhymes_sung("淨", "yue", "aa")
    assert not _rhymes_sung("行", "cmn", "江阳")  # Mandarin has no registers: the reading in context only
