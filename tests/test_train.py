"""Training: both stages end to end on a small real corpus, resume after a kill, adapters, bad configs."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import AutoTokenizer

from lyrics import generate
from lyrics.generation import end_token_ids
from lyrics.models import load_model
from lyrics.training.config import ConfigError, GeneratorConfig, load_config
from lyrics.training.generator import train
from lyrics.training.loop import read_log

from .conftest import ROOT, run_cli

TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
        "num_key_value_heads": 1, "head_dim": 16, "max_position_embeddings": 512}


def generator_config(path):
    return load_config(path, GeneratorConfig)


def write_config(folder, data_dir, knowledge=None, sft=None, **model):
    config = {
        "name": "t", "seed": 0, "out_dir": str(folder / "run"),
        "model": {"base": None, "vocab_chars": 1500, "architecture": TINY, **model},
        "data": {"dir": str(data_dir), "langs": ["cmn", "yue"], "max_works": 100, "knowledge_chars": 100},
        "stages": {
            "knowledge": {"steps": 6, "batch_size": 4, "seq_len": 128, "lr": 1e-3, "eval_every": 3,
                          "save_every": 2, "log_every": 1, "eval_batches": 2, **(knowledge or {})},
            "sft": {"steps": 4, "batch_size": 2, "seq_len": 256, "lr": 1e-3, "eval_every": 2, "save_every": 2,
                    "log_every": 1, "eval_batches": 1, "lora": {"r": 4, "alpha": 8, "dropout": 0.0}, **(sft or {})},
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def test_both_stages_then_generate_with_the_adapter(tmp_path, data_dir):
    config = write_config(tmp_path, data_dir, sft={"precision": "bf16"})  # fp32 then bf16 autocast
    knowledge = train(generator_config(config), "knowledge", progress=False)
    sft = train(generator_config(config), "sft", progress=False)
    log = read_log(knowledge.parent / "log.jsonl")
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in log if "eval_loss" in r] == [3, 6]
    assert (knowledge.parent / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (knowledge / "model.safetensors").is_file() and (sft / "adapter_model.safetensors").is_file()
    assert not list(tmp_path.rglob("*.bin")) and not list(tmp_path.rglob("*.pt"))  # safetensors only
    model, tokenizer = load_model(str(knowledge), device="cpu", adapter=str(sft))
    assert model.config.tianci_hints  # from the adapter's tianci.json
    spec = {"lang": "cmn", "topic": "月", "structure": "5A 5A", "tones": ["平平仄仄平"]}
    for candidate in generate(model, tokenizer, spec, n=2, seed=0):
        assert candidate.checks.ok, candidate.checks.to_dict()
    free = generate(model, tokenizer, spec, n=2, seed=0, constrained=False)  # hints written, no processor
    assert len(free) == 2 and all(len(c.lyrics.split("\n")) == 2 for c in free)  # one line after each hint
    # without hints, free generation continues the prompt it is given, token for token
    prompt = "月光照"
    [own] = generate(model, tokenizer, spec, n=1, prompt=prompt, hints=False, constrained=False, do_sample=False)
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
    budget = 4 * 10 + 64 * 2
    direct = model.generate(ids, do_sample=False, max_new_tokens=budget, eos_token_id=end_token_ids(tokenizer),
                            pad_token_id=tokenizer.pad_token_id)[0, ids.shape[1]:]
    text = tokenizer.decode(direct, skip_special_tokens=True)
    assert own.lyrics and own.lyrics == "\n".join(x for x in text.split("\n") if x.strip() and not x.startswith("〔"))

    out = run_cli("export", "--config", str(config), "--out", str(tmp_path / "exported"))
    assert out.returncode == 0, out.stderr
    merged, tokenizer = load_model(str(tmp_path / "exported"), device="cpu")
    assert merged.config.tianci_hints and not (tmp_path / "exported" / "adapter_config.json").exists()
    same = {"input_ids": torch.tensor([tokenizer.encode("月光")])}
    assert torch.allclose(merged(**same).logits, model(**same).logits, atol=1e-5)  # the merge is the adapter


def test_a_lora_knowledge_stage_ends_in_full_weights_for_sft(tmp_path, data_dir):
    config = write_config(tmp_path, data_dir, knowledge={"steps": 2, "lora": {"r": 4, "alpha": 8, "dropout": 0.0}},
                          sft={"steps": 2})
    knowledge = train(generator_config(config), "knowledge", progress=False)
    assert (knowledge / "model.safetensors").is_file() and not (knowledge / "adapter_config.json").exists()
    assert (train(generator_config(config), "sft", progress=False) / "adapter_model.safetensors").is_file()


def test_resume_after_a_kill_matches_an_uninterrupted_run(tmp_path, data_dir):
    long = {"steps": 200, "save_every": 20, "eval_every": 100, "log_every": 10}
    whole = train(generator_config(write_config(tmp_path / "whole", data_dir, knowledge=long)), "knowledge",
                  progress=False)
    config = write_config(tmp_path / "killed", data_dir, knowledge=long)
    proc = subprocess.Popen([sys.executable, "-m", "tianci.cli", "train", "--config", str(config),
                             "--stage", "knowledge"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            # this process's torch threads (a Writer made by an earlier test sets them): the same
                            # arithmetic in both, or the weights differ in the last bits
                            env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())})
    checkpoint = tmp_path / "killed" / "run" / "knowledge" / "checkpoints" / "step-20" / "state.json"
    deadline = time.time() + 240
    while not checkpoint.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (tmp_path / "killed" / "run" / "knowledge" / "final").exists()
    resumed = train(generator_config(config), "knowledge", resume=True, progress=False)
    a, b = load_file(whole / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    steps = [r["step"] for r in read_log(resumed.parent / "log.jsonl") if "loss" in r]
    assert steps == list(range(10, 201, 10))  # nothing logged twice


def test_gradient_accumulation_and_checkpointing_train_the_same_weights(tmp_path, data_dir):
    """The 7B configs need both: a step's batch in grad_accum slices (each loss weighted by its share of the
    learned tokens) and recomputed activations give the weights one whole batch gives."""
    finals = []
    for name, extra in (("whole", {}), ("accum", {"grad_accum": 2}),
                        ("accum-ckpt", {"grad_accum": 4, "gradient_checkpointing": True})):
        config = write_config(tmp_path / name, data_dir, knowledge={"steps": 3, "save_every": 10, "eval_every": 3,
                                                                    **extra})
        finals.append(load_file(train(generator_config(config), "knowledge", progress=False) / "model.safetensors"))
    for other in finals[1:]:
        assert all(torch.allclose(finals[0][k], other[k], atol=1e-5) for k in finals[0])
    assert not all(torch.equal(finals[0][k], finals[1][k]) for k in finals[0])  # really another computation
    lora = write_config(tmp_path / "lora", data_dir, sft={"steps": 2, "gradient_checkpointing": True, "grad_accum": 2})
    adapter = train(generator_config(lora), "sft", progress=False)  # LoRA on frozen embeddings, recomputed
    assert (adapter / "adapter_model.safetensors").is_file()
    with pytest.raises(ConfigError, match="grad_accum must be at least 1 and divide batch_size 4, not 3"):
        generator_config(write_config(tmp_path / "bad", data_dir, knowledge={"grad_accum": 3}))


@pytest.mark.parametrize(("setup", "message"), [
    (lambda tmp, data: tmp / "missing.yaml", "no such config"),
    (lambda tmp, data: _text(tmp, "name: [unclosed"), "not valid YAML"),
    (lambda tmp, data: write_config(tmp, data, knowledge={"stepz": 3}), "stages.knowledge.stepz is not a field"),
    (lambda tmp, data: write_config(tmp, data, knowledge={"steps": 0}), "stages.knowledge.steps must be a positive"),
    (lambda tmp, data: write_config(tmp, data, quantization="4bit"), "model.quantization 4bit needs CUDA"),
    (lambda tmp, data: write_config(tmp, data, base=str(tmp / "no-model")), "cannot load model"),
])
def test_bad_configs_are_one_line_errors(cli, tmp_path, data_dir, setup, message):
    out = cli("train", "--config", str(setup(tmp_path, data_dir)), "--stage", "knowledge")
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def _text(folder, content):
    path = folder / "bad.yaml"
    path.write_text(content)
    return path


def test_ddp_dry_run_on_cpu(tmp_path, data_dir):
    """The DDP accelerate config, launched as two processes (torchrun; without CUDA they meet over gloo):
    each takes half of every batch; the main one logs, checkpoints and writes the final weights."""
    config = write_config(tmp_path, data_dir, knowledge={"steps": 4, "save_every": 2, "eval_every": 4})
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                str(ROOT / "configs" / "accelerate" / "ddp.yaml"), "--num_processes", "2"]
    out = subprocess.run([*launcher, "-m", "tianci.cli", "train", "--config", str(config), "--stage", "knowledge"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    final = tmp_path / "run" / "knowledge" / "final"
    log = read_log(final.parent / "log.jsonl")
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4]  # logged once, not once per process
    assert {r["processes"] for r in log if "loss" in r} == {2}
    assert (final.parent / "checkpoints" / "step-2" / "state.json").is_file()
    model, tokenizer = load_model(str(final), device="cpu")
    run_tokenizer = AutoTokenizer.from_pretrained(tmp_path / "run" / "tokenizer")
    assert model.config.vocab_size == len(tokenizer) == len(run_tokenizer)
