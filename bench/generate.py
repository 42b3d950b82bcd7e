"""Speed of ``tianci generate`` with the shipped default model on this CPU: four candidates of a 4-line spec.

Measures, in one run, per language: the model's load (cold, first in the process), then the median of
``--reps`` calls of four candidates of "7A 7A 7B 7A" with the processor, and the same without it
(free sampling, hints written into the text), and their ratio; finally the whole CLI command as a user
runs it (a fresh process: imports, model, phonetics tables). Target: four candidates under 10 s.

    python bench/generate.py [--reps N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPECS = {"cmn": {"lang": "cmn", "topic": "月光", "structure": "7A 7A 7B 7A"},
         "yue": {"lang": "yue", "topic": "海港", "structure": "7A 7A 7B 7A"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()

    began = time.perf_counter()
    from lyrics.generation import generate
    from lyrics.models import DEFAULT_MODEL, load_model

    model, tokenizer = load_model(DEFAULT_MODEL, device="cpu")
    print(f"import + load {DEFAULT_MODEL.name}: {time.perf_counter() - began:.2f} s")
    rows = []
    for lang, spec in SPECS.items():
        generate(model, tokenizer, spec, n=4, seed=0)  # warm-up: phonetics tables, token table, masks
        timings = {}
        for constrained in (True, False):
            runs = []
            for rep in range(args.reps):
                start = time.perf_counter()
                generate(model, tokenizer, spec, n=4, seed=rep + 1, constrained=constrained)
                runs.append(time.perf_counter() - start)
            timings[constrained] = statistics.median(runs)
        rows.append((lang, timings[True], timings[False]))
        print(f"{lang}: 4 candidates {timings[True]:.2f} s constrained, {timings[False]:.2f} s free, "
              f"ratio {timings[True] / timings[False]:.2f}")
    for lang, spec in SPECS.items():
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "tianci.cli", "generate", "--lang", lang, "--topic", spec["topic"],
                              "-n", "4", "--seed", "1"], cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
        assert out.returncode == 0, out.stderr
        print(f"`tianci generate --lang {lang} -n 4` as a fresh process: {wall:.2f} s")
    print("\nheadline: " + "; ".join(f"{lang} 4 candidates {c:.2f} s (x{c / f:.2f} of free sampling)"
                                    for lang, c, f in rows))


if __name__ == "__main__":
    main()
