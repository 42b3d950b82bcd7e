"""Query expansion's effect on the default model: held-out prompts (titles of valid-split works) written with
the plain topic and with the topic enriched by corpus imagery (lyrics/data/expansion.py); the scorer judges both
against the plain topic. Same prompts, seeds and candidates per prompt in both arms.

    python bench/query_expansion.py [--prompts 100] [--k 4]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lyrics.data.expansion import build_imagery_tables
from lyrics.files import read_jsonl
from lyrics.models import DEFAULT_MODEL, load_model
from lyrics.training.config import load_config
from pipeline.config import RSConfig
from pipeline.rs.metrics import eval_metrics
from pipeline.rs.sampling import make_prompts, sample_prompts
from scorer.model import Scorer
from scorer.ratings import mean_interval

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=100)
    parser.add_argument("--k", type=int, default=4)
    args = parser.parse_args()
    cfg = load_config(ROOT / "configs" / "rs_tiny.yaml", RSConfig)
    prompts = make_prompts(cfg, "valid", args.prompts)
    imagery_tables = build_imagery_tables(cfg.data.works_dir, cfg.data.langs)
    model, tokenizer = load_model(DEFAULT_MODEL, device="cpu")
    scorer = Scorer.load()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, tables in (("plain topic", None), ("expanded", imagery_tables)):
            out = Path(tmp) / f"{label}.jsonl"
            sample_prompts(model, tokenizer, scorer, prompts, out, args.k, 0, cfg.temperature, tables, desc=label)
            records = read_jsonl(out)
            rows[label] = (eval_metrics(records, float("nan")), records)
    print(f"{len(prompts)} held-out prompts x {args.k} candidates, default model, scorer models/scorer-tiny")
    print("| arm | relevance | content | overall | language | distinct-2 |")
    print("|---|---|---|---|---|---|")
    for label, (metrics, records) in rows.items():
        cells = []
        for aspect in ("relevance", "content", "overall", "language"):
            mean, half = mean_interval([c["scores"][aspect] for r in records for c in r["candidates"]])
            cells.append(f"{mean:.3f} ± {half:.3f}")
        print(f"| {label} | {' | '.join(cells)} | {metrics['distinct_2']:.3f} |")
    expanded = [r for r in rows["expanded"][1] if r.get("asked_topic") != r["prompt"]["topic"]]
    print(f"prompts given imagery: {len(expanded)}/{len(prompts)}; e.g.",
          ", ".join(json.dumps(r["asked_topic"], ensure_ascii=False) for r in expanded[:3]))


if __name__ == "__main__":
    main()
