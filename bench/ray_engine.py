"""tianci batch on the local engine and on Ray with 1 and 2 actors: items/s on the same specs (the shipped
model, no scorer), and what starting Ray and its actors costs, in one run.

    python bench/ray_engine.py [--specs 48]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ray

from lyrics.models import DEFAULT_MODEL, load_model, set_cpu_threads
from pipeline.batch import run_batch
from pipeline.config import EngineConfig
from pipeline.ray_engine import ray_engine
from pipeline.writer import Writer

STRUCTURES = ("7A 7A 7B 7A", "5A 5A 5B 5A")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs", type=int, default=48)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tianci-ray-bench-"))
    specs = folder / "specs.jsonl"
    specs.write_text("".join(json.dumps({"id": f"s{i}", "lang": ("cmn", "yue")[i % 2], "topic": "月光",
                                         "structure": STRUCTURES[i // 2 % 2]}, ensure_ascii=False) + "\n"
                             for i in range(args.specs)), encoding="utf-8")
    results = {}
    model, tokenizer = load_model(DEFAULT_MODEL, device="cpu")
    set_cpu_threads(model)
    summary = run_batch(Writer(model, tokenizer), specs, folder / "local.jsonl", n=4, batch_size=8, seed=0,
                        progress=False)
    results["local engine"] = (summary.seconds, args.specs / summary.seconds)
    began = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - began
    for actors in (1, 2):
        engine = ray_engine(EngineConfig(kind="ray", actors=actors), str(DEFAULT_MODEL), None, None)
        summary = run_batch(None, specs, folder / f"ray{actors}.jsonl", n=4, batch_size=8, seed=0,
                            progress=False, engine=engine)
        results[f"ray, {actors} actor{'s' if actors > 1 else ''}"] = (summary.seconds, args.specs / summary.seconds)
    ray.shutdown()
    print(f"{args.specs} specs x 4 candidates, chunks of 8, on {2} CPU cores")
    print(f"{'engine':18} {'seconds':>8} {'items/s':>8} {'vs local':>9}")
    base = results["local engine"][1]
    for name, (seconds, rate) in results.items():
        print(f"{name:18} {seconds:8.1f} {rate:8.2f} {rate / base:8.2f}x")
    print(f"starting a local Ray: {startup:.1f} s (the actors' model loading is inside the Ray rows above)")


if __name__ == "__main__":
    main()
