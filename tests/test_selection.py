"""Rejection sampling's rules on constructed inputs with known answers: the selection and its diversity penalty,
the promotion gate and the blind-comparison decision, the KL anchor of the finetune."""

import random

import pytest
import torch
from accelerate import Accelerator
from peft import LoraConfig as PeftLoraConfig
from peft import get_peft_model

from lyrics.training.config import ConfigError, LoraConfig, StageConfig
from lyrics.training.generator import anchor_kl, micro_steps
from pipeline.config import PromotionConfig
from pipeline.rs.selection import (
    MIN_COMPARISONS,
    bootstrap_interval,
    mix,
    mos_decision,
    overlap,
    promotion,
    select_samples,
)

from .conftest import tiny_qwen3


def candidate(lyrics, overall, ok=True):
    return {"lyrics": lyrics, "checks": {"ok": ok}, "scores": {"overall": overall}}


MOON = "明月照高楼\n春风吹又生"
records = [
    {"candidates": [candidate(MOON, 4.8), candidate("山色有无中\n江流天地外", 4.9, ok=False),
                    candidate("孤帆远影碧\n空尽长江流", 4.0)]},
    {"candidates": [candidate(MOON, 4.8), candidate("山高水长远\n云淡鸟飞回", 4.6)]},
    {"candidates": [candidate("夜来风雨声", 4.95, ok=False)]},  # nothing passes: nothing kept
    {"candidates": [candidate("白日依山尽", 4.9), candidate("黄河入海流", 4.7)]},
]


def test_selection_keeps_passing_candidates_above_the_threshold_and_values_novelty():
    # without the penalty: the best passing candidate at or above the threshold (the failing 4.9 is out)
    assert select_samples(records, threshold=4.5, diversity=0.0) == [(0, 0), (1, 0), (3, 0)]
    # the same lyrics again overlap fully (4.8 - 1.0) and lose to a novel 4.6
    assert select_samples(records, threshold=4.5, diversity=1.0) == [(0, 0), (1, 1), (3, 0)]
    # a light penalty is not enough to give up 0.2 of score (4.8 - 0.1 > 4.6)
    assert select_samples(records, threshold=4.5, diversity=0.1) == [(0, 0), (1, 0), (3, 0)]
    # the threshold drops what is below it; a gate narrows a prompt's pool
    assert select_samples(records, threshold=4.85, diversity=0.0) == [(3, 0)]
    assert select_samples(records, 4.5, 0.0, eligible=[None, None, None, [1]]) == [(0, 0), (1, 0), (3, 1)]


def test_overlap_is_the_share_of_bigrams_already_kept():
    from collections import Counter

    seen = Counter(["明月", "春风", "风吹"])
    # bigrams of 明月照高楼 / 春风吹又生: 明月 月照 照高 高楼 春风 风吹 吹又 又生 -> 3 of 8 seen
    assert overlap(MOON, seen) == 3 / 8
    assert overlap("", seen) == 0.0
    kept, replay = list(range(3)), list(range(10, 16))
    rows = mix(kept, replay, "seed")
    assert sorted(rows) == kept + replay and rows == mix(kept, replay, "seed") and rows != kept + replay


def evals(means, distinct_2=0.8, top=0.03):
    records = [{"id": f"p{i}", "candidates": [{"scores": {"overall": m}}]} for i, m in enumerate(means)]
    return {"records": records, "metrics": {"distinct_2": distinct_2, "commonest": [{"char": "不", "share": top}]}}


