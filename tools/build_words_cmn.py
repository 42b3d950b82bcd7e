"""Build ``phonetics/data/words_cmn.json``: the CC-CEDICT words whose reading of a Mandarin polyphone differs from
pypinyin's reading of the same word (:func:`phonetics.mandarin.listed_readings`).

    python tools/build_words_cmn.py    # needs the cc-cedict asset (`make setup`)

A word is listed when it is 2 to 4 characters long and not only a proper name, holds a polyphone the
context model knows (``phonetics/data/g2pm/choices.json``), every CC-CEDICT entry of it reads that polyphone the same
way, and that reading differs from pypinyin's reading of the word, or of the character alone (neutral tones aside:
the two dictionaries mark them differently). The reader takes a listed reading only where the context model, reading
the whole sentence, agrees with it: two independent sources against pypinyin's one (on the CPP development split less
its test fifth: 12 sentences more right, net). Deterministic: the same dictionary gives the same file.

CC-CEDICT is by MDBG and its contributors, CC BY-SA 4.0; the file this writes is a derived work under the same licence.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lyrics.data.corpus import cedict  # noqa: E402
from lyrics.files import write_atomic  # noqa: E402
from phonetics.mandarin import WORDS, pypinyin_run  # noqa: E402
from phonetics.polyphone import load_choices  # noqa: E402

OUT = ROOT / "phonetics" / "data" / f"{WORDS}.json"
SYLLABLE = re.compile(r"[a-zv]+[1-5]")


def cedict_words() -> dict[str, set[tuple[str, ...]]]:
    """Simplified word (2-4 characters) → its CC-CEDICT readings as a common word (tone digits, ``v`` for ü)."""
    words: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for entry in cedict():
        if entry.pinyin[:1].isupper():  # a proper name (南燕 Nán Yān, a state): lyrics mean the word (江南燕 yàn)
            continue
        syllables = tuple(entry.pinyin.lower().replace("u:", "v").split())
        if (2 <= len(entry.simplified) <= 4 and len(syllables) == len(entry.simplified)
                and all(SYLLABLE.fullmatch(s) for s in syllables)):
            words[entry.simplified].add(syllables)
    return words


def build() -> dict:
    choices = load_choices()
    listed = {}
    for word, readings in sorted(cedict_words().items()):
        at = [i for i, char in enumerate(word) if char in choices]
        if not at or len({tuple(r[i] for i in at) for r in readings}) != 1:
            continue
        reading = min(readings)
        # pypinyin reads the word so alone, or (cut otherwise in a sentence) each character alone
        theirs = (pypinyin_run(word), tuple(pypinyin_run(char)[0] for char in word))
        if any(reading[i] != their[i] and "5" not in (reading[i][-1], their[i][-1]) for their in theirs for i in at):
            listed[word] = " ".join(reading)
    return {"about": __doc__.split("\n\n")[0].replace("\n", " ") + " Built by tools/build_words_cmn.py from CC-CEDICT "
                     "(MDBG, CC BY-SA 4.0; this file is under the same licence).",
            "words": listed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    table = build()
    text = json.dumps(table, ensure_ascii=False, indent=0, sort_keys=False)
    write_atomic(args.out, text + "\n")
    print(f"wrote {args.out}: {len(table['words'])} words")


if __name__ == "__main__":
    main()
