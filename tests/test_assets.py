"""Offline assets: what `make setup` fetched is complete and real; missing ones name the fix."""

import pytest

from lyrics.data.assets import ASSETS, AssetError, asset_dir


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_fetched_assets_are_complete(name):
    folder = asset_dir(name)
    assert all((folder / f).is_file() for f in ASSETS[name].required)


def test_qwen3_tokenizer_is_the_real_one():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(asset_dir("qwen3-tokenizer") / "tokenizer.json"))
    assert tok.get_vocab_size(with_added_tokens=True) == 151_669
    assert tok.decode(tok.encode("床前明月光").ids) == "床前明月光"
    assert len(tok.encode("我们").ids) == 1  # one token holds two characters
    assert len(tok.encode("嘅").ids) == 2  # a Cantonese character split over byte tokens


def test_missing_asset_names_the_setup_command(tmp_path, monkeypatch):
    monkeypatch.setenv("TIANCI_HOME", str(tmp_path))
    with pytest.raises(AssetError, match="run `make setup`"):
        asset_dir("chinese-poetry")
