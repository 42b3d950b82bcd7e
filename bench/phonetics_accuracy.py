"""Reading accuracy of Tianci's phonetics against plain pypinyin / plain pycantonese, on gold sets built
from sources independent of Tianci's own code:

- Mandarin: CC-CEDICT words (2-4 characters) that contain a polyphonic character (one with two or more
  readings among CC-CEDICT's single-character entries); each word in simplified and in traditional
  script. A word may have several CC-CEDICT readings: any of them counts as right. Caveat: pypinyin's
  phrase dictionary draws on CC-CEDICT too, so plain pypinyin is strong on simplified words by design.
- Cantonese: HKCanCor's human jyutping, every utterance read whole (so context counts), in its own
  traditional script and converted to simplified by OpenCC. Caveat: pycantonese's word list is built
  from HKCanCor itself (majority reading per word), which both systems share.

Metrics: word accuracy (every syllable right), syllable accuracy, tone-only and final-only accuracy,
and syllable accuracy on polyphonic characters alone. Headline figures are printed last.

    python bench/phonetics_accuracy.py [--limit N]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pycantonese
from pypinyin import Style, lazy_pinyin

from lyrics.data.corpus import cedict, hkcancor_utterances
from phonetics import annotate, is_cjk
from phonetics import cantonese as yue
from phonetics import mandarin as cmn
from phonetics.script import convert

PINYIN = re.compile(r"[a-zv]+[1-5]")


@dataclass
class Score:
    words: int = 0
    words_ok: int = 0
    syllables: int = 0
    ok: int = 0
    tone_ok: int = 0
    final_ok: int = 0
    poly: int = 0
    poly_ok: int = 0

    def row(self) -> list[str]:
        pct = lambda a, b: f"{100 * a / b:6.2f}" if b else "   n/a"  # noqa: E731
        return [pct(self.words_ok, self.words), pct(self.ok, self.syllables), pct(self.tone_ok, self.syllables),
                pct(self.final_ok, self.syllables), pct(self.poly_ok, self.poly)]


@dataclass
class GoldWord:
    text: str
    readings: list[tuple[str, ...]]  # acceptable readings, one syllable per character
    poly: tuple[bool, ...] = field(default=())


def _split_safe(split: Callable[[str], tuple], syllable: str | None) -> tuple:
    if syllable is None:
        return (None, None, None)
    try:
        return split(syllable)
    except ValueError:
        return (None, None, None)


def score_word(score: Score, gold: GoldWord, predicted: Sequence[str | None], split: Callable) -> None:
    best = max(gold.readings, key=lambda ref: sum(p == r for p, r in zip(predicted, ref, strict=True)))
    score.words += 1
    score.words_ok += tuple(predicted) == best
    for i, (p, r) in enumerate(zip(predicted, best, strict=True)):
        ps, rs = _split_safe(split, p), _split_safe(split, r)
        score.syllables += 1
        score.ok += p == r
        score.tone_ok += ps[2] is not None and ps[2] == rs[2]
        score.final_ok += ps[1] is not None and ps[1] == rs[1]
        if gold.poly and gold.poly[i]:
            score.poly += 1
            score.poly_ok += p == r


# ---- Mandarin -------------------------------------------------------------------------------------

def cedict_gold(limit: int | None) -> tuple[list[GoldWord], list[GoldWord]]:
    def syllables(pinyin: str) -> tuple[str, ...] | None:
        parts = pinyin.lower().replace("u:", "v").split()
        return tuple(parts) if all(PINYIN.fullmatch(p) for p in parts) else None

    entries = list(cedict())
    char_readings: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        if len(e.simplified) == 1 and (s := syllables(e.pinyin)) and not s[0].endswith("5"):
            char_readings[e.simplified].add(s[0])
    polyphones = {c for c, r in char_readings.items() if len(r) > 1}
    simp: dict[str, GoldWord] = {}
    trad: dict[str, GoldWord] = {}
    for e in entries:
        s = syllables(e.pinyin)
        if (not s or not 2 <= len(e.simplified) <= 4 or len(s) != len(e.simplified)
                or not all(map(is_cjk, e.simplified + e.traditional))
                or not any(c in polyphones for c in e.simplified)):
            continue
        poly = tuple(c in polyphones for c in e.simplified)
        simp.setdefault(e.simplified, GoldWord(e.simplified, [], poly)).readings.append(s)
        trad.setdefault(e.traditional, GoldWord(e.traditional, [], poly)).readings.append(s)
    return list(simp.values())[:limit], list(trad.values())[:limit]


def plain_pypinyin(word: str) -> list[str | None]:
    out = lazy_pinyin(word, style=Style.TONE3, neutral_tone_with_five=True)
    if len(out) != len(word):
        return [None] * len(word)
    return [p if PINYIN.fullmatch(p) else None for p in out]


def tianci_cmn(word: str) -> list[str | None]:
    return [s.romanization for s in annotate(word, "cmn")]


# ---- Cantonese ------------------------------------------------------------------------------------

@dataclass
class Utterance:
    index: int  # position in HKCanCor, for the held-out folds
    text: str
    gold: list[tuple[int, GoldWord]]  # (offset in text, word)


def hkcancor_gold(limit: int | None, simplified: bool) -> list[Utterance]:
    out = []
    for index, tokens in enumerate(hkcancor_utterances()):
        text, gold = "", []
        for word, jp in tokens:
            parts = re.findall(r"[a-z]+[1-9]", jp or "")
            if jp and "".join(parts) == jp.replace(" ", "") and len(parts) == len(word) and all(map(is_cjk, word)):
                gold.append((len(text), GoldWord(word, [tuple(parts)])))
            text += word
        if gold:
            if simplified:
                converted = convert(text, "t2s")
                gold = [(o, GoldWord(converted[o:o + len(g.text)], g.readings)) for o, g in gold]
                text = converted
            out.append(Utterance(index, text, gold))
    return out[:limit]


def plain_pycantonese(text: str) -> list[str | None]:
    out: list[str | None] = []
    for word, jp in pycantonese.characters_to_jyutping(text):
        parts = jp.split() if jp else []
        out.extend(parts if len(parts) == len(word) else [None] * len(word))
    return out


def tianci_yue(text: str) -> list[str | None]:
    return [s.romanization for s in annotate(text, "yue")]


# ---- run ------------------------------------------------------------------------------------------

def evaluate_words(words: list[GoldWord], system: Callable, split: Callable) -> Score:
    score = Score()
    for gold in words:
        score_word(score, gold, system(gold.text), split)
    return score


def evaluate_utterances(utterances: list[Utterance], system: Callable) -> Score:
    score = Score()
    for utt in utterances:
        predicted = system(utt.text)
        for offset, gold in utt.gold:
            score_word(score, gold, predicted[offset:offset + len(gold.text)], yue.split)
    return score


def evaluate_held_out(utterances: list[Utterance], folds: int = 2) -> Score:
    """Tianci with its lexicon built from the other folds of HKCanCor only, so that no utterance is
    read with readings counted from itself."""
    tokens = list(hkcancor_utterances())
    total = Score()
    for fold in range(folds):
        train = (tok for i, utt in enumerate(tokens) if i % folds != fold for tok in utt)
        yue.use_lexicon(yue.build_lexicon(train))
        score = evaluate_utterances([u for u in utterances if u.index % folds == fold], tianci_yue)
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(score, name))
    yue.use_lexicon(None)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="at most N gold words / utterances per set")
    args = parser.parse_args()

    start = time.perf_counter()
    simp, trad = cedict_gold(args.limit)
    yue_trad = hkcancor_gold(args.limit, simplified=False)
    yue_simp = hkcancor_gold(args.limit, simplified=True)
    print(f"gold sets: CC-CEDICT polyphone words {len(simp)} simplified / {len(trad)} traditional; "
          f"HKCanCor {len(yue_trad)} utterances, {sum(len(u.gold) for u in yue_trad)} words "
          f"({time.perf_counter() - start:.1f}s)")

    plain_yue_trad = evaluate_utterances(yue_trad, plain_pycantonese)
    rows = [
        ("cmn", "CEDICT simplified", "plain pypinyin", evaluate_words(simp, plain_pypinyin, cmn.split)),
        ("cmn", "CEDICT simplified", "tianci", evaluate_words(simp, tianci_cmn, cmn.split)),
        ("cmn", "CEDICT traditional", "plain pypinyin", evaluate_words(trad, plain_pypinyin, cmn.split)),
        ("cmn", "CEDICT traditional", "tianci", evaluate_words(trad, tianci_cmn, cmn.split)),
        ("yue", "HKCanCor traditional", "plain pycantonese", plain_yue_trad),
        ("yue", "HKCanCor traditional", "tianci", evaluate_utterances(yue_trad, tianci_yue)),
        ("yue", "HKCanCor simplified", "plain pycantonese", evaluate_utterances(yue_simp, plain_pycantonese)),
        ("yue", "HKCanCor simplified", "tianci", evaluate_utterances(yue_simp, tianci_yue)),
        # pycantonese's word list is fixed (in-sample); Tianci's is rebuilt without the scored half.
        ("yue", "HKCanCor trad held-out", "plain pycantonese", plain_yue_trad),
        ("yue", "HKCanCor trad held-out", "tianci 2-fold", evaluate_held_out(yue_trad)),
    ]
    header = ["lang", "gold set", "system", "word%", "syll%", "tone%", "final%", "polyph%", "syllables"]
    print("\n" + " | ".join(header))
    for lang, gold_set, system, score in rows:
        print(" | ".join([lang, gold_set, system, *score.row(), str(score.syllables)]))
    print("\nheadline (syllable accuracy, tianci vs plain):")
    for i in range(0, len(rows), 2):
        plain, ours = rows[i], rows[i + 1]
        print(f"  {plain[0]} {plain[1]:<21} tianci {ours[3].row()[1].strip()}%  vs  "
              f"{plain[2]} {plain[3].row()[1].strip()}%   (words {ours[3].row()[0].strip()}% vs "
              f"{plain[3].row()[0].strip()}%)")


if __name__ == "__main__":
    main()
