"""The one training loop (:func:`train_loop`) of both trainers, the generator's ``lyrics.training.generator``
and the scorer's ``scorer.train``, and what it stands on: the data order, the optimizer and learning-rate
schedule of a :class:`StageConfig`, the run folder with its log, checkpoints, publishing ``final/`` and the
loss plot. A trainer builds its model, data and optimizer (:func:`adamw`), and hands the loop two functions:
one step's forward and backward, and an evaluation.

Checkpoints hold safetensors and JSON only, so nothing is unpickled on resume: ``checkpoints/step-N/``
(the model as ``save_pretrained`` writes it, the optimizer state as safetensors, RNG state and step as JSON),
written to a temporary folder and renamed. The batch at step k is a function of (seed, k) alone, so a
resumed run sees exactly the data an uninterrupted one would, and ``RunLog`` forgets what was logged after
the checkpoint it resumes from.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from lyrics.files import replacing_dir, save_figure

from .config import StageConfig


def indices_at(n: int, step: int, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> list[int]:
    """Indices (of ``n`` examples) in process ``rank``'s share of the batch of step ``step``: each epoch is a
    fresh seeded permutation, so the batch depends on (seed, step) alone, whatever the number of processes."""
    indices = []
    for k in range(step * batch_size + rank, (step + 1) * batch_size, world):
        epoch, offset = divmod(k, n)
        order = list(range(n))
        random.Random(f"{seed}-{epoch}").shuffle(order)
        indices.append(order[offset])
    return indices


def lr_at(step: int, cfg: StageConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio`` of ``lr``.

    >>> cfg = StageConfig(steps=12, batch_size=1, seq_len=8, lr=1.0, warmup=2)
    >>> [round(lr_at(step, cfg), 3) for step in (0, 1, 2, 7, 12)]
    [0.5, 1.0, 1.0, 0.55, 0.1]
    >>> round(lr_at(12, StageConfig(steps=12, batch_size=1, seq_len=8, lr=1.0, min_lr_ratio=0.5)), 3)
    0.5
    """
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    floor = cfg.min_lr_ratio
    return cfg.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def due(done: int, every: int, steps: int) -> bool:
    """Whether step ``done`` logs / evaluates at cadence ``every`` (the last step always does)."""
    return done % every == 0 or done == steps


# ---- the loop -------------------------------------------------------------------------------------

# step k's forward and backward on the prepared model: its loss (detached) and any parts of it to log
StepFn = Callable[[torch.nn.Module, int], tuple[torch.Tensor, dict[str, float]]]
# an evaluation of the prepared model: the fields of its log record ("eval_loss" is plotted)
EvalFn = Callable[[torch.nn.Module], dict[str, Any]]


def is_sharded(accelerator: Accelerator) -> bool:
    """Whether the model's weights are spread over the processes (FSDP, ZeRO): saving them gathers them first."""
    return accelerator.distributed_type.value in ("FSDP", "DEEPSPEED")


def adamw(params: Iterable[torch.Tensor] | Iterable[dict], cfg: StageConfig) -> torch.optim.AdamW:
    """AdamW with the stage's rate, weight decay and betas. A parameter group may set its own ``weight_decay``,
    and an ``lr_scale``: its rate is the schedule's times that."""
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=cfg.betas)


def train_loop(model: torch.nn.Module, optimizer: torch.optim.Optimizer, cfg: StageConfig, folder: Path, *,
               seed: int, checkpoint: Path | None, accelerator: Accelerator, step_fn: StepFn, eval_fn: EvalFn,
               desc: str, progress: bool = True) -> torch.nn.Module:
    """Train ``model`` from ``checkpoint`` (None: step 0) to ``cfg.steps``; returns it as ``accelerator``
    prepared it (a trainer unwraps it to publish). Writes ``folder/log.jsonl`` and ``folder/checkpoints/``.

    Each step sets the scheduled rate, calls ``step_fn`` (forward and backward), clips the gradient to
    ``cfg.grad_clip`` and steps the optimizer; ``eval_fn`` runs every ``eval_every`` steps and at the end."""
    start = load_optimizer_state(checkpoint, optimizer) if checkpoint else 0
    model, optimizer = accelerator.prepare(model, optimizer)
    main, world, sharded = accelerator.is_main_process, accelerator.num_processes, is_sharded(accelerator)
    log = RunLog(folder / "log.jsonl", start, enabled=main)  # one process writes the log

    model.train()
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc=desc, file=sys.stderr,
               disable=not (progress and main) or None)
    began = time.perf_counter()
    for step in bar:
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        loss, parts = step_fn(model, step)
        accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        if due(done, cfg.log_every, cfg.steps):
            loss_value = accelerator.reduce(loss.detach(), reduction="mean").item()
            log.write({"step": done, "loss": round(loss_value, 5), **{k: round(v, 5) for k, v in parts.items()},
                       "lr": lr, "seconds": round(time.perf_counter() - began, 2), "processes": world})
            bar.set_postfix(loss=f"{loss_value:.3f}")
        if due(done, cfg.eval_every, cfg.steps):
            record = eval_fn(model)  # on every process: a sharded model needs them all in each forward
            log.write({"step": done, **record})
        if done % cfg.save_every == 0 and done < cfg.steps:
            weights = accelerator.get_state_dict(model) if sharded else None  # gathered from every process
            if main:
                save_checkpoint(folder / "checkpoints" / f"step-{done}", accelerator.unwrap_model(model),
                                None if sharded else optimizer.optimizer, done, seed, weights)
            accelerator.wait_for_everyone()
    log.close()
    return model


