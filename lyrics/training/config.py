"""Training configs as typed, frozen data: one dataclass per trainer, read from YAML by one loader.

:func:`load_config` reads a YAML file into a config class (:class:`GeneratorConfig` here; the scorer's and
rejection sampling's live in ``scorer.config``), field by field and recursively: an unknown key, a missing
field or a value of the wrong type is a one-line :class:`ConfigError` naming the file and the field. Code
builds configs in memory the same way (``from_mapping``, or ``dataclasses.replace``).

>>> cfg = from_mapping(GeneratorConfig, {"name": "t", "stages": {"sft": {"steps": 2, "batch_size": 2,
...                                      "seq_len": 64, "lr": 1e-3}}})
>>> cfg.stage("sft").lora, cfg.data.langs, cfg.run_dir.as_posix()
(None, ('cmn', 'yue'), 'runs/t')
>>> from_mapping(GeneratorConfig, {"name": "t", "stages": {}, "data": {"lang": ["cmn"]}})
Traceback (most recent call last):
...
lyrics.training.config.ConfigError: config: data.lang is not a field; use dir, examples, keywords, ...
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml

from lyrics.data.assets import tianci_home
from phonetics import TianciError, language_codes, warn_renamed

STAGES = ("knowledge", "sft")
PRECISIONS = ("fp32", "bf16")
QUANTIZATIONS = ("4bit", "8bit")
Config = TypeVar("Config")


class ConfigError(TianciError, ValueError):
    """A bad config; one line naming the file and field."""


def require(ok: bool, message: str) -> None:
    """A config class's check: raise the one-line ConfigError (the loader adds the file and field)."""
    if not ok:
        raise ConfigError(message)


@dataclass(frozen=True)
class LoraConfig:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")

    def __post_init__(self):
        require(self.r >= 1 and self.alpha >= 1, "r and alpha must be at least 1")
        require(0 <= self.dropout < 1, "dropout must be at least 0 and below 1")


@dataclass(frozen=True)
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
    lora: LoraConfig | None = None  # None: all parameters
    corpus_ratio: float = 0.5  # knowledge stage: share of plain corpus text in the mix
    precision: str = "fp32"  # or "bf16": matrix products under bfloat16 autocast (about 2x on an AVX-512 CPU)
    grad_accum: int = 1  # micro-batches per step: batch_size rows in grad_accum forward/backward passes
    gradient_checkpointing: bool = False  # recompute activations in the backward pass: less memory, more time
    kl_weight: float = 0.0  # LoRA: + this x KL(base || model) on learned tokens, the base being the adapter off
    # the optimizer (AdamW) and schedule, as both trainers use them (lyrics.training.loop.train_loop)
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0  # the gradient's global norm is clipped to this (.inf: not clipped)
    min_lr_ratio: float = 0.1  # the cosine decays to this share of lr

    def __post_init__(self):
        require(isinstance(self.grad_accum, int) and self.grad_accum >= 1 and self.batch_size % self.grad_accum == 0,
               f"grad_accum must be at least 1 and divide batch_size {self.batch_size}, not {self.grad_accum!r}")
        for name in ("steps", "batch_size", "seq_len", "eval_every", "save_every", "log_every", "eval_batches"):
            require(getattr(self, name) >= 1, f"{name} must be a positive integer, not {getattr(self, name)!r}")
        require(self.lr > 0, "lr must be a positive number")
        require(self.warmup >= 0, "warmup must be at least 0")
        require(0 <= self.corpus_ratio < 1, "corpus_ratio must be at least 0 and below 1")
        require(self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}")
        require(self.kl_weight >= 0, "kl_weight must be at least 0")
        require(self.weight_decay >= 0, "weight_decay must be at least 0")
        require(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
                f"betas must be two numbers at least 0 and below 1, not {list(self.betas)}")
        require(self.grad_clip > 0, "grad_clip must be above 0 (.inf: no clipping)")
        require(0 <= self.min_lr_ratio <= 1, "min_lr_ratio must be in [0, 1]")
        require(not self.kl_weight or self.lora is not None, "kl_weight needs lora: the anchor is the model with "
                                                             "its adapter off")


@dataclass(frozen=True)
class ModelConfig:
    base: str | None = None  # a local folder or hub id; None: a Qwen3 from scratch with a character tokenizer
    vocab_chars: int = 6000  # from scratch: the commonest characters, split over the languages
    architecture: dict[str, Any] = field(default_factory=dict)  # from scratch: Qwen3Config fields
    quantization: str | None = None  # 4bit / 8bit QLoRA (CUDA and bitsandbytes)
    # A character-level base (a Tianci model) gains the characters its new training data uses and it lacks;
    # their embeddings start at the mean of the old ones.
    extend_vocab: bool = False

    def __post_init__(self):
        require(self.vocab_chars >= 1, "vocab_chars must be at least 1")
        require(self.quantization in (None, *QUANTIZATIONS),
               f"quantization must be one of {', '.join(QUANTIZATIONS)} or null")


