"""Bootstrap preference data for the scorer, while few human ratings exist.

A real work (a stanza of at most ``stanza_lines`` lines, prompt = its title, language and genre, and for every
other work its keyword plan) is preferred to its own corruptions, each of which damages some aspects; the
kinds cover what a reader notices:

================  ===============================================  ==========================
kind              what is done to the real lyrics                  aspects it damages
================  ===============================================  ==========================
chars_shuffled    characters shuffled within half the lines        overall, language
words_swapped     two-character words swapped between lines (x2)   overall, language
lines_shuffled    lines in another order                           overall, language, content
line_repeated     one line replaced by a copy of another           overall, content
neighbour_echo    a line rewritten with its neighbour's            overall, content
                  characters (rotated by one)
substituted       a share of characters replaced by corpus         overall, language
                  characters (10%, 25% or 50%)
identical_rhyme   the even lines all end in the same character     overall, language
wrong_topic       the lyrics under another work's title and plan   overall, relevance
                  (neither a ci, whose title names its tune)
model             a sample of the generator for the same spec      overall, language, content
earlier_model     a sample of an earlier default for the same      overall, language, content
                  spec (the classical default's word salad)
stitched          the lines rewritten at their lengths by the      overall, language, content
                  modern corpus's phrase memory alone, the songs
                  nearest the title weighted (what the default
                  writes with its memory: phrases, no song)
stitched_classic  the same from the classical works' two-         overall, language, content
                  character contexts (cheap word salad)
================  ===============================================  ==========================

Lighter substitution is also preferred to heavier. Every side carries bootstrap ratings (1-5): 5 for an
undamaged aspect, the kind's severity for a damaged one (substituted: 4, 3, 2 by share), used by the
pointwise loss and, on held-out works, for the Spearman correlation. These are assumptions, not human
judgements: the scorer they train ranks real lyrics over damaged ones; whether it agrees with lyricists is
measured only once human ratings (``tianci ratings import``, the demo's ratings) exist.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from lyrics.data.keywords import KeywordTable, plan_size
from lyrics.data.works import Record, read_split
from lyrics.decoding.constraints import UnsatisfiableSpec
from lyrics.decoding.memory_index import NEAR_CACHE, NEAR_SONGS, NEAR_WEIGHT, PhraseMemory, TopicMemory, corpus_memory
from lyrics.decoding.spec import MAX_SYLLABLES, LineSpec
from lyrics.generation import Decoder
from lyrics.training.knowledge import spec_of_record, stanzas

from .ratings import ASPECTS

DAMAGES = {
    "chars_shuffled": ("overall", "language"),
    "words_swapped": ("overall", "language"),
    "lines_shuffled": ("overall", "language", "content"),
    "line_repeated": ("overall", "content"),
    "neighbour_echo": ("overall", "content"),
    "substituted": ("overall", "language"),
    "identical_rhyme": ("overall", "language"),
    "wrong_topic": ("overall", "relevance"),
    "model": ("overall", "language", "content"),
    "earlier_model": ("overall", "language", "content"),
    "stitched": ("overall", "language", "content"),
    "stitched_classic": ("overall", "language", "content"),
}
MODEL_KINDS = ("model", "earlier_model")  # the generators' samples: few (each a decode) and the hardest negatives
STITCHED_KINDS = ("stitched", "stitched_classic")  # rewrites by a phrase memory alone (``stitched_pairs``)
MODERN = "modern"  # the source name of the modern corpus
SEVERITY = {"chars_shuffled": 1.5, "words_swapped": 3.0, "lines_shuffled": 2.5, "line_repeated": 2.5,
            "neighbour_echo": 2.5, "identical_rhyme": 3.0, "wrong_topic": 1.5, "model": 2.0,
            "earlier_model": 1.5, "stitched": 2.0, "stitched_classic": 1.5}
TUNE_GENRE = "ci"  # a ci's title is its tune's name, not its topic: no wrong-topic pairs with one
SUBSTITUTION = {0.1: 4.0, 0.25: 3.0, 0.5: 2.0}  # share of characters replaced: rating of damaged aspects


def work_prompt(record: Record, table: KeywordTable | None = None) -> dict:
    """The request a work answers: its title, language and genre; with ``table``, its keyword plan too."""
    prompt = {"topic": record.title or "无题", "lang": record.lang, **({"genre": record.genre} if record.genre else {})}
    if table is not None:
        prompt["keywords"] = table.extract(record.lines, plan_size(len(record.lines)))
    return prompt


def ratings(kind: str | None, severity: float | None = None) -> dict[str, float]:
    """Bootstrap ratings of one side: 5 everywhere, ``severity`` on what ``kind`` damages."""
    hit = DAMAGES.get(kind, ()) if kind else ()
    level = severity if severity is not None else SEVERITY.get(kind or "", 5.0)
    return {a: (level if a in hit else 5.0) for a in ASPECTS}


def sample_stanzas(data_dir: Path, lang: str, split: str, count: int, stanza_lines: int, seed: int,
                 modern_share: float = 0.0) -> list[Record]:
    """``count`` stanzas (3 lines at least) of distinct works of one split, drawn across all sources;
    ``modern_share`` of them (as far as there are) from the modern corpus (source ``modern``)."""
    works = list(read_split(data_dir, lang, split))
    random.Random(f"{seed}-{lang}-{split}").shuffle(works)
    modern = round(count * modern_share)
    picked: list[Record] = []
    seen: set[str] = set()
    for pool, quota in (([w for w in works if w.source == MODERN], modern), (works, count)):
        for work in pool:
            if len(picked) == quota:
                break
            piece = next(stanzas(work, stanza_lines), None)
            if (piece is not None and len(piece.lines) >= 3 and all(len(line) <= MAX_SYLLABLES for line in piece.lines)
                    and work.id not in seen):
                seen.add(work.id)
                picked.append(piece)
    if modern:  # the modern works first in the list: mixed in (without them, the draw is as before)
        random.Random(f"{seed}-{lang}-{split}-mix").shuffle(picked)
    return picked


def side(prompt: dict, lyrics: str, rating: dict) -> dict:
    return {"prompt": prompt, "lyrics": lyrics, "ratings": rating}


def _shuffled(items: list, rng: random.Random) -> list:
    """``items`` in another order (the same when every order is)."""
    order = items[:]
    for _ in range(20):
        rng.shuffle(order)
        if order != items:
            break
    return order


def damaged(kind: str, lines: list[str], rng: random.Random) -> list[str] | None:
    """``lines`` damaged as ``kind`` says (one of :data:`LINE_DAMAGES`; None: this stanza cannot show it)."""
    out = lines[:]
    if kind == "chars_shuffled":
        chosen = [i for i in range(len(lines)) if len(set(lines[i])) >= 3]
        for i in rng.sample(chosen, min(len(chosen), max(1, len(lines) // 2))):
            out[i] = "".join(_shuffled(list(lines[i]), rng))
    elif kind == "words_swapped":
        for _ in range(2):
            i, j = rng.sample(range(len(out)), 2)
            if len(out[i]) < 2 or len(out[j]) < 2:
                continue
            a, b = rng.randrange(len(out[i]) - 1), rng.randrange(len(out[j]) - 1)
            wa, wb = out[i][a:a + 2], out[j][b:b + 2]
            out[i], out[j] = out[i][:a] + wb + out[i][a + 2:], out[j][:b] + wa + out[j][b + 2:]
    elif kind == "lines_shuffled":
        out = _shuffled(lines, rng)
    elif kind == "line_repeated":
        src, dst = rng.sample(range(len(lines)), 2)
        out[dst] = lines[src]
    elif kind == "neighbour_echo":
        i = rng.randrange(1, len(lines))
        source = lines[i - 1][1:] + lines[i - 1][:1]
        out[i] = (source * (len(lines[i]) // max(1, len(source)) + 1))[:len(lines[i])]
    elif kind == "identical_rhyme":
        even = list(range(1, len(lines), 2))
        if len(even) < 2 or any(not lines[i] for i in even):
            return None
        end = lines[even[0]][-1]
        for i in even[1:]:
            out[i] = lines[i][:-1] + end
    else:
        raise ValueError(f"unknown damage {kind!r}")
    return out if out != lines else None


def substituted(lines: list[str], share: float, rng: random.Random, pool: str) -> list[str]:
    """``share`` of the characters replaced by characters of ``pool``, drawn as often as it uses them."""
    chars = [list(line) for line in lines]
    slots = [(i, j) for i, line in enumerate(chars) for j in range(len(line))]
    for i, j in rng.sample(slots, max(1, round(share * len(slots)))):
        chars[i][j] = rng.choice(pool)
    return ["".join(c) for c in chars]


LINE_DAMAGES = ("chars_shuffled", "words_swapped", "lines_shuffled", "line_repeated", "neighbour_echo",
                "identical_rhyme")


def corruption_pairs(works: list[Record], seed: int, tables: dict[str, KeywordTable] | None = None,
                     planned: float = 0.5) -> Iterator[dict]:
    """Real-vs-damaged pairs of every kind but ``model`` (and light-vs-heavy substitution pairs) for every
    work; a ``planned`` share of the works' prompts carry their keyword plan (from ``tables``)."""
    rng = random.Random(seed)
    tables = tables or {}
    pool = "".join("".join(w.lines) for w in works)  # substitutes drawn as often as the corpus uses them
    prompts = [work_prompt(w, tables.get(w.lang) if rng.random() < planned else None) for w in works]
    for index, work in enumerate(works):
        prompt, lines = prompts[index], list(work.lines)
        real = side(prompt, work.text, ratings(None))

        def pair(kind: str, worse: dict, better: dict = real, aspects=None) -> dict:
            return {"kind": kind, "aspects": list(aspects or DAMAGES[kind]), "better": better, "worse": worse}

        for kind in LINE_DAMAGES:
            out = damaged(kind, lines, rng)
            if out is not None:
                yield pair(kind, side(prompt, "\n".join(out), ratings(kind)))
        sides = [side(prompt, "\n".join(substituted(lines, share, rng, pool)), ratings("substituted", level))
                 for share, level in SUBSTITUTION.items()]
        yield pair("substituted", sides[1])
        yield pair("substituted", sides[2], better=sides[0])
        other_index = (index + 1 + rng.randrange(len(works) - 1)) % len(works)
        other = works[other_index]
        if other.title != work.title and TUNE_GENRE not in (work.genre, other.genre):
            wrong = {**prompts[other_index], "lang": work.lang}
            if "keywords" in prompt and "keywords" not in wrong and tables.get(work.lang):
                wrong["keywords"] = tables[work.lang].extract(other.lines, plan_size(len(other.lines)))
            yield pair("wrong_topic", side(wrong, work.text, ratings("wrong_topic")))


