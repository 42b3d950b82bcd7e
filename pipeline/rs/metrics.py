"""What a round is measured by on held-out prompts: mean scores per aspect, distinct-n, repeated lines, the checks'
pass rate, validation perplexity."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter

import torch

from lyrics.training.config import GeneratorConfig
from lyrics.training.examples import stage_examples
from lyrics.training.generator import held_out_loss, pad_id_of
from scorer.ratings import ASPECTS

from ..config import RSConfig
from .selection import ngrams


def distinct(texts: list[str], n: int) -> float:
    """Distinct-n: unique character n-grams over all n-grams of the texts (lines not joined)."""
    grams = [gram for text in texts for gram in ngrams(text, n)]
    return round(len(set(grams)) / len(grams), 4) if grams else 0.0


def eval_metrics(records: list[dict], ppl: float) -> dict:
    cands = [c for r in records if "candidates" in r for c in r["candidates"]]
    texts = [c["lyrics"] for c in cands]
    chars = Counter(ch for text in texts for ch in text if ch != "\n")
    best = [r["candidates"][r["best"]]["scores"]["overall"] for r in records if r.get("best") is not None]
    return {
        "prompts": len(records), "candidates": len(cands),
        "scores": {a: round(sum(c["scores"][a] for c in cands) / len(cands), 4) for a in ASPECTS} if cands else {},
        "best_overall": round(sum(best) / len(best), 4) if best else None,
        "distinct_1": distinct(texts, 1), "distinct_2": distinct(texts, 2),
        "repeated_line_rate": round(sum(len(set(t.split("\n"))) < len(t.split("\n")) for t in texts) / len(texts), 4)
        if texts else 0.0,
        "pass_rate": round(sum(c["checks"]["ok"] for c in cands) / len(cands), 4) if cands else 0.0,
        "commonest": [{"char": ch, "share": round(n / chars.total(), 4)} for ch, n in chars.most_common(3)],
        "valid_ppl": round(ppl, 3),
    }


def validation_ppl(model, tokenizer, cfg: RSConfig) -> float:
    """Perplexity of the generator on the held-out sft exchanges (valid split), as the sft stage measures it."""
    config = GeneratorConfig(name=cfg.name, seed=cfg.seed, stages={"sft": cfg.sft},
                             data=dataclasses.replace(cfg.data, examples=None, max_works=200))
    _, valid = stage_examples(config, "sft", tokenizer, cfg.sft.seq_len)
    return math.exp(held_out_loss(model, valid, cfg.sft, cfg.seed, pad_id_of(tokenizer), torch.device(model.device)))