@dataclass(frozen=True)
class DataConfig:
    dir: str | None = None  # the built datasets (`tianci data build`); None: $TIANCI_HOME/data
    langs: tuple[str, ...] = field(default_factory=language_codes)  # every registered language
    max_works: int | None = None  # per language, sampled (seeded) with an equal share per source
    knowledge_chars: int = 3000  # characters per language the knowledge texts and vocabulary start from
    # sft: works cut into stanzas of at most this many lines (``renamed``: the key's old name, still read)
    stanza_lines: int | None = field(default=None, metadata={"renamed": "sft_max_lines"})
    keywords: bool = False  # each sft brief carries its stanza's keyword plan
    rebuild_keywords: bool = False  # build the keyword tables from this run's data even when the base has its own
    knowledge_mix: float = 0.0  # share of word readings and character facts mixed into sft
    examples: str | None = None  # sft on these exchanges (JSON Lines of "messages") instead of the works

    def __post_init__(self):
        unknown = [lang for lang in self.langs if lang not in language_codes()]
        require(not unknown and bool(self.langs), f"langs must be some of {', '.join(language_codes())}")
        require(0 <= self.knowledge_mix < 1, f"knowledge_mix must be at least 0 and below 1, not {self.knowledge_mix}")
        for name in ("max_works", "stanza_lines"):
            value = getattr(self, name)
            require(value is None or value >= 1, f"{name} must be at least 1 or null")

    @property
    def works_dir(self) -> Path:
        return Path(self.dir) if self.dir else tianci_home() / "data"


@dataclass(frozen=True)
class RunConfig:
    """What every trainer's config has: a name, its stages, a seed and the run folder."""

    name: str
    stages: dict[str, StageConfig]
    seed: int = 0
    out_dir: str | None = None  # default runs/<name>
    source: str = field(default="config", metadata={"yaml": False})  # where it was read from, for messages

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir or Path("runs") / self.name)

    def stage(self, name: str) -> StageConfig:
        if name not in self.stages:
            raise ConfigError(f"{self.source}: stages.{name} is missing")
        return self.stages[name]

    def only_stage(self, name: str) -> None:
        """For a trainer of one stage: ``stages`` holds exactly ``name``."""
        require(name in self.stages, f"stages.{name} is missing")
        require(set(self.stages) == {name}, f"stages holds one stage, {name}")


@dataclass(frozen=True)
class GeneratorConfig(RunConfig):
    """``tianci train``: a generator's model, data and stages (``knowledge``, ``sft``)."""

    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()

    def __post_init__(self):
        unknown = sorted(set(self.stages) - set(STAGES))
        require(not unknown, f"stages.{unknown[0] if unknown else ''} is not a stage; use {', '.join(STAGES)}")


# ---- the loader -----------------------------------------------------------------------------------

def load_config(path: Path, kind: type[Config]) -> Config:
    """The config of class ``kind`` in the YAML file ``path``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config; see configs/ for examples")
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    return from_mapping(kind, raw, str(path))


def from_mapping(kind: type[Config], raw: Any, source: str = "config") -> Config:
    """``raw`` (plain data, as YAML gives it) as a ``kind``, checked field by field."""
    config = _build(kind, raw, source, "")
    if any(f.name == "source" for f in dataclasses.fields(kind)):
        config = dataclasses.replace(config, source=source)
    return config


def _build(kind: type, raw: Any, source: str, where: str):
    what = where.rstrip(".") or "the top level"
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {what} must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(kind) if f.metadata.get("yaml", True)}
    raw = _renamed_keys(raw, fields, source, where)
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{source}: {where}{unknown[0]} is not a field; use {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(kind)
    values = {}
    for name, spec in fields.items():
        if name not in raw:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{source}: missing field {where}{name}")
            continue
        values[name] = _value(hints[name], raw[name], source, f"{where}{name}")
    try:
        return kind(**values)
    except ConfigError as err:
        raise ConfigError(f"{source}: {where}{err}") from None


def _renamed_keys(raw: dict, fields: dict[str, dataclasses.Field], source: str, where: str) -> dict:
    """``raw`` with each key a field has been renamed from (its ``renamed`` metadata) under the new name, and a
    line on standard error for each; both names at once is an error."""
    for name, spec in fields.items():
        old = spec.metadata.get("renamed")
        if old in raw:
            if name in raw:
                raise ConfigError(f"{source}: {where}{old} and {where}{name} are one setting: keep {where}{name}")
            warn_renamed(f"{source}: {where}{old}", f"{where}{name}")
            raw = {(name if key == old else key): value for key, value in raw.items()}
    return raw


def _value(hint: Any, value: Any, source: str, where: str):
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        return _value(hint, value, source, where)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, source, f"{where}.")
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: {where} must be a list")
        return tuple(_value(args[0], item, source, f"{where}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {where} must be a mapping")
        return {str(k): _value(args[1], v, source, f"{where}.{k}") for k, v in value.items()}
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{source}: {where} must be {_kind_name(hint)}, not {value!r}")
    return value


def _kind_name(hint: type) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(hint, hint.__name__)
