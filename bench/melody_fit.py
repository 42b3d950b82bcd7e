"""Mandarin melody fit with the melody pull on and off: 20 seeded melodies (4 lines of 5-7 notes within an
octave and a half), the shipped model, 4 candidates each, the same seeds for both arms; the fit
(``lyrics.decoding.melody.melody_fit``) and the share of candidates passing every check, per pull.

    python bench/melody_fit.py [--melodies 20] [--pulls 0,1,2,4]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's packages, not bench/phonetics.py

from lyrics.decoding.melody import Melody, melody_fit
from lyrics.decoding.spec import LyricSpec
from lyrics.generation import generate
from lyrics.models import DEFAULT_MODEL, load_model
from tianci.cli import add_renamed_flag

TOPICS = ("月光", "夏天的海边", "回家", "城市夜晚", "分手以后", "老朋友", "下雨天", "毕业")


def melodies(count: int, seed: int = 0) -> list[Melody]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        lines, pitch = [], rng.randrange(0, 8)
        for _ in range(4):
            notes = []
            for _ in range(rng.choice((5, 6, 7))):
                pitch = min(17, max(-2, pitch + rng.choice((-4, -2, -1, 0, 1, 2, 3, 5))))
                notes.append(pitch)
            lines.append(tuple(notes))
        out.append(Melody(tuple(lines)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--melodies", type=int, default=20)
    parser.add_argument("--pulls", default="0,1,2,4")
    add_renamed_flag(parser, "--strengths", "--pulls", str)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tokenizer = load_model(DEFAULT_MODEL, device="cpu")
    tunes = melodies(args.melodies)
    print(f"{'pull':>8} {'fit':>6} {'checks pass':>12}")
    for pull in (float(s) for s in args.pulls.split(",")):
        fits, passed, total = [], 0, 0
        for i, tune in enumerate(tunes):
            spec = LyricSpec.from_dict({"lang": "cmn", "topic": TOPICS[i % len(TOPICS)],
                                        "structure": " ".join(f"{len(line)}A" for line in tune.lines)})
            for c in generate(model, tokenizer, spec, n=4, seed=i, melody=tune, melody_pull=pull):
                total += 1
                passed += c.checks.ok
                if c.checks.structure:
                    fits.append(melody_fit(c.lyrics, tune, "cmn")["fit"])
        print(f"{pull:8.1f} {statistics.mean(fits):6.3f} {passed / total:12.1%}")


if __name__ == "__main__":
    main()
