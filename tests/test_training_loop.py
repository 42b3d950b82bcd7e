"""The one training loop (``lyrics.training.loop.train_loop``): both trainers run it, the optimizer settings of
their ``StageConfig`` (weight decay, betas, gradient clip, the schedule's floor) reach it, and every shipped
config keeps the values the two loops once hard-coded."""

import json

import pytest
import torch
from safetensors.torch import load_file

import lyrics.training.generator as generator_train
import scorer.train as scorer_train
from lyrics.training import loop
from lyrics.training.config import ConfigError, GeneratorConfig, StageConfig, from_mapping, load_config
from lyrics.training.loop import read_log
from pipeline.config import RSConfig
from scorer.config import ScorerConfig

from .conftest import ROOT
from .test_scorer import scorer_config
from .test_train import write_config

# what both loops hard-coded before these were StageConfig fields: AdamW 0.01, (0.9, 0.95), clip 1.0, a tenth
BEFORE = {"weight_decay": 0.01, "betas": (0.9, 0.95), "grad_clip": 1.0, "min_lr_ratio": 0.1}
CHANGED = {"weight_decay": 0.5, "betas": [0.5, 0.9], "grad_clip": 1e-3, "min_lr_ratio": 0.6}
LR = 1e-3  # the stage's lr in both test configs


def run_trainer(trainer: str, folder, data_dir, generator_dir, **stage):
    """Three steps of ``trainer`` at lr 1e-3, no warm-up, a checkpoint at step 2: its final weights and its run
    folder (log, checkpoints)."""
    steps = {"steps": 3, "save_every": 2, "eval_every": 3, "log_every": 1, **stage}
    if trainer == "generator":
        config = load_config(write_config(folder, data_dir, knowledge=steps), GeneratorConfig)
        final = generator_train.train(config, "knowledge", progress=False)
    else:
        config = load_config(scorer_config(folder, data_dir, generator_dir, model_samples=0, **steps), ScorerConfig)
        final = scorer_train.train_scorer(config, progress=False)
    return load_file(final / "model.safetensors"), final.parent


def param_groups(run) -> list[dict]:
    return json.loads((run / "checkpoints" / "step-2" / "state.json").read_text())["optimizer"]["param_groups"]


def last_lr(run) -> float:
    return [r["lr"] for r in read_log(run / "log.jsonl") if "loss" in r][-1]


@pytest.mark.parametrize("trainer", ["generator", "scorer"])
def test_each_trainer_runs_the_one_loop_with_its_stage_optimizer_settings(trainer, tmp_path, data_dir,
                                                                          char_generator_dir, monkeypatch):
    module = generator_train if trainer == "generator" else scorer_train
    assert module.train_loop is loop.train_loop
    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs["desc"])
        return loop.train_loop(*args, **kwargs)

    monkeypatch.setattr(module, "train_loop", spy)
    base, run = run_trainer(trainer, tmp_path / "default", data_dir, char_generator_dir)
    groups = param_groups(run)
    assert (groups[0]["weight_decay"], groups[0]["betas"]) == (0.01, [0.9, 0.95])
    # step 3 of 3: the cosine halfway down from step 2 (cos(2 pi / 3) = -1/2), to a tenth of lr at the end
    assert last_lr(run) == pytest.approx(LR * (0.1 + 0.9 * 0.25))

    for name, value in CHANGED.items():
        weights, run = run_trainer(trainer, tmp_path / name, data_dir, char_generator_dir, **{name: value})
        assert base.keys() == weights.keys()
        assert not all(torch.equal(base[k], weights[k]) for k in base), f"{name} {value} trained the same weights"
        groups = param_groups(run)
        if name in ("weight_decay", "betas"):
            assert groups[0][name] == value
        if name == "min_lr_ratio":
            assert last_lr(run) == pytest.approx(LR * (0.6 + 0.4 * 0.25))
        if trainer == "scorer":  # the feature weights' own group: never decayed, 20 times the rate
            assert (groups[1]["weight_decay"], groups[1]["lr_scale"]) == (0.0, scorer_train.FEATURES_LR_SCALE)
    assert len(calls) == 1 + len(CHANGED)


def test_every_shipped_config_loads_with_the_optimizer_settings_it_trained_with(capsys):
    kinds = {"scorer": ScorerConfig, "rs": RSConfig}
    paths = sorted((ROOT / "configs").glob("*.yaml"))
    assert len(paths) >= 10
    for path in paths:
        config = load_config(path, kinds.get(path.name.split("_")[0], GeneratorConfig))
        for stage in config.stages.values():
            assert {name: getattr(stage, name) for name in BEFORE} == BEFORE, path.name
    assert "deprecated" not in capsys.readouterr().err  # configs/ uses the current names


@pytest.mark.parametrize(("kind", "old"), [(GeneratorConfig, "sft_max_lines"), (RSConfig, "sft_max_lines"),
                                           (ScorerConfig, "max_lines")])
def test_a_renamed_config_key_still_reads_with_a_one_line_warning(capsys, kind, old):
    stage = {"steps": 2, "batch_size": 2, "seq_len": 64, "lr": 1e-3}
    stages = {"scorer": stage} if kind is ScorerConfig else {"sft": {**stage, "lora": {}}}
    config = from_mapping(kind, {"name": "t", "stages": stages, "data": {old: 5}}, "t.yaml")
    assert config.data.stanza_lines == 5
    assert capsys.readouterr().err == f"warning: t.yaml: data.{old} is deprecated; use data.stanza_lines\n"
    with pytest.raises(ConfigError, match=f"^t.yaml: data.{old} and data.stanza_lines are one setting"):
        from_mapping(kind, {"name": "t", "stages": stages, "data": {old: 5, "stanza_lines": 5}}, "t.yaml")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("betas", [0.9], "betas must be two numbers at least 0 and below 1, not [0.9]"),
    ("betas", [0.9, 1.0], "betas must be two numbers"),
    ("grad_clip", 0, "grad_clip must be above 0"),
    ("weight_decay", -0.1, "weight_decay must be at least 0"),
    ("min_lr_ratio", 1.5, "min_lr_ratio must be in [0, 1]"),
])
def test_bad_optimizer_settings_are_one_line_errors(field, value, message):
    stage = {"steps": 2, "batch_size": 2, "seq_len": 64, "lr": 1e-3, field: value}
    with pytest.raises(ConfigError, match=f"^t.yaml: stages.sft.{field}") as err:
        from_mapping(GeneratorConfig, {"name": "t", "stages": {"sft": stage}}, "t.yaml")
    assert message in str(err.value) and "\n" not in str(err.value)
    good = from_mapping(StageConfig, {**stage, field: CHANGED[field]})
    assert getattr(good, field) == (tuple(CHANGED[field]) if field == "betas" else CHANGED[field])
