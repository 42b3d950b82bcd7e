"""Build ``phonetics/data/words_yue.json``, the curated Cantonese word table (which reading a polyphone takes in which
common word, read by ``phonetics.cantonese``), from its sources ``phonetics/data/words_yue/part-*.tsv``.

    python tools/build_words_yue.py

Each source line: the polyphonic character, a word holding it, the word's jyutping (a syllable a character), and the
register the reading holds in (``any``, ``literary``, ``written`` or ``colloquial``). A line is read when the character
is in the word and the syllables match the characters; then each polyphone of the word (長相 zoeng2 soeng3: both) is
kept where its syllable is one of its reading sets (so the constrained decoder, which allows a character only when all
its readings qualify, stays exact), a line's own character first (where a word's other polyphone came along, 順便
under 順, its reading holds only where no line gives that character's reading in the word, and not where it differs
only in tone from the lexicons' reading of the word, the spoken tone change a citation form misses: 牙刷 caat3 under
牙, said caat2), and HKCanCor's
speakers, where they said the word at least ``MIN_SPOKEN`` times, gave it that reading most often (教書 gaau3, 後尾
mei1, 知識 zi3: speech, not the writers' citation forms, decides). Where two lines
give one word's character two readings in one register, both are dropped: the table holds only what its writers agree
on. A ``written`` line (the citation form of a word for written text, 雞蛋 daan6) is left out: the reader reads
written text as speech says the word (``phonetics.cantonese._listed``). Deterministic: the same sources give the
same file.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lyrics.files import write_atomic  # noqa: E402
from phonetics.cantonese import CURATED, REGISTERS, _default_lexicon, reading_sets  # noqa: E402
from phonetics.everyday import everyday_readings  # noqa: E402
from phonetics.script import convert  # noqa: E402

SOURCES = ROOT / "phonetics" / "data" / CURATED
OUT = ROOT / "phonetics" / "data" / f"{CURATED}.json"
SYLLABLE = re.compile(r"[a-z]+[1-6]")
MIN_SPOKEN = 2  # HKCanCor tokens of a word before its speakers' reading overrules a source line


def spoken_readings() -> dict[str, str]:
    """HKCanCor's words (two characters or more) → the reading its speakers gave them most often."""
    import pycantonese  # its corpus loads in seconds: only when building

    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for token in pycantonese.hkcancor().tokens():
        syllables = re.findall(r"[a-z]+[1-6]", token.jyutping or "")
        if len(token.word) > 1 and len(syllables) == len(token.word):
            counts[token.word][" ".join(syllables)] += 1
    return {word: found.most_common(1)[0][0] for word, found in counts.items() if found.total() >= MIN_SPOKEN}


def build(sources: Path = SOURCES) -> tuple[dict, dict[str, int]]:
    """The table, and the count of readings kept and dropped, by reason (lines for malformed ones)."""
    sets = reading_sets()
    spoken = spoken_readings()
    found: dict[tuple[str, str, int], set[str]] = defaultdict(set)
    beside: dict[tuple[str, str, int], set[str]] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    for path in sorted(sources.glob("part-*.tsv")):
        for line in path.read_text("utf-8").splitlines():
            fields = line.split("\t")
            if not line.strip() or line.startswith("#"):
                continue
            if len(fields) != 4:
                counts["malformed"] += 1
                continue
            char, word, jyutping, register = (field.strip() for field in fields)
            syllables = jyutping.split()
            if char in word and len(converted := convert(word, "s2hk")) == len(word):
                # the reader looks words up in Hong Kong script (說話 as 説話, 溫度 as 温度, 了解 as 瞭解)
                char, word = converted[word.index(char)], converted
            if (char not in word or len(syllables) != len(word) or not all(SYLLABLE.fullmatch(s) for s in syllables)
                    or register not in ("any", *REGISTERS) or not 2 <= len(word) <= 4):
                counts["malformed"] += 1
                continue
            if register == "written":  # citation forms: the reader reads written text as speech says a word
                counts["written (not read)"] += 1
                continue
            for index, (other, syllable) in enumerate(zip(word, syllables, strict=True)):
                if len(sets.get(other, ())) < 2:
                    continue
                if syllable not in sets[other]:
                    counts["outside the reading sets"] += 1
                    continue
                if word in spoken and spoken[word].split()[index] != syllable:
                    counts["contradicted by HKCanCor's speech"] += 1
                    continue
                # a line's own character first: the writer chose its reading; another polyphone of the word came
                # along (順便 under 順: bin6, where 便's own lines have bin2)
                (found if other == char else beside)[word, register, index].add(syllable)
                counts["kept"] += 1
    lexicon = _default_lexicon().words
    for (word, register, index), readings in beside.items():
        said = {syllables[index] for syllables in (lexicon.get(word), [r for _, r in everyday_readings(word)])
                if syllables and syllables[index]}
        if any(r != other and r[:-1] == other[:-1] for r in readings for other in said):
            counts["beside its own word, a tone the lexicons change"] += 1  # 牙刷 caat3 under 牙; speech: caat2
            continue
        found.setdefault((word, register, index), readings)
    words: dict[str, dict[str, dict[str, str]]] = {}
    for (word, register, index), readings in sorted(found.items()):
        if len(readings) > 1:
            counts["disagreeing"] += 1
            continue
        words.setdefault(word, {}).setdefault(register, {})[str(index)] = readings.pop()
    return {"about": __doc__.split("\n\n")[0].replace("\n", " ") + " Sources written for Tianci by LLM sessions "
                     "acting as Cantonese lexicographers (phonetics/data/words_yue/README.md).",
            "words": words}, dict(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    table, counts = build()
    rows = ",\n".join(f"  {json.dumps(word, ensure_ascii=False)}: {json.dumps(by, ensure_ascii=False)}"
                      for word, by in table["words"].items())
    write_atomic(args.out, f'{{"about": {json.dumps(table["about"], ensure_ascii=False)},\n"words": {{\n{rows}\n}}}}\n')
    print(f"wrote {args.out}: {len(table['words'])} words; readings: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
