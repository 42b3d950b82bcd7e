"""What rejection sampling keeps and which model it keeps: a selection that values diversity, and a promotion
gate.

**Selection** (:func:`select_samples`): prompts are taken in order; among a prompt's candidates that pass every
check (and the repetition gate, when on) and reach the threshold, the one kept maximises

    overall - diversity * overlap(candidate, kept so far)

where ``overlap`` is the share of the candidate's character bigrams already used by the samples kept before
it in the round (:func:`overlap`). Without the penalty the loop keeps the scorer's favourite phrasing again and
again and the finetune sharpens it (distinct-2 0.784 -> 0.634 in two rounds, docs/rejection-sampling.md).

>>> seen = Counter({"明月": 1, "月光": 1})
>>> overlap("明月光", seen), overlap("春风", seen)
(1.0, 0.0)
>>> record = {"candidates": [{"lyrics": "明月光", "checks": {"ok": True}, "scores": {"overall": 4.6}},
...                          {"lyrics": "春风起", "checks": {"ok": True}, "scores": {"overall": 4.4}}]}
>>> [pick for _, pick in select_samples([record, record], threshold=4.0, diversity=0.0)]
[0, 0]
>>> [pick for _, pick in select_samples([record, record], threshold=4.0, diversity=0.5)]
[0, 1]

**Promotion** (:func:`promotion`): a round's model replaces the current one only if, on the held-out prompts,
its mean overall score rises beyond the noise (the lower end of a paired bootstrap interval over prompts is
above 0) and the diversity limits hold against round 0 (distinct-2 at least ``min_distinct_2`` of it, the
commonest character's share at most ``max_top_char`` times it). When the ratings store holds enough blind
comparisons of the two models (the demo's Compare tab), their mean opinion scores decide instead
(:func:`mos_decision`).
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence

from scorer.ratings import mean_interval

from ..config import PromotionConfig

MIN_COMPARISONS = 10  # blind comparisons of the two models needed before human opinion decides


def ngrams(text: str, n: int) -> list[str]:
    """The character n-grams of ``text``, line by line (none spans a line break)."""
    return [line[i:i + n] for line in text.split("\n") for i in range(len(line) - n + 1)]


def bigrams(text: str) -> list[str]:
    return ngrams(text, 2)


def overlap(text: str, seen: Counter) -> float:
    """Share of ``text``'s character bigrams (within lines) already in ``seen``."""
    grams = bigrams(text)
    return sum(g in seen for g in grams) / len(grams) if grams else 0.0


def select_samples(records: Sequence[dict], threshold: float, diversity: float,
                   eligible: Iterable[Iterable[int] | None] | None = None) -> list[tuple[int, int]]:
    """``(record index, candidate index)`` of each kept sample, in order: per record, among candidates passing
    every check (and in its ``eligible`` set when given) whose overall score reaches ``threshold``, the best by
    overall minus ``diversity`` times their overlap with the samples kept before."""
    seen: Counter = Counter()
    gates = list(eligible) if eligible is not None else [None] * len(records)
    picks = []
    for index, (record, gate) in enumerate(zip(records, gates, strict=True)):
        allowed = None if gate is None else set(gate)
        pool = [(j, c) for j, c in enumerate(record.get("candidates") or [])
                if c["checks"]["ok"] and c["scores"]["overall"] >= threshold and (allowed is None or j in allowed)]
        if not pool:
            continue
        j, chosen = max(pool, key=lambda jc: (jc[1]["scores"]["overall"] - diversity * overlap(jc[1]["lyrics"], seen),
                                               -jc[0]))
        seen.update(bigrams(chosen["lyrics"]))
        picks.append((index, j))
    return picks


def mix(kept: list, replay: list, seed: str) -> list:
    """The round's training rows: the kept samples and the replayed original exchanges, shuffled together."""
    rows = kept + replay
    random.Random(seed).shuffle(rows)
    return rows


# ---- promotion ------------------------------------------------------------------------------------

