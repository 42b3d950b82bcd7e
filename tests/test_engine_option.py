"""``--engine vllm`` where vLLM is not installed (the main ``.venv``): one line saying to run ``make vllm`` and use
the ``.venv-vllm`` venv, exit status 2, no traceback, before any model work. The vLLM engine itself is tested in
``tests/test_vllm_engine.py`` (run in ``.venv-vllm``)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from pipeline.writer import EngineUnavailable, Writer, require_engine
from tianci.cli import main

pytestmark = pytest.mark.skipif(importlib.util.find_spec("vllm") is not None,
                                reason="vLLM is installed here: tests/test_vllm_engine.py covers --engine vllm")


def _one_line_pointing_at_make_vllm(capsys) -> None:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("tianci: error: --engine vllm needs vLLM") and "make vllm" in err and ".venv-vllm" in err


def test_generate(capsys):
    assert main(["generate", "--topic", "月光", "--engine", "vllm"]) == 2
    _one_line_pointing_at_make_vllm(capsys)


def test_batch(tmp_path, capsys):
    specs = tmp_path / "specs.jsonl"
    specs.write_text(json.dumps({"lang": "cmn", "topic": "月光", "structure": "7A 7A"}) + "\n", encoding="utf-8")
    assert main(["batch", str(specs), str(tmp_path / "out.jsonl"), "--engine", "vllm"]) == 2
    _one_line_pointing_at_make_vllm(capsys)


def test_batch_on_ray_actors_decoding_with_vllm(tmp_path, capsys):
    """A local Ray's actors run in this environment: --decoder vllm is refused here as --engine vllm is."""
    specs = tmp_path / "specs.jsonl"
    specs.write_text(json.dumps({"lang": "cmn", "topic": "月光", "structure": "7A 7A"}) + "\n", encoding="utf-8")
    assert main(["batch", str(specs), str(tmp_path / "out.jsonl"), "--engine", "ray", "--decoder", "vllm"]) == 2
    _one_line_pointing_at_make_vllm(capsys)
    assert not (tmp_path / "out.jsonl").exists()


def test_a_vllm_decoder_on_the_local_engine_is_one_line(tmp_path, capsys):
    specs = tmp_path / "specs.jsonl"
    specs.write_text(json.dumps({"lang": "cmn", "topic": "月光", "structure": "7A 7A"}) + "\n", encoding="utf-8")
    assert main(["batch", str(specs), str(tmp_path / "out.jsonl"), "--decoder", "vllm"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "decoder vllm with kind local: use kind vllm" in err, err


def test_serve(capsys):
    assert main(["serve", "--port", "0", "--engine", "vllm"]) == 2
    _one_line_pointing_at_make_vllm(capsys)


@pytest.mark.parametrize("engine", ["kind: vllm", "kind: ray\n  decoder: vllm"])
def test_rs(engine, tmp_path, capsys):
    config = tmp_path / "rs.yaml"
    shipped = Path(__file__).resolve().parent.parent / "configs" / "rs_tiny.yaml"
    config.write_text(shipped.read_text("utf-8") + f"engine:\n  {engine}\n", encoding="utf-8")
    assert main(["rs", "--config", str(config)]) == 2
    _one_line_pointing_at_make_vllm(capsys)


def test_the_writer_and_an_unknown_engine():
    with pytest.raises(EngineUnavailable, match="make vllm"):
        Writer.load("models/tiny", engine="vllm")
    with pytest.raises(EngineUnavailable, match="use one of hf, vllm"):
        require_engine("tgi")
