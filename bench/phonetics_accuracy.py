"""Reading accuracy of Tianci's phonetics against plain pypinyin / plain pycantonese, on gold sets built
from sources independent of Tianci's own code:

- Mandarin: CC-CEDICT words (2-4 characters) that contain a polyphonic character (one with two or more
  readings among CC-CEDICT's single-character entries); each word in simplified and in traditional
  script. A word may have several CC-CEDICT readings: any of them counts as right. Caveat: pypinyin's
  phrase dictionary draws on CC-CEDICT too, so plain pypinyin is strong on simplified words by design.
- Cantonese: HKCanCor's human jyutping, every utterance read whole (so context counts), in its own
  traditional script and converted to simplified by OpenCC. Caveat: pycantonese's word list is built
  from HKCanCor itself (majority reading per word), which both systems share.

Metrics: word accuracy (every syllable right), syllable accuracy, tone-only and final-only accuracy, tone
class accuracy (Mandarin 平/仄, Cantonese 0243 pitch level: what a melody or a tone pattern checks), and syllable
accuracy on polyphonic characters alone (Cantonese: characters with two or more readings in
Tianci's reading sets).

Then **context accuracy**: one marked polyphone per sentence, read in its sentence.

- Mandarin: a held-out fifth of the CPP development split of the g2pM paper (Park & Lee 2020; Wikipedia
  sentences; ``--cpp DIR``, default ``../shared/data/cpp``; the fifth whose sentence's SHA-1 is 0 mod 5, never
  used to choose anything), and Tianci's everyday sentences (``bench/data/polyphones_cmn.tsv``, the set the
  method was built on, and ``polyphones_cmn_test.tsv``, written after it was fixed), beside plain pypinyin
  and g2pM's model alone (pypinyin where it has no choice to make).
- Cantonese: Tianci's verse, written-lyric and colloquial sentences (``polyphones_yue.tsv`` and the blind
  ``polyphones_yue_test.tsv``), beside plain pycantonese and ToJyutping, with the share of sentences whose
  register (literary / colloquial) Tianci guesses as labelled.

Last, the analyzer's speed (``bench/phonetics.py``'s measure, the first ``--speed-works`` Song ci works, a
fresh process per language): characters per second cold and warm; the target is at least 100k warm.
Headline figures are printed last.

    python bench/phonetics_accuracy.py [--limit N] [--cpp DIR] [--speed-works N]
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

import hashlib

import pycantonese
import ToJyutping
from pypinyin import Style, lazy_pinyin

from bench.phonetics import measure
from lyrics.data.corpus import cedict, hkcancor_utterances
from phonetics import annotate, is_cjk, language
from phonetics import cantonese as yue
from phonetics import mandarin as cmn
from phonetics.polyphone import Disambiguator, load_choices
from phonetics.script import CJK_RUN, convert

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
WARM_TARGET = 100_000  # characters per second

PINYIN = re.compile(r"[a-zv]+[1-5]")


@dataclass
class Score:
    words: int = 0
    words_ok: int = 0
    syllables: int = 0
    ok: int = 0
    tone_ok: int = 0
    final_ok: int = 0
    class_ok: int = 0  # the tone's class: 平/仄, or the 0243 level
    poly: int = 0
    poly_ok: int = 0

    def row(self) -> list[str]:
        pct = lambda a, b: f"{100 * a / b:6.2f}" if b else "   n/a"  # noqa: E731
        return [
            pct(self.words_ok, self.words),
            pct(self.ok, self.syllables),
            pct(self.tone_ok, self.syllables),
            pct(self.final_ok, self.syllables),
            pct(self.class_ok, self.syllables),
            pct(self.poly_ok, self.poly),
        ]


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


def score_word(
    score: Score, gold: GoldWord, predicted: Sequence[str | None], split: Callable, tone_class: Callable[[int], str]
) -> None:
    best = max(gold.readings, key=lambda ref: sum(p == r for p, r in zip(predicted, ref, strict=True)))
    score.words += 1
    score.words_ok += tuple(predicted) == best
    for i, (p, r) in enumerate(zip(predicted, best, strict=True)):
        ps, rs = _split_safe(split, p), _split_safe(split, r)
        score.syllables += 1
        score.ok += p == r
        score.tone_ok += ps[2] is not None and ps[2] == rs[2]
        score.final_ok += ps[1] is not None and ps[1] == rs[1]
        score.class_ok += ps[2] is not None and rs[2] is not None and tone_class(ps[2]) == tone_class(rs[2])
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
        if (
            not s
            or not 2 <= len(e.simplified) <= 4
            or len(s) != len(e.simplified)
            or not all(map(is_cjk, e.simplified + e.traditional))
            or not any(c in polyphones for c in e.simplified)
        ):
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
    readings = yue.reading_sets()
    out = []
    for index, tokens in enumerate(hkcancor_utterances()):
        text, gold = "", []
        for word, jp in tokens:
            parts = re.findall(r"[a-z]+[1-9]", jp or "")
            if jp and "".join(parts) == jp.replace(" ", "") and len(parts) == len(word) and all(map(is_cjk, word)):
                poly = tuple(len(readings.get(c, ())) > 1 for c in word)
                gold.append((len(text), GoldWord(word, [tuple(parts)], poly)))
            text += word
        if gold:
            if simplified:
                converted = convert(text, "t2s")
                gold = [(o, GoldWord(converted[o : o + len(g.text)], g.readings, g.poly)) for o, g in gold]
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


def tojyutping(text: str) -> list[str | None]:
    return [jp for _, jp in ToJyutping.get_jyutping_list(text)]


# ---- context: one marked polyphone per sentence ----------------------------------------------------


@dataclass
class Marked:
    text: str
    index: int  # of the marked character
    reading: str
    register: str | None = None


def marked_set(name: str) -> list[Marked]:
    """``bench/data/NAME``: a sentence with its polyphone in brackets, its reading, (Cantonese) its register."""
    out = []
    for line in (DATA / name).read_text("utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        marked, reading, *register = line.split("\t")
        out.append(
            Marked(
                marked.replace("[", "").replace("]", ""), marked.index("["), reading, register[0] if register else None
            )
        )
    return out


def cpp_held_out(folder: Path) -> list[Marked]:
    """The held-out fifth of the CPP development split (simplified, ü as v as Tianci writes it)."""
    sentences = (folder / "dev.sent").read_text("utf-8").splitlines()
    labels = (folder / "dev.lb").read_text("utf-8").splitlines()
    out = []
    for sentence, label in zip(sentences, labels, strict=True):
        if int(hashlib.sha1(sentence.encode()).hexdigest()[:6], 16) % 5 == 0:
            out.append(Marked(convert(sentence.replace("▁", ""), "t2s"), sentence.index("▁"), label.replace("u:", "v")))
    return out


def plain_pypinyin_text(text: str) -> list[str | None]:
    """Plain pypinyin run by run of CJK characters (its phrase matching within each run)."""
    out: list[str | None] = [None] * len(text)
    for run in CJK_RUN.finditer(text):
        out[run.start() : run.end()] = plain_pypinyin(run.group())
    return out


def g2pm_alone(sentences: list[Marked]) -> list[str | None]:
    """g2pM's model at every marked character it has a choice for (among Tianci's readings), else pypinyin."""
    choices = load_choices()
    asked = [m for m in sentences if m.text[m.index] in choices]
    picks = Disambiguator.load().read(
        [m.text for m in asked], [[m.index] for m in asked], [[choices[m.text[m.index]]] for m in asked]
    )
    found = {id(m): row[0] for m, row in zip(asked, picks, strict=True)}
    return [found.get(id(m)) or plain_pypinyin_text(m.text)[m.index] for m in sentences]


def context_accuracy(sentences: list[Marked], system: Callable[[str], list[str | None]]) -> float:
    return sum(system(m.text)[m.index] == m.reading for m in sentences) / len(sentences)


def context_rows(cpp: Path) -> list[tuple[str, str, str, float, int]]:
    sets: list[tuple[str, str, list[Marked]]] = []
    if (cpp / "dev.sent").exists():
        sets.append(("cmn", "CPP held-out fifth", cpp_held_out(cpp)))
    else:
        print(f"CPP not found in {cpp}: pass --cpp DIR (its dev.sent and dev.lb) for the Wikipedia rows")
    sets += [
        ("cmn", "everyday (method's set)", marked_set("polyphones_cmn.tsv")),
        ("cmn", "everyday (blind)", marked_set("polyphones_cmn_test.tsv")),
        ("yue", "verse+colloquial (method's set)", marked_set("polyphones_yue.tsv")),
        ("yue", "verse+colloquial (blind)", marked_set("polyphones_yue_test.tsv")),
    ]
    rows = []
    for lang, name, sentences in sets:
        if lang == "cmn":
            alone = g2pm_alone(sentences)
            rows += [
                (lang, name, "plain pypinyin", context_accuracy(sentences, plain_pypinyin_text), len(sentences)),
                (
                    lang,
                    name,
                    "g2pM alone",
                    sum(a == m.reading for a, m in zip(alone, sentences, strict=True)) / len(sentences),
                    len(sentences),
                ),
                (lang, name, "tianci", context_accuracy(sentences, tianci_cmn), len(sentences)),
            ]
        else:
            guessed = sum(yue.register_of(m.text) == m.register for m in sentences) / len(sentences)
            rows += [
                (lang, name, "plain pycantonese", context_accuracy(sentences, plain_pycantonese), len(sentences)),
                (lang, name, "ToJyutping", context_accuracy(sentences, tojyutping), len(sentences)),
                (lang, name, "tianci", context_accuracy(sentences, tianci_yue), len(sentences)),
                (lang, name, "tianci register guessed", guessed, len(sentences)),
            ]
    return rows


# ---- run ------------------------------------------------------------------------------------------


def evaluate_words(words: list[GoldWord], system: Callable, split: Callable) -> Score:
    score = Score()
    for gold in words:
        score_word(score, gold, system(gold.text), split, language("cmn").tone_class)
    return score


def evaluate_utterances(utterances: list[Utterance], system: Callable) -> Score:
    score = Score()
    for utt in utterances:
        predicted = system(utt.text)
        for offset, gold in utt.gold:
            score_word(score, gold, predicted[offset : offset + len(gold.text)], yue.split, language("yue").tone_class)
    return score


def evaluate_held_out(utterances: list[Utterance], folds: int = 2) -> Score:
    """Tianci with its lexicon built from the other folds of HKCanCor only, so that no utterance is
    read with readings counted from itself."""
    tokens = list(hkcancor_utterances())
    total = Score()
    for fold in range(folds):
        train = (tok for i, utt in enumerate(tokens) if i % folds != fold for tok in utt)
        reader = yue.LexiconReader(yue.build_lexicon(train))
        score = evaluate_utterances([u for u in utterances if u.index % folds == fold], reader.readings)
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(score, name))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="at most N gold words / utterances per set")
    parser.add_argument(
        "--cpp",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "cpp",
        help="the CPP benchmark's folder (dev.sent, dev.lb)",
    )
    parser.add_argument("--speed-works", type=int, default=4000, help="Song ci works for the speed test")
    args = parser.parse_args()

    start = time.perf_counter()
    simp, trad = cedict_gold(args.limit)
    yue_trad = hkcancor_gold(args.limit, simplified=False)
    yue_simp = hkcancor_gold(args.limit, simplified=True)
    print(
        f"gold sets: CC-CEDICT polyphone words {len(simp)} simplified / {len(trad)} traditional; "
        f"HKCanCor {len(yue_trad)} utterances, {sum(len(u.gold) for u in yue_trad)} words "
        f"({time.perf_counter() - start:.1f}s)"
    )

    plain_yue_trad = evaluate_utterances(yue_trad, plain_pycantonese)
    rows = [
        ("cmn", "CEDICT simplified", "plain pypinyin", evaluate_words(simp, plain_pypinyin, cmn.split)),
        ("cmn", "CEDICT simplified", "tianci", evaluate_words(simp, tianci_cmn, cmn.split)),
        ("cmn", "CEDICT traditional", "plain pypinyin", evaluate_words(trad, plain_pypinyin, cmn.split)),
        ("cmn", "CEDICT traditional", "tianci", evaluate_words(trad, tianci_cmn, cmn.split)),
        ("yue", "HKCanCor traditional", "plain pycantonese", plain_yue_trad),
        ("yue", "HKCanCor traditional", "tianci", evaluate_utterances(yue_trad, tianci_yue)),
        ("yue", "HKCanCor traditional", "ToJyutping", evaluate_utterances(yue_trad, tojyutping)),
        ("yue", "HKCanCor simplified", "plain pycantonese", evaluate_utterances(yue_simp, plain_pycantonese)),
        ("yue", "HKCanCor simplified", "tianci", evaluate_utterances(yue_simp, tianci_yue)),
        # pycantonese's word list is fixed (in-sample); Tianci's is rebuilt without the scored half.
        ("yue", "HKCanCor trad held-out", "plain pycantonese", plain_yue_trad),
        ("yue", "HKCanCor trad held-out", "tianci 2-fold", evaluate_held_out(yue_trad)),
    ]
    header = ["lang", "gold set", "system", "word%", "syll%", "tone%", "final%", "class%", "polyph%", "syllables"]
    print("\n" + " | ".join(header))
    for lang, gold_set, system, score in rows:
        print(" | ".join([lang, gold_set, system, *score.row(), str(score.syllables)]))
    context = context_rows(args.cpp)
    print("\ncontext (one marked polyphone per sentence) | lang | set | system | accuracy | sentences")
    for lang, name, system, accuracy, count in context:
        print(f"{lang} | {name} | {system} | {100 * accuracy:6.2f} | {count}")
    speed = {lang: measure(lang, args.speed_works) for lang in ("cmn", "yue")}
    print("\nspeed (Song ci, first works) | lang | chars | cold chars/s | warm chars/s")
    for lang, r in speed.items():
        print(f"{lang} | {r['chars']:,} | {r['chars'] / r['cold']:,.0f} | {r['chars'] / r['warm']:,.0f}")

    print("\nheadline (syllable accuracy, tianci vs plain):")
    for i in (0, 2, 4, 7, 9):
        plain, ours = rows[i], rows[i + 1]
        print(
            f"  {plain[0]} {plain[1]:<21} tianci {ours[3].row()[1].strip()}%  vs  "
            f"{plain[2]} {plain[3].row()[1].strip()}%   (words {ours[3].row()[0].strip()}% vs "
            f"{plain[3].row()[0].strip()}%; tone class {ours[3].row()[4].strip()}% vs {plain[3].row()[4].strip()}%)"
        )
    print("headline (context accuracy, tianci vs the others):")
    for lang, name, system, accuracy, count in context:
        if system == "tianci":
            others = ", ".join(
                f"{s} {100 * a:.2f}%"
                for la, n, s, a, _ in context
                if (la, n) == (lang, name) and s not in ("tianci", "tianci register guessed")
            )
            print(f"  {lang} {name:<32} tianci {100 * accuracy:.2f}%  vs  {others}   ({count} sentences)")
    for lang, r in speed.items():
        warm = r["chars"] / r["warm"]
        print(
            f"  speed {lang}: {r['chars'] / r['cold']:,.0f} chars/s cold, {warm:,.0f} chars/s warm "
            f"({'meets' if warm >= WARM_TARGET else 'MISSES'} the {WARM_TARGET:,} warm target)"
        )


if __name__ == "__main__":
    main()