def model_pairs(works: list[Record], model, tokenizer, seed: int, progress: bool = True,
                kind: str = "model", candidates: int = 1) -> Iterator[dict]:
    """Real lyrics over each of the generator's ``candidates`` samples (one call) for the spec the real lyrics
    meet (structure and rhymes; its tone patterns are left free); ``kind`` "earlier_model" for a generator the
    default replaced."""
    rng = random.Random(seed)
    decoder = Decoder(model, tokenizer)  # one for the run: its compiled masks serve every work of a shape
    for work in tqdm(works, desc="model samples", unit="work", disable=not progress or None):
        spec = spec_of_record(work, rng)
        spec = replace(spec, lines=tuple(LineSpec(x.syllables, x.label, x.section, None) for x in spec.lines))
        try:
            samples = decoder.generate(spec, n=candidates, seed=rng.randrange(2**31))
        except UnsatisfiableSpec:
            continue
        prompt = work_prompt(work)
        for sample in samples:
            yield {"kind": kind, "aspects": list(DAMAGES[kind]), "better": side(prompt, work.text, ratings(None)),
                   "worse": side(prompt, sample.lyrics, ratings(kind))}


CLASSIC_ORDER = 2  # the classical default's salad holds together over about two characters


def stitched(lines: list[str], memory: TopicMemory, rng: random.Random, pool: str) -> list[str]:
    """``lines`` rewritten at their lengths by a phrase memory alone: each character drawn from what ``memory``
    says follows the line so far (its longest context seen twice), never the one that completes a line of it whole;
    where it says nothing, a character of ``pool``. Locally fluent, meaningless across lines: what a decoder that
    leans on the memory writes, at no decoding cost.

    >>> memory = PhraseMemory([("放学", ["我们一起走回家", "我们一起去看海", "一起去看星星"])])
    >>> len(stitched(["今天我们一起回家"], memory.near("放学"), random.Random(0), "的")[0])
    8
    """
    out = []
    for line in lines:
        text = ""
        for _ in range(len(line)):
            found = memory.advise(text).distribution or {}
            if len(text) == len(line) - 1:
                found = {c: n for c, n in found.items() if c not in memory.corpus.completions.get(text, ())}
            text += rng.choices(list(found), weights=list(found.values()))[0] if found else rng.choice(pool)
        out.append(text)
    return out


