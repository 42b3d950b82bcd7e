"""``--engine vllm`` (``lyrics.vllm_decoder``): ``tianci generate`` and ``tianci batch`` decoded by a vLLM engine
through the Writer, every candidate passing every check and ranked by the one rule; the same spec passing on both
backends; a bad spec refused in one line; seeds per candidate row; ``tianci serve`` and rejection sampling on it;
``tianci batch --engine ray --decoder vllm``: a vLLM engine inside a Ray actor writing the local engine's records.

Runs in the vLLM venv only (``make vllm``; ``make test`` runs ``tests/test_vllm*.py`` there). One engine serves the
whole file: the command-line tests load it through ``Writer.load``, which here hands back that engine (and records
which backend the command asked for), so the file starts vLLM once.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys

import pytest
import ray

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

from lyrics.decoding.checks import check_lyrics
from lyrics.decoding.spec import LyricSpec
from lyrics.models import DEFAULT_MODEL
from lyrics.vllm_decoder import EngineError, VllmDecoder, spec_data
from pipeline.batch import run_batch
from pipeline.candidates import Scored, best, ranked
from pipeline.config import EngineConfig
from pipeline.ray_engine import ray_engine
from pipeline.rs.sampling import prompt_records
from pipeline.serve import LyricsServer
from pipeline.writer import Writer
from scorer.model import DEFAULT_SCORER
from tianci.cli import main

from .conftest import ROOT

SPEC = {"lang": "cmn", "topic": "月光", "structure": "7A 7A 7B 7A"}
SPECS = [SPEC, {"lang": "yue", "topic": "海港", "structure": "7A 7A 7B 7A"},
         {"lang": "cmn", "topic": "春风", "structure": "5A 5A 5B 5A", "rhymes": {"A": "光"},
          "tones": ["平平仄仄平", "*", "*", "仄仄仄平平"]}]


@pytest.fixture(scope="module")
def writer():
    loaded = Writer.load(str(DEFAULT_MODEL), scorer=str(DEFAULT_SCORER), engine="vllm", max_num_seqs=16,
                         max_model_len=512)
    yield loaded
    loaded.close()


@pytest.fixture
def engines(monkeypatch, writer):
    """``Writer.load`` as the commands call it, handing back the one engine; the backends asked for, in order."""
    asked: list[str] = []

    def load(generator, *, adapter=None, scorer=None, engine="hf", **options):
        asked.append(engine)
        assert engine == "vllm" and adapter is None
        return writer

    monkeypatch.setattr(Writer, "load", staticmethod(load))
    return asked


def _passes(candidates: list[dict], spec: LyricSpec) -> None:
    for candidate in candidates:
        assert candidate["checks"]["ok"], candidate
        assert check_lyrics(candidate["lyrics"], spec).ok, candidate["lyrics"]
        assert candidate["checks"]["relaxed"] == []
        assert len(candidate["lyrics"].split("\n")) == len(spec.lines)


def test_the_writer_decodes_with_vllm(writer):
    assert writer.engine == "vllm" and isinstance(writer.decoder, VllmDecoder) and writer.model is None


def test_tianci_generate_engine_vllm_writes_candidates_passing_every_check(engines, capsys):
    assert main(["generate", "--topic", "月光", "--structure", "7A 7A 7B 7A", "-n", "3", "--seed", "1",
                 "--engine", "vllm", "--json"]) == 0
    assert engines == ["vllm"]
    answer = json.loads(capsys.readouterr().out)
    assert len(answer["candidates"]) == 3
    _passes(answer["candidates"], LyricSpec.from_dict(answer["spec"]))


def test_tianci_batch_engine_vllm_writes_candidates_passing_every_check(engines, tmp_path):
    specs, out = tmp_path / "specs.jsonl", tmp_path / "out.jsonl"
    specs.write_text("".join(json.dumps({**spec, "id": f"s{i}"}, ensure_ascii=False) + "\n"
                             for i, spec in enumerate(SPECS)), encoding="utf-8")
    assert main(["batch", str(specs), str(out), "-n", "2", "--seed", "3", "--engine", "vllm"]) == 0
    assert engines == ["vllm"]
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert sorted(r["id"] for r in records) == ["s0", "s1", "s2"]
    for record in records:
        spec = LyricSpec.from_dict(SPECS[int(record["id"][1:])])
        assert len(record["candidates"]) == 2
        _passes(record["candidates"], spec)
        assert all(set(c["scores"]) >= {"overall"} for c in record["candidates"])  # ranked with the scorer
        assert record["lyrics"] in [c["lyrics"] for c in record["candidates"]]


def test_the_real_command_starts_its_own_engine():
    """``tianci generate --engine vllm`` as a user runs it: a fresh interpreter, its own engine (in its process on
    CPU), vLLM's start-up log kept out; the candidates pass every check."""
    command = ["generate", "--topic", "海港", "--lang", "yue", "-n", "2", "--seed", "2", "--engine", "vllm", "--json"]
    done = subprocess.run([sys.executable, "-m", "tianci.cli", *command], capture_output=True, text=True, cwd=ROOT,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout)  # standard output is the answer alone: vLLM's log goes to standard error
    assert len(answer["candidates"]) == 2
    _passes(answer["candidates"], LyricSpec.from_dict(answer["spec"]))
    assert " INFO " not in done.stderr


