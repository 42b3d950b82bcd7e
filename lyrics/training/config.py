"""Training configs: plain data read from YAML, checked field by field with one-line errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

STAGES = ("knowledge", "sft")
PRECISIONS = ("fp32", "bf16")


class ConfigError(ValueError):
    """A bad config; one line naming the file and field."""


@dataclass
class StageConfig:
    steps: int
    batch_size: int
    seq_len: int
    lr: float
    warmup: int = 0
    eval_every: int = 100
    save_every: int = 100
    log_every: int = 10
    eval_batches: int = 4
    lora: dict | None = None  # {"r", "alpha", "dropout", "targets"}; None: all parameters
    corpus_ratio: float = 0.5  # knowledge stage: share of plain corpus text in the mix
    precision: str = "fp32"  # or "bf16": matrix products under bfloat16 autocast (about 2x on an AVX-512 CPU)


def load_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such config; see configs/ for examples")
    try:
        config = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    for key in ("name", "model", "stages"):
        if key not in config:
            raise ConfigError(f"{path}: missing field {key!r}")
    return config


def stage_config(config: dict, stage: str, path: Path) -> StageConfig:
    raw = (config.get("stages") or {}).get(stage)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: stages.{stage} is missing")
    allowed = set(StageConfig.__dataclass_fields__)
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{path}: stages.{stage}.{unknown[0]} is not a field; use {', '.join(sorted(allowed))}")
    try:
        stage_cfg = StageConfig(**raw)
    except TypeError as err:
        raise ConfigError(f"{path}: stages.{stage}: {err}") from None
    for name in ("steps", "batch_size", "seq_len"):
        value = getattr(stage_cfg, name)
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{path}: stages.{stage}.{name} must be a positive integer, not {value!r}")
    if stage_cfg.precision not in PRECISIONS:
        raise ConfigError(f"{path}: stages.{stage}.precision must be one of {', '.join(PRECISIONS)}")
    if not isinstance(stage_cfg.lr, (int, float)) or stage_cfg.lr <= 0:
        raise ConfigError(f"{path}: stages.{stage}.lr must be a positive number")
    return stage_cfg