def _near_without(corpus: PhraseMemory, work: Record) -> TopicMemory:
    """``corpus`` with the songs nearest ``work``'s title weighted, less any song that shares a line with it (the
    default's memory never holds the held-out song it is measured against)."""
    own = set(work.lines)
    chosen = [i for i in corpus.retrieve(work.title, NEAR_SONGS + 1) if own.isdisjoint(corpus.songs[i][1])]
    if not chosen:
        return TopicMemory(corpus, None)
    near = PhraseMemory([corpus.songs[i] for i in chosen[:NEAR_SONGS]], corpus.order, NEAR_CACHE, corpus.chars)
    return TopicMemory(corpus, near, NEAR_WEIGHT)


def stitched_pairs(works: list[Record], classical: list[Record], seed: int) -> Iterator[dict]:
    """Real lyrics over two stitched rewrites of themselves: by the modern corpus's phrase memory (``stitched``;
    the songs nearest the title weighted, the work's own song left out) and by a memory of ``classical`` works'
    two-character contexts (``stitched_classic``). One of each per work, in its language."""
    rng = random.Random(f"{seed}-stitched")
    modern: dict[tuple[str, str | None], PhraseMemory | None] = {}  # per register, as the default keeps them
    classic: dict[str, TopicMemory | None] = {}
    for work in works:
        lang, lines, register = work.lang, list(work.lines), work.tag("register")
        if (lang, register) not in modern:
            modern[lang, register] = corpus_memory(lang, register)
        if lang not in classic:
            songs = [(w.title, w.lines) for w in classical if w.lang == lang]
            classic[lang] = TopicMemory(PhraseMemory(songs, order=CLASSIC_ORDER), None) if songs else None
        corpus = modern[lang, register]
        pool = "".join(lines)
        prompt = work_prompt(work)
        real = side(prompt, work.text, ratings(None))
        for kind, memory in (("stitched", corpus and _near_without(corpus, work)),
                             ("stitched_classic", classic[lang])):
            if memory is not None:
                worse = stitched(lines, memory, rng, pool)
                if worse != lines:
                    yield {"kind": kind, "aspects": list(DAMAGES[kind]), "better": real,
                           "worse": side(prompt, "\n".join(worse), ratings(kind))}
