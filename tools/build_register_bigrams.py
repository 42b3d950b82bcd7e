"""Builds ``phonetics/data/register_yue.json``: the modern bigrams that tell modern text from verse.

A bigram (two Chinese characters side by side, in Hong Kong traditional script) is modern when it occurs at
least ``--min-count`` times in modern text (the corpus's songs, HKCanCor's conversations, the CPP Wikipedia
sentences outside the Mandarin bench's held-out fifth) and never in classical verse (the Tang shi and the Song
ci of chinese-poetry). ``phonetics.cantonese.register_of`` reads a text with one of them as modern, not verse.

    python tools/build_register_bigrams.py [--min-count N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lyrics.data.corpus import hkcancor_utterances, poetry  # noqa: E402
from phonetics.script import CJK_RUN, convert  # noqa: E402

OUT = ROOT / "phonetics" / "data" / "register_yue.json"
CPP = ROOT.parent / "shared" / "data" / "cpp" / "dev.sent"


def bigrams(texts: Iterable[str]) -> Iterator[str]:
    for text in texts:
        for run in CJK_RUN.findall(convert(text, "s2hk")):
            yield from (run[i:i + 2] for i in range(len(run) - 1))


def classical() -> Iterator[str]:
    for name in ("tang", "songci"):
        for work in poetry(name):
            yield "".join(work.lines)


def modern() -> Iterator[str]:
    for path in sorted((ROOT / "corpus" / "songs").glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            yield json.loads(line)["lyrics"]
    for tokens in hkcancor_utterances():
        yield "".join(word for word, _ in tokens)
    if CPP.exists():
        for line in CPP.read_text("utf-8").splitlines():
            if int(hashlib.sha1(line.encode()).hexdigest(), 16) % 5:  # not the Mandarin bench's held-out fifth
                yield line.replace("▁", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--min-count", type=int, default=5, help="occurrences in modern text to count")
    args = parser.parse_args()
    verse = set(bigrams(classical()))
    counts = Counter(b for b in bigrams(modern()) if b not in verse)
    kept = sorted(b for b, n in counts.items() if n >= args.min_count)
    OUT.write_text(json.dumps({
        "about": "Modern bigrams (Hong Kong traditional script): at least "
                 f"{args.min_count} times in modern text (Tianci's corpus songs, HKCanCor, CPP Wikipedia sentences "
                 "outside the Mandarin bench's held-out fifth), never in the Tang shi or Song ci of chinese-poetry. "
                 "A text holding one is modern, not verse (phonetics.cantonese.register_of). Built by "
                 "tools/build_register_bigrams.py.",
        "modern_bigrams": " ".join(kept)}, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{len(kept):,} modern bigrams -> {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