def prompt_means(records: Iterable[dict]) -> dict[str, float]:
    """Per prompt id: the mean overall score of its candidates."""
    means = {}
    for record in records:
        values = [c["scores"]["overall"] for c in record.get("candidates") or [] if c.get("scores")]
        if values:
            means[record["id"]] = statistics.fmean(values)
    return means


def bootstrap_interval(current: dict[str, float], candidate: dict[str, float], confidence: float,
                       resamples: int, seed: int = 0) -> tuple[float, float, float]:
    """(mean gain, low, high): the candidate's mean overall minus the current model's over the prompts both
    answered, with a paired bootstrap interval (prompts resampled)."""
    shared = sorted(set(current) & set(candidate))
    if not shared:
        return 0.0, 0.0, 0.0
    gains = [candidate[p] - current[p] for p in shared]
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(gains, k=len(gains))) for _ in range(resamples))
    tail = (1 - confidence) / 2
    low, high = means[int(tail * resamples)], means[min(resamples - 1, int((1 - tail) * resamples))]
    return statistics.fmean(gains), low, high


def promotion(current: dict, candidate: dict, round0: dict, config: PromotionConfig) -> dict:
    """Whether ``candidate`` (a round's eval: ``{"records", "metrics"}``) replaces ``current``, and why; the
    diversity limits are read against ``round0``'s metrics."""
    gain, low, high = bootstrap_interval(prompt_means(current["records"]), prompt_means(candidate["records"]),
                                         config.confidence, config.resamples)
    metrics, base = candidate["metrics"], round0
    d2_limit = config.min_distinct_2 * base["distinct_2"]
    top_limit = config.max_top_char * base["commonest"][0]["share"] if base.get("commonest") else 1.0
    top = metrics["commonest"][0]["share"] if metrics.get("commonest") else 0.0
    reasons = []
    if high < 0:
        reasons.append(f"overall falls by {-gain:.3f} ({config.confidence:.0%} interval {low:+.3f} to {high:+.3f})")
    elif low <= 0:
        reasons.append(f"overall gain {gain:+.3f} is within the noise ({config.confidence:.0%} interval "
                       f"{low:+.3f} to {high:+.3f})")
    if metrics["distinct_2"] < d2_limit:
        reasons.append(f"distinct-2 {metrics['distinct_2']:.4f} is below {d2_limit:.4f} "
                       f"({config.min_distinct_2:.0%} of round 0)")
    if top > top_limit:
        reasons.append(f"the commonest character's share {top:.1%} is above {top_limit:.1%} "
                       f"({config.max_top_char:g}x round 0)")
    promoted = not reasons
    why = (f"overall gain {gain:+.3f} ({config.confidence:.0%} interval {low:+.3f} to {high:+.3f}) and the "
           "diversity limits hold") if promoted else "; ".join(reasons)
    return {"promoted": promoted, "by": "bootstrap", "gain": round(gain, 4), "interval": [round(low, 4),
            round(high, 4)], "reason": why}


def mos_decision(comparisons: Iterable[dict], current: str, candidate: str) -> dict | None:
    """The blind comparisons between the two models' names decide when there are at least
    :data:`MIN_COMPARISONS`: promoted when the candidate's paired score difference has a 95% interval above 0.
    None when there are too few."""
    diffs = []
    for row in comparisons:
        sides = {row["model_a"]: row["score_a"], row["model_b"]: row["score_b"]}
        if set(sides) == {current, candidate}:
            diffs.append(sides[candidate] - sides[current])
    if len(diffs) < MIN_COMPARISONS:
        return None
    mean, half = mean_interval(diffs)
    promoted = mean - half > 0
    return {"promoted": promoted, "by": "mos", "gain": round(mean, 4),
            "interval": [round(mean - half, 4), round(mean + half, 4)],
            "reason": f"{len(diffs)} blind comparisons: opinion score {mean:+.2f} +/- {half:.2f} "
                      + ("above" if promoted else "not above") + " the current model's"}
