"""Build ``phonetics/data/trust_cmn.json``: when Tianci takes the context model's reading of a Mandarin polyphone over
pypinyin's word dictionary (:class:`phonetics.mandarin.Trust`).

    python tools/build_trust_cmn.py [--cpp ../shared/data/cpp]

Labelled sentences: the CPP development split (Park & Lee 2020, Apache-2.0) less its held-out test fifth (the
sentences whose SHA-1 is 0 mod 5, which ``bench/phonetics_accuracy.py`` scores: never read here), and Tianci's
everyday method set (``bench/data/polyphones_cmn.tsv``, each sentence counted ``EVERYDAY_WEIGHT`` times). Each marked
polyphone is read as the reader reads it (its sentence, pypinyin run by run, the model over the sentence); rules'
characters are left to the rules. Then:

- ``threshold``: the model's reading stands outside dictionary words from this probability on (the CPP folds chose
  0.5 by 4-fold cross-validation: 0.9 before);
- ``cautious``: characters the everyday method set shows the model misreading between ``threshold`` and 0.9
  (they keep 0.9);
- ``switch``: (character, reading chosen so, the other source's reading) where the other source was right at least
  ``MARGIN`` more times and at least twice as often as the chosen one, counted over all the labelled sentences
  (``MARGIN`` 1: a 4-fold cross-validation over the CPP folds read 7,168 of their 7,298 such polyphones right so,
  7,167 with the margin alone, 7,161 with a margin of 2; the ratio keeps 应 in 回应 ying4, 7 against 6).

Deterministic: the same data and model give the same file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from phonetics.context import apply_rules, load_rules  # noqa: E402
from phonetics.mandarin import SENTENCE, TRUST, Trust, sources  # noqa: E402
from phonetics.script import CJK_RUN, convert  # noqa: E402

THRESHOLD = 0.5
CAUTIOUS = 0.9
MARGIN = 1
EVERYDAY_WEIGHT = 5
OUT = ROOT / "phonetics" / "data" / f"{TRUST}.json"


def labelled(cpp: Path) -> list[tuple[str, int, str, int]]:
    """(text, index, gold, weight): CPP folds 1-4 and the everyday method set."""
    out = []
    sentences = (cpp / "dev.sent").read_text("utf-8").splitlines()
    labels = (cpp / "dev.lb").read_text("utf-8").splitlines()
    for sentence, label in zip(sentences, labels, strict=True):
        if int(hashlib.sha1(sentence.encode()).hexdigest()[:6], 16) % 5 != 0:
            out.append((convert(sentence.replace("▁", ""), "t2s"), sentence.index("▁"), label.replace("u:", "v"), 1))
    for line in (ROOT / "bench" / "data" / "polyphones_cmn.tsv").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            marked, reading, *_ = line.split("\t")
            out.append((marked.replace("[", "").replace("]", ""), marked.index("["), reading, EVERYDAY_WEIGHT))
    return out


def records(items: list[tuple[str, int, str, int]]) -> list[tuple[str, str | None, str, float, bool, str, int]]:
    """(char, pypinyin's reading, the model's, probability, inside a word, gold, weight) per marked polyphone the
    model is asked about and no rule reads."""
    rules = load_rules("context_cmn")
    where = []  # (sentence, index in it) per item
    for text, index, _, _ in items:
        match = next(m for m in SENTENCE.finditer(convert(text, "t2s")) if m.start() <= index < m.end())
        where.append((match.group(), index - match.start()))
    sentences = list(dict.fromkeys(s for s, _ in where))
    number = {s: k for k, s in enumerate(sentences)}
    asked: dict[tuple[int, int], tuple] = {}
    sources(sentences, seen=lambda k, i, *rest: asked.__setitem__((k, i), rest))
    out = []
    for (sentence, i), (_, _, gold, weight) in zip(where, items, strict=True):
        found = asked.get((number[sentence], i))
        if found is None:
            continue
        ruled: list[str | None] = [None] * len(sentence)
        for run in CJK_RUN.finditer(sentence):
            apply_rules(rules, run.group(), ruled, offset=run.start())
        if ruled[i] is None:
            out.append((*found, gold, weight))
    return out


def build(found) -> dict:
    cautious = sorted({char for char, _, model, p, in_word, gold, weight in found
                       if weight > 1 and not in_word and THRESHOLD <= p < CAUTIOUS and model != gold})
    trust = Trust(THRESHOLD, dict.fromkeys(cautious, CAUTIOUS), frozenset())
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for char, word, model, p, in_word, gold, weight in found:
        chosen = trust.default(char, word, model, p, in_word)
        other = word if chosen == model else model
        if other is None or other == chosen:
            continue
        if gold == other:
            counts[char, chosen, other][0] += weight
        elif gold == chosen:
            counts[char, chosen, other][1] += weight
    switch = sorted([*key, right, wrong] for key, (right, wrong) in counts.items()
                    if right - wrong >= MARGIN and right >= 2 * wrong)
    return {"about": __doc__.split("\n\n")[0].replace("\n", " ") + " Built by tools/build_trust_cmn.py; each switch "
                     "entry: character, reading chosen, reading taken instead, times the taken one was right, "
                     "times the chosen one was.",
            "threshold": THRESHOLD, "cautious": dict.fromkeys(cautious, CAUTIOUS), "switch": switch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpp", type=Path, default=ROOT.parent / "shared" / "data" / "cpp")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    table = build(records(labelled(args.cpp)))
    text = json.dumps(table, ensure_ascii=False, indent=None, separators=(", ", ": "))
    args.out.write_text(text.replace('"switch": [[', '"switch": [\n  [').replace("], [", "],\n  [") + "\n", "utf-8")
    print(f"wrote {args.out}: threshold {table['threshold']}, {len(table['cautious'])} cautious characters, "
          f"{len(table['switch'])} switches")


if __name__ == "__main__":
    main()
