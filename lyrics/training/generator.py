"""``tianci train --config configs/NAME.yaml --stage knowledge|sft [--resume]``: the training loop.

Read it top to bottom in :func:`train`. Stage ``knowledge`` trains on phonetic knowledge (stages 1-2 of
``lyrics.training.knowledge``) mixed with plain corpus text: all parameters of a model built from scratch, or
LoRA/all of a pretrained one. Stage ``sft`` trains LoRA adapters (peft) on hinted lyric exchanges
(stage 3), starting from the knowledge stage's result when there is one. 4/8-bit QLoRA goes through
bitsandbytes and needs CUDA.

Everything a run writes is under ``out_dir/<stage>/``: ``log.jsonl`` (one object per logged step and per
evaluation), ``checkpoints/step-N/`` (safetensors weights, the optimizer state as safetensors, RNG state
and step as JSON; written to a temporary folder and renamed, so a kill never leaves half a
checkpoint), ``final/`` and ``loss.png``. ``--resume`` continues from the last complete checkpoint;
the batch at step k is a function of (seed, k), so a resumed run sees exactly the data an
uninterrupted one would.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from lyrics.data.keywords import KEYWORDS_FILE
from lyrics.models import write_settings
from lyrics.training.config import STAGES, ConfigError, StageConfig, load_config, stage_config

IGNORE = -100


# ---- data -----------------------------------------------------------------------------------------

def encode_example(tokenizer, example: dict, seq_len: int) -> tuple[list[int], list[int]]:
    """(input ids, labels): plain text is all learned; in a chat only the assistant's answer is."""
    eos = tokenizer.eos_token_id
    if "text" in example:
        ids = [*tokenizer.encode(example["text"], add_special_tokens=False)[:seq_len - 1], eos]
        return ids, list(ids)
    messages = example["messages"]
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True,
                                           enable_thinking=False)
    full = prompt + messages[-1]["content"]
    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    ids = ([*tokenizer.encode(full, add_special_tokens=False), eos])[:seq_len]
    labels = [IGNORE] * min(len(prompt_ids), len(ids)) + ids[len(prompt_ids):]
    return ids, labels


