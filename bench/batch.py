"""`tianci batch` throughput with the default model on this CPU: specs generated together (one model call
per shape, up to --batch-size specs) vs one by one, same specs, same candidates per spec.

    python bench/batch.py [--specs 32] [--n 4] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lyrics.models import DEFAULT_MODEL, load_model
from pipeline.batch import run_batch
from pipeline.writer import Writer

TOPICS = ("月光", "海港", "春雨", "离别", "故乡", "夜车", "秋风", "山城")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs", type=int, default=32)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    model, tokenizer = load_model(DEFAULT_MODEL, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        specs = Path(tmp) / "specs.jsonl"
        specs.write_text("".join(json.dumps({"id": str(i), "lang": ("cmn", "yue")[i % 2],
                                             "topic": TOPICS[i % len(TOPICS)], "structure": "7A 7A 7B 7A"},
                                            ensure_ascii=False) + "\n" for i in range(args.specs)), "utf-8")
        writer = Writer(model, tokenizer)
        run_batch(writer, specs, Path(tmp) / "warm.jsonl", args.n, args.batch_size, 0, progress=False)
        rates = {}
        for label, size in (("batched", args.batch_size), ("one by one", 1)):
            began = time.perf_counter()
            summary = run_batch(writer, specs, Path(tmp) / f"{size}.jsonl", args.n, size, 0, progress=False)
            rates[label] = args.specs / (time.perf_counter() - began)
            print(f"{label} (batch size {size}): {summary.line()}")
    print(f"\nheadline: {rates['batched']:.2f} items/s batched vs {rates['one by one']:.2f} one by one "
          f"(x{rates['batched'] / rates['one by one']:.2f}), {args.n} candidates of 7A 7A 7B 7A each")


if __name__ == "__main__":
    main()