def test_promotion_needs_a_gain_beyond_the_noise_and_diversity():
    rng = random.Random(0)
    base = [4.0 + rng.uniform(-0.3, 0.3) for _ in range(40)]
    round0 = evals(base)["metrics"]
    config = PromotionConfig()
    better = promotion(evals(base), evals([m + 0.2 + rng.uniform(-0.05, 0.05) for m in base]), round0, config)
    assert better["promoted"] and better["interval"][0] > 0.1, better
    noise = promotion(evals(base), evals([m + rng.uniform(-0.1, 0.1) for m in base]), round0, config)
    assert not noise["promoted"] and noise["interval"][0] <= 0 <= noise["interval"][1]
    assert "within the noise" in noise["reason"]
    worse = promotion(evals(base), evals([m - 0.2 for m in base]), round0, config)
    assert not worse["promoted"] and worse["reason"].startswith("overall falls by 0.200")
    narrower = promotion(evals(base), evals([m + 0.2 for m in base], distinct_2=0.75), round0, config)
    assert not narrower["promoted"] and "distinct-2 0.7500 is below 0.7600" in narrower["reason"]
    collapsed = promotion(evals(base), evals([m + 0.2 for m in base], top=0.05), round0, config)
    assert not collapsed["promoted"] and "commonest character's share 5.0% is above 4.5%" in collapsed["reason"]
    gain, low, high = bootstrap_interval({"a": 1.0, "b": 2.0}, {"a": 1.5, "b": 2.5}, 0.95, 200)
    assert gain == 0.5 and low == high == 0.5  # the same gain on every prompt: no spread
    with pytest.raises(ConfigError):
        PromotionConfig(min_distinct_2=1.5)


def test_blind_comparisons_decide_when_there_are_enough():
    def rows(diffs):
        return [{"model_a": "old", "score_a": 3.0, "model_b": "new", "score_b": 3.0 + d} if i % 2 else
                {"model_a": "new", "score_a": 3.0 + d, "model_b": "old", "score_b": 3.0} for i, d in enumerate(diffs)]

    assert mos_decision(rows([1.0] * (MIN_COMPARISONS - 1)), "old", "new") is None
    clear = mos_decision(rows([1.0, 0.5] * MIN_COMPARISONS), "old", "new")
    assert clear["promoted"] and clear["by"] == "mos" and clear["gain"] == 0.75
    split = mos_decision(rows([1.0, -1.0] * MIN_COMPARISONS), "old", "new")
    assert not split["promoted"] and split["gain"] == 0.0
    others = rows([1.0] * 20) + [{"model_a": "x", "score_a": 5, "model_b": "new", "score_b": 1}] * 30
    assert mos_decision(others, "old", "new")["promoted"]  # comparisons with other models are not counted


def lora_model():
    model = tiny_qwen3(64, seed=1)
    with torch.no_grad():  # embeddings of std 1, not 0.02: the tied head's logits can move far from uniform
        model.get_input_embeddings().weight.mul_(50)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    return get_peft_model(model, PeftLoraConfig(r=4, lora_alpha=8, target_modules=targets))


def finetune(kl_weight: float, steps: int = 30) -> tuple[float, float]:
    """(KL to the base, loss on the data) after ``steps`` on one batch of fixed sequences."""
    torch.manual_seed(0)
    model = lora_model().train()
    ids = torch.arange(48).reshape(3, 16) % 7 + 3  # a pattern the random base does not predict
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}
    cfg = StageConfig(steps=steps, batch_size=3, seq_len=16, lr=1e-2, kl_weight=kl_weight, lora=LoraConfig(r=4))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    accelerator = Accelerator(cpu=True)
    for _ in range(steps):
        micro_steps(model, batch, cfg, accelerator)
        optimizer.step()
        optimizer.zero_grad()
    with torch.no_grad():
        out = model(**batch)
        return anchor_kl(model, batch, out.logits).item(), out.loss.item()


def test_the_kl_anchor_keeps_the_finetune_near_its_base():
    model = lora_model()
    ids = torch.randint(0, 64, (2, 12))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
    with torch.no_grad():  # LoRA starts as the identity (B = 0): no divergence yet
        assert anchor_kl(model, batch, model(**batch).logits).item() == pytest.approx(0.0, abs=1e-6)
    free_kl, free_loss = finetune(0.0)
    anchored_kl, anchored_loss = finetune(2.0)
    assert anchored_kl < 0.5 * free_kl, (anchored_kl, free_kl)
    assert free_loss < anchored_loss  # the anchor costs fit to the data: it is a real constraint
    with pytest.raises(ConfigError, match="kl_weight needs lora"):
        StageConfig(steps=1, batch_size=1, seq_len=8, lr=1e-3, kl_weight=1.0)
