"""The rhyme dictionary: frequency order, polyphones by reading in context, both scripts."""

from phonetics import RhymeDictionary

VERSES = [
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "银行门口人行道，他在银行里行走。",
]


def test_counts_follow_the_text_and_polyphones_split_by_reading(tmp_path):
    book = RhymeDictionary.from_texts(VERSES, "cmn")
    assert book.counts["月"] == {"yue4": 2}
    assert book.counts["行"] == {"hang2": 2, "xing2": 2}
    groups = book.groups("13zhe")
    assert groups["江阳"]["行"] == 2 and groups["中东"]["行"] == 2
    assert groups["江阳"]["上"] == 2 and groups["江阳"]["光"] == 1
    assert set(book.members("江阳")[:2]) == {"上", "行"} and "光" in book.members("江阳")[2:]
    path = tmp_path / "book.json"
    path.write_text(book.to_json(), encoding="utf-8")
    assert RhymeDictionary.load(path).counts == book.counts


def test_cantonese_dictionary_is_in_traditional_script():
    book = RhymeDictionary.from_texts(["银行门口", "长江流水"], "yue")
    assert "銀" in book.counts and "银" not in book.counts
    assert book.rhymes_with("银", limit=5)[0][:2] == ("ngan4", "an")


def test_shipped_corpus_dictionary_orders_by_frequency():
    from lyrics.data.rhymebook import rhyme_dictionary

    book = rhyme_dictionary("cmn")
    ranked = book.members("江阳", limit=50)
    counts = book.groups()["江阳"]
    assert [counts[c] for c in ranked] == sorted((counts[c] for c in ranked), reverse=True)
    assert {"香", "长", "阳", "霜"} <= set(ranked)
    (guang,) = book.rhymes_with("光", limit=10)
    assert guang[1] == "江阳" and "光" not in guang[2]
    yue = rhyme_dictionary("yue")
    assert yue.rhymes_with("心", "loose", limit=200)[0][1] == "am"
    assert "十" in yue.rhymes_with("心", "loose", limit=200)[0][2]
    assert "十" not in yue.rhymes_with("心", "strict", limit=200)[0][2]
