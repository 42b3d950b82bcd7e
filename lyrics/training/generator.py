"""``tianci train --config configs/NAME.yaml --stage knowledge|sft [--resume]``: the generator's training loop.

Read it top to bottom in :func:`train`. Stage ``knowledge`` trains on phonetic knowledge (steps 1-2 of
``lyrics.training.knowledge``) mixed with plain corpus text: all parameters of a model built from scratch,
or LoRA/all of a pretrained one. Stage ``sft`` trains on hinted lyric exchanges (step 3), LoRA adapters
(peft) or all parameters, starting from the knowledge stage's result when there is one. 4/8-bit QLoRA goes
through bitsandbytes and needs CUDA.

Everything a run writes is under ``out_dir/<stage>/``: ``log.jsonl``, ``checkpoints/step-N/``, ``final/``
and ``loss.png`` (``lyrics.training.loop``, whose :func:`~lyrics.training.loop.train_loop` the scorer's trainer
runs too). ``--resume`` continues from the last complete checkpoint and sees exactly the data an uninterrupted
run would.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from accelerate import Accelerator

from lyrics.models import save_model_folder

from .config import STAGES, ConfigError, GeneratorConfig, StageConfig
from .examples import IGNORE, Encoded, batch_at, stage_examples
from .loop import adamw, is_sharded, plot_losses, prepare_run, publish, train_loop
from .start import build_or_load


@torch.no_grad()
def held_out_loss(model, examples: list[Encoded], cfg: StageConfig, seed: int, pad_id: int,
                  device: torch.device) -> float:
    """Mean loss over the first ``eval_batches`` validation batches (every process computes the same, so
    sharded models (FSDP, ZeRO) take part in each forward)."""
    model.eval()
    losses = []
    for i in range(min(cfg.eval_batches, max(1, len(examples) // cfg.batch_size))):
        batch = batch_at(examples, i, cfg.batch_size, seed + 1, pad_id)
        losses.append(model(**{k: v.to(device) for k, v in batch.items()}).loss.item())
    model.train()
    return sum(losses) / len(losses)


def anchor_kl(model, part: dict[str, torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
    """Mean over learned tokens of KL(base || model), the base being the LoRA model with its adapter off: the
    finetune may move towards its data but pays for the mass it takes from what the base would write (a
    rejection-sampling round finetuned on its own samples otherwise sharpens towards its commonest tokens)."""
    with torch.no_grad(), model.disable_adapter():
        base = model(input_ids=part["input_ids"], attention_mask=part.get("attention_mask")).logits
    learned = part["labels"][:, 1:] != IGNORE
    base_logp = base[:, :-1].float().log_softmax(-1)[learned]
    logp = logits[:, :-1].float().log_softmax(-1)[learned]
    return (base_logp.exp() * (base_logp - logp)).sum(-1).mean()


def micro_steps(model, batch: dict[str, torch.Tensor], cfg: StageConfig, accelerator: Accelerator) -> torch.Tensor:
    """Forward and backward over ``grad_accum`` slices of the batch, each loss weighted by its share of the
    batch's learned tokens, so the gradient is the whole batch's (token-mean loss) whatever ``grad_accum`` is;
    with ``kl_weight``, plus the KL anchor (:func:`anchor_kl`). Returns that loss, detached."""
    rows = batch["input_ids"].shape[0]
    size = rows // cfg.grad_accum
    learned = (batch["labels"][:, 1:] != IGNORE).sum().clamp(min=1)
    total = torch.zeros((), device=accelerator.device)
    for start in range(0, rows, size):
        part = {k: v[start:start + size].to(accelerator.device) for k, v in batch.items()}
        share = (part["labels"][:, 1:] != IGNORE).sum() / learned
        if not share:  # nothing learned in these rows: their loss is undefined and adds nothing
            continue
        with torch.autocast(accelerator.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
            out = model(**part)
            loss = out.loss
            if cfg.kl_weight:
                loss = loss + cfg.kl_weight * anchor_kl(accelerator.unwrap_model(model), part, out.logits)
        accelerator.backward(loss * share)
        total += loss.detach().float() * share
    return total


def pad_id_of(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def train(config: GeneratorConfig, stage: str, resume: bool = False, progress: bool = True) -> Path:
    """Run one stage; returns its ``final`` folder."""
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}: use one of {', '.join(STAGES)}")
    cfg, seed = config.stage(stage), config.seed
    stage_dir = config.run_dir / stage
    checkpoint = prepare_run(stage_dir, resume)
    torch.manual_seed(seed)
    random.seed(seed)

    model, tokenizer = build_or_load(config, stage, cfg, checkpoint)
    train_set, valid_set = stage_examples(config, stage, tokenizer, cfg.seq_len, stage_dir)
    pad_id = pad_id_of(tokenizer)
    # One process, or one of several under `accelerate launch` (DDP, FSDP, ZeRO-2: configs/accelerate/).
    accelerator = Accelerator(cpu=not torch.cuda.is_available())  # CPU processes meet over gloo
    rank, world = accelerator.process_index, accelerator.num_processes
    if cfg.batch_size % (world * cfg.grad_accum):
        raise ConfigError(f"{config.source}: stages.{stage}.batch_size {cfg.batch_size} must be a multiple of the "
                          f"{world} processes x grad_accum {cfg.grad_accum}")
    if cfg.gradient_checkpointing:  # activations recomputed in the backward pass (the 7B configs need it)
        if hasattr(model, "activation_checkpointing_enable"):  # transformers 5's name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if hasattr(model, "enable_input_require_grads"):  # LoRA: the frozen embeddings must pass gradients on
            model.enable_input_require_grads()
    optimizer = adamw([p for p in model.parameters() if p.requires_grad], cfg)

    def step_fn(model, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        batch = batch_at(train_set, step, cfg.batch_size, seed, pad_id, rank, world)
        return micro_steps(model, batch, cfg, accelerator), {}

    def eval_fn(model) -> dict[str, float]:
        return {"eval_loss": round(held_out_loss(model, valid_set, cfg, seed, pad_id, accelerator.device), 5)}

    model = train_loop(model, optimizer, cfg, stage_dir, seed=seed, checkpoint=checkpoint, accelerator=accelerator,
                       step_fn=step_fn, eval_fn=eval_fn, desc=f"{config.name}/{stage}", progress=progress)

    main, sharded = accelerator.is_main_process, is_sharded(accelerator)
    weights = accelerator.get_state_dict(model) if sharded else None
    final = stage_dir / "final"
    if main:
        model = accelerator.unwrap_model(model)
        if stage == "knowledge" and hasattr(model, "merge_and_unload") and not sharded:
            model = model.merge_and_unload()  # the sft stage starts from full weights, not an adapter

        # sft taught the hint lines of lyrics.decoding.prompt; its keyword plans' tables go with the weights
        publish(stage_dir, lambda folder: save_model_folder(folder, model, tokenizer, state_dict=weights,
                                                            keywords_from=[stage_dir], hints=stage == "sft"))
        plot_losses(stage_dir / "log.jsonl", stage_dir / "loss.png", f"{config.name} · {stage}")
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return final