# ---- the run folder -------------------------------------------------------------------------------

def prepare_run(folder: Path, resume: bool, keep: Callable[[Path], bool] = lambda path: False) -> Path | None:
    """The checkpoint to resume from (None: start afresh). A fresh run removes what an older run left in
    ``folder`` (but the entries ``keep`` names), so nothing of it is mixed in."""
    if resume:
        checkpoint = last_checkpoint(folder)
    else:
        checkpoint = None
        if folder.exists():
            for path in folder.iterdir():
                if not keep(path):
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return checkpoint


class RunLog:
    """``log.jsonl``: one object per logged step and per evaluation. Opened at ``start`` (the step resumed
    from), it first drops what was logged after that step, which the run redoes. ``enabled`` False (the other
    processes of a distributed run) writes nothing."""

    def __init__(self, path: Path, start: int, enabled: bool = True):
        self.path, self.enabled = path, enabled
        if enabled and path.is_file():
            kept = [json.dumps(r, ensure_ascii=False) for r in read_log(path) if r["step"] <= start]
            path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        self._handle = path.open("a", encoding="utf-8") if enabled else None

    def write(self, record: dict) -> None:
        if self._handle is not None:
            self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


# ---- checkpoints ----------------------------------------------------------------------------------

def save_checkpoint(folder: Path, model, optimizer: torch.optim.Optimizer | None, step: int, seed: int,
                    weights: dict | None = None) -> None:
    """Called on the main process with the unwrapped model (and, under FSDP/ZeRO, the gathered ``weights``;
    their optimizer state is sharded over the processes and is not kept: a resume restarts its moments)."""
    with replacing_dir(folder) as tmp:
        model.save_pretrained(tmp / "model", safe_serialization=True, state_dict=weights)
        tensors, meta = {}, {"param_groups": [], "state": {}}
        state = optimizer.state_dict() if optimizer is not None else {"state": {}, "param_groups": []}
        for index, values in state["state"].items():
            meta["state"][str(index)] = []
            for key, value in values.items():
                if torch.is_tensor(value):
                    tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
                    meta["state"][str(index)].append(key)
        meta["param_groups"] = [dict(group) for group in state["param_groups"]]
        tensors["rng.torch"] = torch.get_rng_state()
        save_file(tensors, tmp / "optimizer.safetensors")
        (tmp / "state.json").write_text(json.dumps({"step": step, "seed": seed, "optimizer": meta}))


def last_checkpoint(run: Path) -> Path | None:
    done = [p for p in (run / "checkpoints").glob("step-*") if (p / "state.json").is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)


def load_optimizer_state(folder: Path, optimizer: torch.optim.Optimizer) -> int:
    """The optimizer's state and torch's RNG as the checkpoint left them; returns its step."""
    info = json.loads((folder / "state.json").read_text())
    tensors = load_file(folder / "optimizer.safetensors")
    meta = info["optimizer"]
    state = {int(i): {k: tensors[f"{i}.{k}"] for k in keys} for i, keys in meta["state"].items()}
    if meta["param_groups"]:
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    return int(info["step"])


# ---- the end of a run -----------------------------------------------------------------------------

def publish(run: Path, write: Callable[[Path], None]) -> Path:
    """``run/final``: ``write`` fills a temporary folder, which then replaces any older ``final``."""
    final = run / "final"
    with replacing_dir(final) as tmp:
        write(tmp)
    return final


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
    save_figure(fig, png)
    plt.close(fig)
