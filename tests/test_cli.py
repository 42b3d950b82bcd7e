"""The real `tianci` command line: JSON Lines, the table view, rhymes, and one-line errors."""

import json

import pytest


def test_analyze_json_lines_from_stdin(cli):
    out = cli("analyze", "--json", "-", stdin="床前明月光，疑是地上霜。\n\n海阔天空 hello！\n")
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["text"] for r in records] == ["床前明月光，疑是地上霜。", "海阔天空 hello！"]
    first = records[0]
    assert first["rhyme_scheme"] == "AA" and first["rhyme_rate"] == 1.0
    guang = first["syllables"][4]
    assert guang == {"char": "光", "romanization": "guang1", "initial": "g", "final": "uang", "tone": 1,
                     "rhyme": "江阳", "tone_class": "平", "is_syllable": True, "known": True}
    comma = first["syllables"][5]
    assert comma["char"] == "，" and comma["romanization"] is None and comma["is_syllable"] is False
    assert [line["syllable_count"] for line in first["lines"]] == [5, 5]
    second = records[1]
    assert [s["char"] for s in second["syllables"]] == list("海阔天空 hello！")
    assert second["lines"][0]["syllable_count"] == 4


def test_analyze_cantonese_json(cli):
    out = cli("analyze", "--lang", "yue", "--scheme", "loose", "--json", "心十")
    record = json.loads(out.stdout)
    assert [s["romanization"] for s in record["syllables"]] == ["sam1", "sap6"]
    assert [s["tone_class"] for s in record["syllables"]] == ["3", "2"]
    assert record["scheme"] == "loose"


def test_analyze_reads_cantonese_in_the_register_it_reports(cli):
    out = cli("analyze", "--lang", "yue", "--json", "-", stdin="春風吹又生\n佢生咗個仔\n")
    verse, speech = (json.loads(line) for line in out.stdout.splitlines())
    assert (verse["register"], verse["syllables"][4]["romanization"]) == ("literary", "sang1")
    assert (speech["register"], speech["syllables"][1]["romanization"]) == ("colloquial", "saang1")
    out = cli("analyze", "--lang", "yue", "--register", "colloquial", "春風吹又生")
    assert "生saang1" in out.stdout and "register colloquial" in out.stdout
    assert json.loads(cli("analyze", "--json", "春风").stdout)["register"] is None


def test_analyze_table_view(cli):
    out = cli("analyze", "--lang", "cmn", "--scheme", "14yun", "床前明月光，疑是地上霜。")
    assert out.returncode == 0, out.stderr
    for expected in ("光guang1", "霜shuang1", "唐", "平平平仄平", "rhyme scheme AA"):
        assert expected in out.stdout


def test_rhymes(cli):
    out = cli("rhymes", "光", "--limit", "30", "--json")
    assert out.returncode == 0, out.stderr
    (reading,) = json.loads(out.stdout)["readings"]
    assert reading["rhyme"] == "江阳" and "霜" in reading["rhymes"] and "光" not in reading["rhymes"]
    assert len(reading["rhymes"]) == 30
    out = cli("rhymes", "心", "--lang", "yue", "--limit", "10")
    assert out.stdout.startswith("心 sam1 · am: ")
    assert "深" in out.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["analyze", "--lang", "fr", "月"], "invalid choice: 'fr'"),
    (["analyze", "--lang", "yue", "--scheme", "13zhe", "月"],
     "scheme '13zhe' is not for yue: use one of strict, loose"),
    (["analyze"], "give the lyrics as TEXT, or - to read them from standard input"),
    (["analyze", "--register", "literary", "月"], "--register is for Cantonese; Mandarin reads one way"),
    (["analyze", "--lang", "yue", "--register", "formal", "月"], "invalid choice: 'formal'"),
    (["rhymes", "ab"], "'ab' is not one Chinese character"),
    (["rhymes", "光", "--limit", "0"], "--limit must be at least 1"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_input_is_one_line_without_traceback(cli, args, message):
    out = cli(*args)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("tianci: error: ")
    assert message in out.stderr
    assert "Traceback" not in out.stderr
