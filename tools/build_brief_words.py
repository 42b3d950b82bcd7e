"""Build the brief sampler's word and character lists (``lyrics/modern/data/``) once, from frequency counts.

- Mandarin: jieba 0.42.1's dictionary counts (``pip install jieba==0.42.1``; MIT). Common characters: the
  3,500 characters with the highest word-weighted counts (a stand-in for the 3,500 常用字 list, which no
  registry here carries). Required words: the commonest two-character nouns, verbs and adjectives made of
  common characters.
- Cantonese: HKCanCor's word counts (pycantonese; CC BY 4.0), in Hong Kong traditional script. Common
  characters: HKCanCor's 2,500 commonest characters plus the Mandarin list converted to Hong Kong script.

Rhyme groups (``rhymes.json``): per language, the groups of its default scheme (Mandarin 十三辙, Cantonese strict
finals) with their use in Tianci's rhyme dictionary and up to 16 example characters: common characters every
reading of which lies in the group, commonest first. Groups with fewer than ``MIN_EXAMPLES`` such characters are
left out (an eight-line chorus needs four different rhyme characters, and writers need choice).

The sampler prefers ``words_{lang}_everyday.txt`` where it exists: the tool's list filtered by hand to words of
everyday life that a song can carry (Mandarin 2,938 of the 8,000 commonest; Cantonese 792 of 1,046; names,
politics, death and the like left out). Rebuilding the lists does not rebuild those.

Run: ``python tools/build_brief_words.py``. The outputs are plain text, one item a line, commonest first.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import jieba
import pycantonese

from lyrics.data.rhymebook import rhyme_dictionary
from phonetics import is_cjk, language, scheme, to_lang_script

OUT = Path(__file__).resolve().parents[1] / "lyrics" / "modern" / "data"
COMMON_CMN = 3500
COMMON_YUE_HKCANCOR = 2500
WORDS_CMN = 8000
WORD_TAGS_CMN = {"n", "v", "a", "vn", "an"}
SKIP_TOP_CMN = 200  # the very commonest (国家, 发展, 问题) are newspaper words, not song words
OFF_TOPIC_CMN = set("党政革阶委军税贸股债融企策战敌犯罪")  # politics, finance, war, crime: not for everyday briefs
WORD_TAGS_YUE = ("N", "V", "A")
MIN_COUNT_YUE = 3
MIN_EXAMPLES = 12
STOP_CODAS = "ptk"  # Cantopop choruses rhyme on open and nasal finals, not on clipped entering tones
ASTRAL = 0x20000  # characters past the BMP (𡃉 𠻺) are kept out of examples: many fonts lack them
EXAMPLES = 16


def mandarin() -> tuple[list[str], list[str]]:
    chars: Counter[str] = Counter()
    words: list[tuple[int, str]] = []
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
        for row in f:
            word, count, tag = row.split()
            if not all(is_cjk(c) for c in word):
                continue
            for c in word:
                chars[c] += int(count)
            if len(word) == 2 and tag in WORD_TAGS_CMN:
                words.append((int(count), word))
    common = [c for c, _ in chars.most_common(COMMON_CMN)]
    allowed = set(common)
    ranked = [w for _, w in sorted(words, reverse=True) if set(w) <= allowed and not set(w) & OFF_TOPIC_CMN]
    return common, ranked[SKIP_TOP_CMN:SKIP_TOP_CMN + WORDS_CMN]


def cantonese(common_cmn: list[str]) -> tuple[list[str], list[str]]:
    chars: Counter[str] = Counter()
    words: Counter[str] = Counter()
    for token in pycantonese.hkcancor().tokens():
        word = to_lang_script(token.word or "", "yue")
        if not word or not all(is_cjk(c) for c in word):
            continue
        chars.update(word)
        if len(word) == 2 and (token.pos or "").upper().startswith(WORD_TAGS_YUE):
            words[word] += 1
    common = [c for c, _ in chars.most_common(COMMON_YUE_HKCANCOR)]
    common += [c for c in dict.fromkeys(to_lang_script("".join(common_cmn), "yue")) if c not in set(common)]
    allowed = set(common)
    ranked = [w for w, n in words.most_common() if n >= MIN_COUNT_YUE and set(w) <= allowed]
    return common, ranked


def rhyme_groups(lang: str, common: list[str]) -> dict[str, dict]:
    """Group → {"use": occurrences, "examples": characters} for the default scheme of ``lang``."""
    rhymes = scheme(lang, language(lang).default_scheme)
    spoken = language(lang)
    reading_sets = spoken.reading_sets()
    rank = {c: i for i, c in enumerate(common)}
    out = {}
    for group, chars in rhyme_dictionary(lang).groups(rhymes.name).items():
        if lang == "yue" and group[-1] in STOP_CODAS:
            continue
        unambiguous = [c for c in chars if c in rank and ord(c) < ASTRAL and reading_sets.get(c)
                       and all(rhymes.group(spoken.split(r)[1]) == group for r in reading_sets[c])]
        if len(unambiguous) >= MIN_EXAMPLES:
            out[group] = {"use": sum(chars.values()), "examples": sorted(unambiguous, key=rank.get)[:EXAMPLES]}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["use"]))


def main() -> None:
    common_cmn, words_cmn = mandarin()
    common_yue, words_yue = cantonese(common_cmn)
    rhymes = {"cmn": rhyme_groups("cmn", common_cmn), "yue": rhyme_groups("yue", common_yue)}
    (OUT / "rhymes.json").write_text(json.dumps(rhymes, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print("rhymes.json:", {lang: len(groups) for lang, groups in rhymes.items()})
    for name, items in {"common_chars_cmn.txt": common_cmn, "words_cmn.txt": words_cmn,
                        "common_chars_yue.txt": common_yue, "words_yue.txt": words_yue}.items():
        (OUT / name).write_text("\n".join(items) + "\n", encoding="utf-8")
        print(f"{name}: {len(items)}")


if __name__ == "__main__":
    main()