def test_a_bad_spec_is_one_line_before_any_engine_work(engines, capsys):
    assert main(["generate", "--topic", "月光", "--structure", "x7 7A", "--engine", "vllm"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tianci: error: structure:") and err.count("\n") == 1
    assert engines == []  # refused before the model was asked for


def test_the_same_spec_passes_on_both_backends(writer):
    hf = Writer.load(str(DEFAULT_MODEL))
    for data in SPECS:
        spec = LyricSpec.from_dict(data)
        for backend in (hf, writer):
            planned = backend.plan(spec)
            backend.check(planned)
            scored = backend.write([planned], 3, seed=5)[0]
            assert len(scored) == 3 and all(isinstance(item, Scored) for item in scored)
            _passes([item.candidate.to_dict() for item in scored], spec)
            assert best(scored) is not None and ranked(scored)[0].candidate.checks.ok
        assert hf.plan(spec) == writer.plan(spec)  # the same keyword plan: the planning side is shared


def test_a_seeded_spec_writes_the_same_alone_or_among_others(writer):
    """Each candidate row is seeded on its own (a spec's seed, whatever else is in the call): what serve relies on
    to batch seeded requests with others on this engine."""
    seeded = writer.plan(LyricSpec.from_dict({**SPECS[1], "seed": 11}))
    other = writer.plan(LyricSpec.from_dict(SPEC))
    alone = [s.lyrics for s in writer.write([seeded], 2)[0]]
    among = [s.lyrics for s in writer.write([other, seeded], 2)[1]]
    assert alone == among


def test_options_the_vllm_engine_does_not_have_are_refused_in_one_line(writer):
    planned = writer.plan(LyricSpec.from_dict(SPEC))
    for options in ({"num_beams": 2}, {"hints": False}, {"no_repeat_ngram_size": 3}):
        with pytest.raises(EngineError) as refused:
            writer.write([planned], 1, **options)
        assert "\n" not in str(refused.value) and "Hugging Face" in str(refused.value)


def test_greedy_and_unconstrained_decoding(writer):
    planned = writer.plan(LyricSpec.from_dict(SPEC))
    greedy = writer.write([planned], 2, do_sample=False)[0]
    assert all(item.candidate.checks.ok for item in greedy)
    assert [item.lyrics for item in writer.write([planned], 2, do_sample=False)[0]] == [g.lyrics for g in greedy]
    free = writer.write([planned], 2, seed=1, constrained=False)[0]
    assert len(free) == 2 and all(item.candidate.tokens > 0 for item in free)


def test_a_spec_travels_as_the_json_object_it_came_from():
    for data in [*SPECS, {"lang": "cmn", "topic": "月", "structure": "[verse] 5A 5A [chorus] 7B 7B", "seed": 3,
                          "keep": {"1": "床前明月光"}, "genre": "民谣", "mood": "温柔", "keywords": ["明月"], "n": 2},
                 {"lang": "yue", "topic": "海", "structure": "7A 7A", "register": "colloquial", "id": "x"}]:
        spec = LyricSpec.from_dict(data)
        assert LyricSpec.from_dict(spec_data(spec)) == spec


def test_tianci_serve_on_the_vllm_engine(writer):
    with LyricsServer(writer, model=str(DEFAULT_MODEL), port=0, gather=0.2) as server:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=300)
        connection.request("GET", "/v1/models")
        assert json.loads(connection.getresponse().read())["models"][0]["engine"] == "vllm"
        connection.request("POST", "/v1/lyrics", body=json.dumps({**SPEC, "n": 2}, ensure_ascii=False).encode())
        response = connection.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200, answer
        _passes(answer["candidates"], LyricSpec.from_dict(SPEC))
        connection.request("POST", "/v1/lyrics", body=b'{"lang": "xx", "topic": "a", "structure": "7A"}')
        response = connection.getresponse()
        assert response.status == 400 and "\n" not in json.loads(response.read())["error"]
        connection.close()


def test_rejection_sampling_records_through_the_vllm_writer(writer):
    """The sampling step of ``tianci rs`` (``engine: {kind: vllm}``) is ``prompt_records`` over this Writer."""
    group = [{"id": "train-cmn-0", "lang": "cmn", "topic": "月光", "structure": "7A 7A 7B 7A"},
             {"id": "train-yue-0", "lang": "yue", "topic": "海港", "structure": "7A 7A 7B 7A"}]
    records = prompt_records(writer, group, 9, k=2, temperature=1.0, repetition_gate=True)
    assert [r["id"] for r in records] == ["train-cmn-0", "train-yue-0"]
    for record in records:
        assert "error" not in record and len(record["candidates"]) == 2
        assert record["best"] is not None and record["candidates"][record["best"]]["checks"]["ok"]


def _specs_file(path, specs):
    path.write_text("".join(json.dumps({**spec, "id": f"s{i}"}, ensure_ascii=False) + "\n"
                            for i, spec in enumerate(specs)), encoding="utf-8")
    return path


def test_a_ray_actor_decodes_with_vllm_as_the_local_engine_does(writer, tmp_path):
    """One actor on a local Ray, its own vLLM engine in its process (``decoder: vllm``): the records of the vLLM
    engine here for the same specs and seed (each candidate row seeded on its own, so the engine's batching does
    not change them), every candidate passing every check."""
    specs = _specs_file(tmp_path / "specs.jsonl", SPECS)
    local = run_batch(writer, specs, tmp_path / "local.jsonl", n=2, batch_size=2, seed=7, progress=False)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        engine = ray_engine(EngineConfig(kind="ray", actors=1, decoder="vllm"), str(DEFAULT_MODEL), None,
                            str(DEFAULT_SCORER))
        remote = run_batch(None, specs, tmp_path / "ray.jsonl", n=2, batch_size=2, seed=7, progress=False,
                           engine=engine)
    finally:
        ray.shutdown()
    records = [json.loads(line) for line in (tmp_path / "ray.jsonl").read_text("utf-8").splitlines()]
    assert records == [json.loads(line) for line in (tmp_path / "local.jsonl").read_text("utf-8").splitlines()]
    assert (remote.items, remote.errors, remote.passed) == (local.items, local.errors, local.passed) == (3, 0, 6)
    for record in records:
        _passes(record["candidates"], LyricSpec.from_dict(SPECS[int(record["id"][1:])]))
