"""The token table on the real Qwen3 tokenizer and on a character tokenizer."""

import pytest

from lyrics.decoding.tokentable import NEWLINE, OTHER, SPECIAL, TEXT, TokenTable, parse_token


@pytest.mark.parametrize(("data", "kind", "lead", "chars", "tail"), [
    ("我们".encode(), TEXT, b"", "我们", b""),
    (b"\xe5\x98", TEXT, b"", "", b"\xe5\x98"),             # first two bytes of 嘅
    (b"\x85", TEXT, b"\x85", "", b""),                     # its last byte
    ("月".encode() + b"\xe5", TEXT, b"", "月", b"\xe5"),
    (b"\x85" + "光".encode(), TEXT, b"\x85", "光", b""),
    (b"\n", NEWLINE, b"", "\n", b""),
    ("。".encode(), OTHER, b"", "。", b""),
    (b" the", OTHER, b"", " the", b""),
    ("月a".encode(), OTHER, b"", "月a", b""),
    (b"\xff", OTHER, b"", "", b""),
    (b"", OTHER, b"", "", b""),
])
def test_parse_token(data, kind, lead, chars, tail):
    parsed = parse_token(data)
    assert (parsed.kind, parsed.lead, parsed.chars, parsed.tail) == (kind, lead, chars, tail)


def test_qwen3_table(qwen_tokenizer, tmp_path):
    table = TokenTable.for_tokenizer(qwen_tokenizer, cache_dir=tmp_path)
    assert table.vocab_size == 151_669
    assert table.newline_ids == [qwen_tokenizer.convert_tokens_to_ids("Ċ")]
    assert qwen_tokenizer.eos_token_id in table.special_ids and int(table.kinds[qwen_tokenizer.eos_token_id]) == SPECIAL
    (women,) = qwen_tokenizer.encode("我们")
    assert int(table.n_chars[women]) == 2 and table.char_list[int(table.chars[women, 1])] == "们"
    first, second = qwen_tokenizer.encode("嘅")
    assert table.prefixes[int(table.tail[first])] == "嘅".encode()[:2]
    assert int(table.lead[second]) == 1
    assert table.writes_any_utf8
    loaded = TokenTable.for_tokenizer(qwen_tokenizer, cache_dir=tmp_path)  # from the cache file
    assert loaded.data == table.data and loaded.char_list == table.char_list
    assert all((getattr(loaded, f) == getattr(table, f)).all() for f in ("kinds", "lead", "n_chars", "chars", "tail"))


def test_character_tokenizer_table(char_tokenizer, tmp_path):
    table = TokenTable.for_tokenizer(char_tokenizer, cache_dir=tmp_path)
    text = table.kinds == TEXT
    from lyrics.training.chartok import BASE_SYMBOLS
    from phonetics import is_cjk

    others = 5 + sum(not is_cjk(c) for c in BASE_SYMBOLS)  # 4 special tokens, \n, symbols (平仄 are text)
    assert int(text.sum()) == len(char_tokenizer) - others
    assert (table.n_chars[text] == 1).all() and not table.writes_any_utf8
    assert table.newline_ids == [char_tokenizer.convert_tokens_to_ids("\n")]
    assert char_tokenizer.decode(char_tokenizer.encode("月光\n海")) == "月光\n海"