def indices_at(n: int, step: int, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> list[int]:
    """Indices (of ``n`` examples) in process ``rank``'s share of the batch of step ``step``."""
    indices = []
    for k in range(step * batch_size + rank, (step + 1) * batch_size, world):
        epoch, offset = divmod(k, n)
        order = list(range(n))
        random.Random(f"{seed}-{epoch}").shuffle(order)
        indices.append(order[offset])
    return indices


def batch_at(examples: list[tuple[list[int], list[int]]], step: int, batch_size: int, seed: int,
             pad_id: int, rank: int = 0, world: int = 1) -> dict[str, torch.Tensor]:
    """Process ``rank``'s share (every ``world``-th row) of the batch of step ``step``: each epoch is a
    fresh seeded permutation, so the batch depends on (seed, step) alone and a resumed run continues
    the same sequence, whatever the number of processes."""
    rows = [examples[i] for i in indices_at(len(examples), step, batch_size, seed, rank, world)]
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (ids, labs) in enumerate(rows):
        input_ids[r, : len(ids)] = torch.tensor(ids)
        labels[r, : len(labs)] = torch.tensor(labs)
        attention[r, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention}


# ---- checkpoints (safetensors and JSON only: nothing is unpickled on resume) ---------------------

def save_checkpoint(folder: Path, model, optimizer: torch.optim.Optimizer | None, step: int, seed: int,
                    weights: dict | None = None) -> None:
    """Called on the main process with the unwrapped model (and, under FSDP/ZeRO, the gathered ``weights``;
    their optimizer state is sharded over the processes and is not kept: a resume restarts its moments)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
    model.save_pretrained(tmp / "model", safe_serialization=True, state_dict=weights)
    tensors, meta = {}, {"param_groups": [], "state": {}}
    state = optimizer.state_dict() if optimizer is not None else {"state": {}, "param_groups": []}
    for index, values in state["state"].items():
        meta["state"][str(index)] = []
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
                meta["state"][str(index)].append(key)
    meta["param_groups"] = [{k: v for k, v in group.items()} for group in state["param_groups"]]
    tensors["rng.torch"] = torch.get_rng_state()
    save_file(tensors, tmp / "optimizer.safetensors")
    (tmp / "state.json").write_text(json.dumps({"step": step, "seed": seed, "optimizer": meta}))
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)


def last_checkpoint(stage_dir: Path) -> Path | None:
    done = [p for p in (stage_dir / "checkpoints").glob("step-*") if (p / "state.json").is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)


def load_optimizer_state(folder: Path, optimizer: torch.optim.Optimizer) -> int:
    info = json.loads((folder / "state.json").read_text())
    tensors = load_file(folder / "optimizer.safetensors")
    meta = info["optimizer"]
    state = {int(i): {k: tensors[f"{i}.{k}"] for k in keys} for i, keys in meta["state"].items()}
    if meta["param_groups"]:
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    return int(info["step"])


# ---- the loop -------------------------------------------------------------------------------------

def lr_at(step: int, cfg: StageConfig) -> float:
    """Linear warm-up, then cosine decay to a tenth."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


@torch.no_grad()
def evaluate(model, examples, cfg: StageConfig, seed: int, pad_id: int, device: torch.device) -> float:
    """Mean loss over the first ``eval_batches`` validation batches (every process computes the same, so
    sharded models (FSDP, ZeRO) take part in each forward)."""
    model.eval()
    losses = []
    for i in range(min(cfg.eval_batches, max(1, len(examples) // cfg.batch_size))):
        batch = batch_at(examples, i, cfg.batch_size, seed + 1, pad_id)
        losses.append(model(**{k: v.to(device) for k, v in batch.items()}).loss.item())
    model.train()
    return sum(losses) / len(losses)


def train(config_path: Path, stage: str, resume: bool = False, progress: bool = True) -> Path:
    """Run one stage; returns its ``final`` folder."""
    from lyrics.training.start import build_or_load, stage_examples

    config = load_config(config_path)
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}: use one of {', '.join(STAGES)}")
    cfg = stage_config(config, stage, config_path)
    seed = int(config.get("seed", 0))
    out_dir = Path(config.get("out_dir") or Path("runs") / config["name"])
    stage_dir = out_dir / stage
    checkpoint = last_checkpoint(stage_dir) if resume else None
    if not resume and stage_dir.exists():
        shutil.rmtree(stage_dir)  # a fresh run: nothing of an older one is mixed in
    stage_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    random.seed(seed)

    model, tokenizer = build_or_load(config, config_path, stage, cfg, out_dir, checkpoint)
    train_set, valid_set = stage_examples(config, stage, tokenizer, cfg.seq_len, seed, stage_dir)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    # One process, or one of several under `accelerate launch` (DDP, FSDP, ZeRO-2: configs/accelerate/).
    accelerator = Accelerator(cpu=not torch.cuda.is_available())  # CPU processes meet over gloo
    rank, world = accelerator.process_index, accelerator.num_processes
    if cfg.batch_size % world:
        raise ConfigError(f"{config_path}: stages.{stage}.batch_size {cfg.batch_size} must be a multiple of the "
                          f"{world} processes")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01, betas=(0.9, 0.95))
    start = load_optimizer_state(checkpoint, optimizer) if checkpoint else 0
    model, optimizer = accelerator.prepare(model, optimizer)
    main = accelerator.is_main_process
    sharded = accelerator.distributed_type.value in ("FSDP", "DEEPSPEED")
    log_path = stage_dir / "log.jsonl"
    if main and log_path.is_file():  # resuming: forget what was logged after the checkpoint, it is redone
        kept = [json.dumps(r) for r in read_log(log_path) if r["step"] <= start]
        log_path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    log = (log_path if main else Path(os.devnull)).open("a", encoding="utf-8")  # one process writes the log

    model.train()
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc=f"{config['name']}/{stage}",
               file=sys.stderr, disable=not (progress and main) or None)
    began = time.perf_counter()
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        batch = batch_at(train_set, step, cfg.batch_size, seed, pad_id, rank, world)
        with torch.autocast(accelerator.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
            loss = model(**{k: v.to(accelerator.device) for k, v in batch.items()}).loss
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            loss_value = accelerator.reduce(loss.detach(), reduction="mean").item()
            log.write(json.dumps({"step": done, "loss": round(loss_value, 5), "lr": lr_at(step, cfg),
                                  "seconds": round(time.perf_counter() - began, 2), "processes": world}) + "\n")
            log.flush()
            bar.set_postfix(loss=f"{loss_value:.3f}")
        if done % cfg.eval_every == 0 or done == cfg.steps:
            eval_loss = evaluate(model, valid_set, cfg, seed, pad_id, accelerator.device)
            log.write(json.dumps({"step": done, "eval_loss": round(eval_loss, 5)}) + "\n")
            log.flush()
        if done % cfg.save_every == 0 and done < cfg.steps:
            weights = accelerator.get_state_dict(model) if sharded else None  # gathered from every process
            if main:
                save_checkpoint(stage_dir / "checkpoints" / f"step-{done}", accelerator.unwrap_model(model),
                                None if sharded else optimizer.optimizer, done, seed, weights)
            accelerator.wait_for_everyone()
    log.close()

    weights = accelerator.get_state_dict(model) if sharded else None
    final = stage_dir / "final"
    if main:
        model = accelerator.unwrap_model(model)
        tmp = Path(tempfile.mkdtemp(dir=stage_dir, prefix=".final-"))
        if stage == "knowledge" and hasattr(model, "merge_and_unload") and not sharded:
            model = model.merge_and_unload()  # the sft stage starts from full weights, not an adapter
        model.save_pretrained(tmp, safe_serialization=True, state_dict=weights)
        tokenizer.save_pretrained(tmp)
        write_settings(tmp, hints=stage == "sft")  # sft taught the hint lines of lyrics.decoding.prompt.hint
        if (stage_dir / KEYWORDS_FILE).is_file():  # the tables its keyword plans come from, at inference too
            shutil.copy2(stage_dir / KEYWORDS_FILE, tmp / KEYWORDS_FILE)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        plot_losses(stage_dir / "log.jsonl", stage_dir / "loss.png", f"{config['name']} · {stage}")
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return final


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def plot_losses(log_path: Path, png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_log(log_path)
    train_rows = [r for r in rows if "loss" in r]
    eval_rows = [r for r in rows if "eval_loss" in r]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.plot([r["step"] for r in train_rows], [r["loss"] for r in train_rows], label="train", lw=1.2)
    ax.plot([r["step"] for r in eval_rows], [r["eval_loss"] for r in eval_rows], "o-", label="eval", lw=1.5)
    ax.set(xlabel="step", ylabel="loss", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
