"""Bootstrap preference data for the scorer, while few human ratings exist.

A real work (a stanza of at most ``max_lines`` lines, prompt = its title, language and genre) is preferred
to its own corruptions, each of which damages some aspects:

=============  ==========================================  ==========================
kind           what is done to the real lyrics             aspects it damages
=============  ==========================================  ==========================
shuffled       lines in another order                      overall, language, content
substituted    a share of characters replaced by corpus    overall, language
               characters (10%, 25% or 50%)
repeated       one line replaced by a copy of another      overall, content
wrong_topic    the lyrics paired with another work's title overall, relevance
               (neither a ci, whose title names its tune)
model          a sample of the generator for the same spec overall, language, content
=============  ==========================================  ==========================

Lighter substitution is also preferred to heavier. Every side carries bootstrap ratings (1-5): 5 for an
undamaged aspect, the kind's severity for a damaged one (substituted: 4, 3, 2 by share), used by the
pointwise loss and, on held-out works, for the Spearman correlation. These are assumptions, not human
judgements: the scorer they train ranks real verse over damaged verse; whether it agrees with
lyricists is measured only once human ratings (``tianci ratings import``) exist.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from lyrics.data.works import Record, read_split
from lyrics.decoding.constraints import UnsatisfiableSpec
from lyrics.decoding.spec import LineSpec
from lyrics.generation import generate
from lyrics.training.knowledge import spec_of_record, stanzas

from .ratings import ASPECTS

DAMAGES = {
    "shuffled": ("overall", "language", "content"),
    "substituted": ("overall", "language"),
    "repeated": ("overall", "content"),
    "wrong_topic": ("overall", "relevance"),
    "model": ("overall", "language", "content"),
}
SEVERITY = {"shuffled": 2.5, "repeated": 3.0, "wrong_topic": 1.5, "model": 2.0}
TUNE_GENRE = "ci"  # a ci's title is its tune's name, not its topic: no wrong-topic pairs with one
SUBSTITUTION = {0.1: 4.0, 0.25: 3.0, 0.5: 2.0}  # share of characters replaced: rating of damaged aspects


def work_prompt(record: Record) -> dict:
    return {"topic": record.title or "无题", "lang": record.lang, **({"genre": record.genre} if record.genre else {})}


def ratings(kind: str | None, severity: float | None = None) -> dict[str, float]:
    """Bootstrap ratings of one side: 5 everywhere, ``severity`` on what ``kind`` damages."""
    hit = DAMAGES.get(kind, ()) if kind else ()
    level = severity if severity is not None else SEVERITY.get(kind or "", 5.0)
    return {a: (level if a in hit else 5.0) for a in ASPECTS}


def sample_works(data_dir: Path, lang: str, split: str, count: int, max_lines: int, seed: int) -> list[Record]:
    """``count`` stanzas (3 lines at least) of distinct works of one split, drawn across all sources."""
    works = list(read_split(data_dir, lang, split))
    random.Random(f"{seed}-{lang}-{split}").shuffle(works)
    picked = []
    for work in works:
        piece = next(stanzas(work, max_lines), None)
        if piece is not None and len(piece.lines) >= 3 and all(len(line) <= 30 for line in piece.lines):
            picked.append(piece)
        if len(picked) == count:
            break
    return picked


def _side(prompt: dict, lyrics: str, rating: dict) -> dict:
    return {"prompt": prompt, "lyrics": lyrics, "ratings": rating}


def corruption_pairs(works: list[Record], seed: int) -> Iterator[dict]:
    """Real-vs-corrupted pairs (and light-vs-heavy substitution pairs) for every work."""
    rng = random.Random(seed)
    pool = "".join("".join(w.lines) for w in works)  # substitutes drawn as often as the corpus uses them
    for index, work in enumerate(works):
        prompt, lines = work_prompt(work), list(work.lines)
        real = _side(prompt, work.text, ratings(None))

        def pair(kind: str, worse: dict, better: dict = real, aspects=None) -> dict:
            return {"kind": kind, "aspects": list(aspects or DAMAGES[kind]), "better": better, "worse": worse}

        if len(set(lines)) > 1:
            order = lines[:]
            while order == lines:
                rng.shuffle(order)
            yield pair("shuffled", _side(prompt, "\n".join(order), ratings("shuffled")))
        sides = []
        for share, level in SUBSTITUTION.items():
            chars = [list(line) for line in lines]
            slots = [(i, j) for i, line in enumerate(chars) for j in range(len(line))]
            for i, j in rng.sample(slots, max(1, round(share * len(slots)))):
                chars[i][j] = rng.choice(pool)
            sides.append(_side(prompt, "\n".join("".join(c) for c in chars), ratings("substituted", level)))
        yield pair("substituted", sides[1])
        yield pair("substituted", sides[2], better=sides[0])
        src, dst = rng.sample(range(len(lines)), 2)
        repeated = lines[:]
        repeated[dst] = lines[src]
        if repeated != lines:
            yield pair("repeated", _side(prompt, "\n".join(repeated), ratings("repeated")))
        other = works[(index + 1 + rng.randrange(len(works) - 1)) % len(works)]
        if other.title != work.title and TUNE_GENRE not in (work.genre, other.genre):
            yield pair("wrong_topic", _side(work_prompt(other), work.text, ratings("wrong_topic")))


def model_pairs(works: list[Record], model, tokenizer, seed: int, progress: bool = True) -> Iterator[dict]:
    """Real lyrics over the generator's sample for the spec the real lyrics meet (structure and rhymes; its
    tone patterns are left free)."""
    rng = random.Random(seed)
    for work in tqdm(works, desc="model samples", unit="work", disable=not progress or None):
        spec = spec_of_record(work, rng)
        spec = replace(spec, lines=tuple(LineSpec(x.syllables, x.label, x.section, None) for x in spec.lines))
        try:
            sample = generate(model, tokenizer, spec, n=1, seed=rng.randrange(2**31))[0]
        except UnsatisfiableSpec:
            continue
        prompt = work_prompt(work)
        yield {"kind": "model", "aspects": list(DAMAGES["model"]), "better": _side(prompt, work.text, ratings(None)),
               "worse": _side(prompt, sample.lyrics, ratings("model"))}
