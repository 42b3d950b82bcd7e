"""The Ray engine on a local Ray with two CPU actors: the local engine's records for the same seeds and specs,
error records, a kill and a resume with nothing lost or written twice, and the sampling step of an RS round."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import ray
import torch

from lyrics.models import load_model, set_cpu_threads
from lyrics.training.config import from_mapping
from pipeline.batch import run_batch
from pipeline.config import EngineConfig, RSConfig
from pipeline.ray_engine import ray_engine
from pipeline.rs.rounds import run_rounds
from pipeline.writer import Writer
from scorer.model import new_scorer

from .conftest import ROOT

SPECS = [{"id": f"s{i}", "lang": ("cmn", "yue")[i % 2], "topic": "月光", "structure": ("5A 5A", "4 4A 4")[i % 3 > 0]}
         for i in range(6)]


@pytest.fixture(scope="module")
def cluster():
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield context.address_info["gcs_address"]
    ray.shutdown()


def specs_file(path, specs, bad: bool = True):
    lines = [json.dumps(s, ensure_ascii=False) for s in specs]
    if bad:
        lines.insert(2, '{"id": "broken", "lang": "cmn", "topic": "月", "structure": "0A"}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rows(path):
    return {r["id"]: r for r in map(json.loads, path.read_text("utf-8").splitlines())}


def test_ray_writes_what_the_local_engine_writes(cluster, tmp_path, char_generator_dir):
    specs = specs_file(tmp_path / "specs.jsonl", SPECS)
    threads = torch.get_num_threads()
    model, tokenizer = load_model(str(char_generator_dir), device="cpu")
    set_cpu_threads(model)  # as each actor does: the same arithmetic, the same samples
    try:
        local = run_batch(Writer(model, tokenizer), specs, tmp_path / "local.jsonl", n=2, batch_size=2, seed=5,
                          progress=False)
    finally:
        torch.set_num_threads(threads)
    engine = ray_engine(EngineConfig(kind="ray", address=cluster, actors=2), str(char_generator_dir), None, None)
    remote = run_batch(None, specs, tmp_path / "ray.jsonl", n=2, batch_size=2, seed=5, progress=False,
                       engine=engine)
    assert rows(tmp_path / "ray.jsonl") == rows(tmp_path / "local.jsonl")
    assert (remote.items, remote.errors, remote.passed) == (local.items, local.errors, local.passed) == (7, 1, 12)
    assert "structure" in rows(tmp_path / "ray.jsonl")["broken"]["error"]


def test_a_killed_ray_batch_resumes_with_nothing_lost_or_twice(cluster, tmp_path, char_generator_dir):
    many = [{**s, "id": f"k{i}"} for i, s in enumerate(SPECS * 3)]
    specs, out = specs_file(tmp_path / "specs.jsonl", many, bad=False), tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "tianci.cli", "batch", str(specs), str(out), "--model", str(char_generator_dir),
               "--scorer", "none", "-n", "2", "--batch-size", "1", "--seed", "1", "--engine", "ray",
               "--address", cluster, "--actors", "2"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ)
    deadline = time.time() + 240
    while not (out.is_file() and out.read_text("utf-8").count("\n") >= 3) and proc.poll() is None:
        assert time.time() < deadline, "the Ray batch wrote nothing"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with out.open("a", encoding="utf-8") as handle:  # as if killed in the middle of a line
        handle.write('{"id": "k17", "lyr')
    assert len(rows_before := out.read_text("utf-8").splitlines()) < len(many) + 1
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    ids = [json.loads(line)["id"] for line in out.read_text("utf-8").splitlines()]
    assert sorted(ids) == sorted(s["id"] for s in many) and len(ids) == len(set(ids))  # all, each once
    assert out.read_text("utf-8").splitlines()[: len(rows_before) - 1] == rows_before[:-1]  # kept as they were


def test_the_sampling_step_of_an_rs_round_runs_on_ray(cluster, tmp_path, data_dir, char_generator_dir):
    scorer_dir = tmp_path / "scorer"
    model, tokenizer = new_scorer(char_generator_dir)
    model.save_pretrained(scorer_dir, safe_serialization=True)
    tokenizer.save_pretrained(scorer_dir)
    cfg = from_mapping(RSConfig, {
        "name": "rs-ray", "seed": 0, "out_dir": str(tmp_path / "run"),
        "model": {"generator": str(char_generator_dir), "scorer": str(scorer_dir)},
        "data": {"dir": str(data_dir), "stanza_lines": 8}, "prompts": {"train": 4, "eval": 2, "structures": ["5A 5A"]},
        "rounds": 1, "k": 2, "eval_k": 1, "threshold": 1.0,
        "engine": {"kind": "ray", "address": cluster, "actors": 2},
        "stages": {"sft": {"steps": 1, "batch_size": 2, "seq_len": 256, "lr": 1e-3, "eval_every": 1, "save_every": 5,
                           "log_every": 1, "eval_batches": 1, "lora": {"r": 4, "alpha": 8, "dropout": 0.0}}}})
    run_rounds(cfg)
    prompts = json.loads((tmp_path / "run" / "prompts.json").read_text("utf-8"))["train"]
    samples = [json.loads(line) for line in (tmp_path / "run" / "round_1" / "samples.jsonl").read_text().splitlines()]
    assert sorted(s["id"] for s in samples) == sorted(p["id"] for p in prompts)
    assert all(len(s["candidates"]) == 2 and set(s["candidates"][0]["scores"]) >= {"overall"} for s in samples)
    assert (tmp_path / "run" / "round_1" / "model" / "model.safetensors").is_file()


@pytest.mark.parametrize("address, says", [
    ("256.1.1.1:99999", "expected HOST:PORT (port 1-65535)"),
    ("head-node", "expected HOST:PORT"),
    ("127.0.0.1:1", "no Ray cluster answered within 10 s"),  # nothing listens on port 1: refused at once
])
def test_a_bad_or_dead_ray_address_is_one_line_at_once(tmp_path, char_generator_dir, address, says):
    """A malformed address is refused before OUT is made; a dead one within the connect timeout, after the model
    folders are checked (a scorer folder is a scorer here, not a generator refused), never Ray's minutes of retries."""
    scorer_dir = tmp_path / "scorer"
    model, tokenizer = new_scorer(char_generator_dir)
    model.save_pretrained(scorer_dir, safe_serialization=True)
    tokenizer.save_pretrained(scorer_dir)
    specs, out = specs_file(tmp_path / "specs.jsonl", SPECS[:1], bad=False), tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "tianci.cli", "batch", str(specs), str(out), "--model", str(char_generator_dir),
               "--scorer", str(scorer_dir), "--engine", "ray", "--address", address]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and says in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr  # and within the timeout above, where Ray would retry for minutes
    assert out.is_file() == (address == "127.0.0.1:1")  # made only once the arguments are valid
