"""Context accuracy on Cantonese polyphones, per register: Tianci beside plain pycantonese and ToJyutping.

One marked character per sentence (``bench/data/polyphones_yue*.tsv``); a system is right when its reading
of that character, read in its sentence, equals the label. Tianci is read through ``phonetics.analyze(text,
"yue")`` (the register it guesses, as a user gets it); the other two systems and the set loader are those of
``bench/phonetics_accuracy.py``.

The blind sets are only read with ``--blind``: they are meant for a final measurement, not for development. The
first (``polyphones_yue_blind.tsv``) was read at the end of round 2; the second (``polyphones_yue_blind2.tsv``,
written later the same way, without its predecessor's sentences) was read before and after round 3's rules; the
third (``polyphones_yue_blind3.tsv``, written after the second was read) before and after round 4's, which came from
the errors on dev set 2 (``polyphones_yue_dev2.tsv``); blinds 4-14 (``polyphones_yue_blind4.tsv`` ...), drawn like
the public benchmark, one before each later round (``bench/data/README_polyphones_yue_dev.md``).

    python bench/yue_dev_accuracy.py [--blind] [--errors]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.phonetics_accuracy import Marked, marked_set, plain_pycantonese, tojyutping
from phonetics import analyze

SETS = [("method's set", "polyphones_yue.tsv"), ("old blind", "polyphones_yue_test.tsv"),
        ("dev", "polyphones_yue_dev.tsv"), ("dev 2", "polyphones_yue_dev2.tsv")]
BLIND = [("blind", "polyphones_yue_blind.tsv"), ("blind 2", "polyphones_yue_blind2.tsv"),
         ("blind 3", "polyphones_yue_blind3.tsv"), ("blind 4", "polyphones_yue_blind4.tsv"),
         ("blind 5", "polyphones_yue_blind5.tsv"), ("blind 6", "polyphones_yue_blind6.tsv"),
         ("blind 7", "polyphones_yue_blind7.tsv"), ("blind 8", "polyphones_yue_blind8.tsv"),
         ("blind 9", "polyphones_yue_blind9.tsv"), ("blind 10", "polyphones_yue_blind10.tsv"),
         ("blind 11", "polyphones_yue_blind11.tsv"), ("blind 12", "polyphones_yue_blind12.tsv"),
         ("blind 13", "polyphones_yue_blind13.tsv"), ("blind 14", "polyphones_yue_blind14.tsv")]
REGISTERS = ("literary", "written", "colloquial")


def tianci(text: str) -> list[str | None]:
    return [s.romanization for s in analyze(text, "yue").syllables]


SYSTEMS: list[tuple[str, Callable[[str], list[str | None]]]] = [
    ("tianci", tianci), ("pycantonese", plain_pycantonese), ("ToJyutping", tojyutping)]


def readings(sentences: list[Marked]) -> dict[str, list[str | None]]:
    return {name: [system(m.text)[m.index] for m in sentences] for name, system in SYSTEMS}


def table(name: str, sentences: list[Marked], got: dict[str, list[str | None]]) -> list[str]:
    rows = []
    for register in (*REGISTERS, "all"):
        picked = [i for i, m in enumerate(sentences) if register in ("all", m.register)]
        if not picked:
            continue
        cells = [f"{100 * sum(got[s][i] == sentences[i].reading for i in picked) / len(picked):6.1f}"
                 for s, _ in SYSTEMS]
        rows.append(f"| {name:<13} | {register:<10} | {len(picked):>4} | " + " | ".join(cells) + " |")
    return rows


def errors(sentences: list[Marked], got: list[str | None]) -> Counter:
    return Counter((m.text[m.index], r, m.reading) for m, r in zip(sentences, got, strict=True) if r != m.reading)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blind", action="store_true", help="also measure the blind set (final measurement only)")
    parser.add_argument("--errors", action="store_true", help="list Tianci's misses on the dev set, by class")
    args = parser.parse_args()
    sets = [*SETS, *BLIND] if args.blind else SETS
    print("| set           | register   |    n | " + " | ".join(f"{s:>6}" for s, _ in SYSTEMS) + " |")
    print("|---------------|------------|-----:|" + "|".join("-------:" for _ in SYSTEMS) + "|")
    dev: tuple[list[Marked], dict] | None = None
    for name, filename in sets:
        sentences = marked_set(filename)
        got = readings(sentences)
        print("\n".join(table(name, sentences, got)))
        if name == "dev":
            dev = (sentences, got)
    if args.errors and dev:
        sentences, got = dev
        print("\nTianci's misses on the dev set (character, Tianci's reading -> label: count):")
        for (char, wrong, right), n in errors(sentences, got["tianci"]).most_common():
            print(f"  {char} {wrong} -> {right}: {n}")


if __name__ == "__main__":
    main()
