"""Annotation throughput on the Song ci collection (about 1.8M characters), per language, cold and warm.

Cold: a fresh process's first pass (dictionaries loaded, every clause read for the first time).
Warm: the same text again, its clauses now cached. Headline figures are printed last; the target is
the whole collection in under 60 s per language on a 2-core machine.

    python bench/phonetics.py [--limit N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from lyrics.data.corpus import songci
from phonetics import annotate
texts = [w.text for w in songci()][: {limit}]
chars = sum(map(len, texts))
t1 = time.perf_counter()
annotate("月", "{lang}")
t2 = time.perf_counter()
for text in texts:
    annotate(text, "{lang}")
t3 = time.perf_counter()
for text in texts:
    annotate(text, "{lang}")
t4 = time.perf_counter()
print(json.dumps({{"chars": chars, "load": t2 - t1, "cold": t3 - t2, "warm": t4 - t3}}))
"""


def measure(lang: str, limit: int | None) -> dict[str, float]:
    """One fresh interpreter per language, so the cold pass is really cold."""
    import json

    code = _CHILD.format(lang=lang, limit=limit)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N works only")
    args = parser.parse_args()
    results = {lang: measure(lang, args.limit) for lang in ("cmn", "yue")}
    print("lang | chars | dictionary load s | cold pass s | cold chars/s | warm pass s | warm chars/s")
    for lang, r in results.items():
        print(f"{lang} | {r['chars']:,} | {r['load']:.2f} | {r['cold']:.1f} | {r['chars'] / r['cold']:,.0f} | "
              f"{r['warm']:.2f} | {r['chars'] / r['warm']:,.0f}")
    print()
    for lang, r in results.items():
        total = r["load"] + r["cold"]
        verdict = "under" if total < 60 else "OVER"
        print(f"headline {lang}: {r['chars']:,} chars in {total:.1f} s cold ({verdict} the 60 s target), "
              f"{r['chars'] / r['cold']:,.0f} chars/s cold, {r['chars'] / r['warm']:,.0f} chars/s warm")


if __name__ == "__main__":
    main()
