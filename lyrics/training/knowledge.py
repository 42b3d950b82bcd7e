"""Phonetic knowledge injection: training text in three steps.

1. **Memorisation**: per character, its reading, final, tone, rhyme group(s) and tone class; per
   rhyme group, its members (commonest first). Plain text, both languages.
2. **Understanding**: question-answer pairs generated from the same tables (do two characters rhyme?
   which of these rhymes with X? what is the Cantonese tone of X? three characters that rhyme with X).
   Questions about a held-out tenth of the characters (by hash) form the evaluation set.
3. **Utilisation**: real works as lyric-writing exchanges: a chat prompt (topic/title, structure, rhyme
   groups, tone patterns: ``prompt.brief``) and, in the answer, a hint line before every lyric line
   (``prompt.hint``, the same text the generator forces at inference).

Everything is seeded and deterministic; records are chat ``messages`` or plain ``text``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Iterable, Iterator

from lyrics.data.corpus import cedict
from lyrics.data.keywords import KeywordTable, plan_size
from lyrics.data.rhymebook import rhyme_dictionary
from lyrics.data.works import Record, topical_title
from lyrics.decoding.prompt import HINT_RATE_WITH_TONES, exchange
from lyrics.decoding.spec import MAX_LINES, MAX_SYLLABLES, LineSpec, LyricSpec
from phonetics import analyze, annotate, language, scheme

TOP_CHARS = 3000  # characters per language that steps 1-2 cover, commonest first
HELD_OUT = 10  # one character in HELD_OUT is kept out of step-2 training questions


def is_held_out(text: str) -> bool:
    """One string in HELD_OUT, by hash: a step-2 character, or (the scorer) a rated lyric."""
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:6], 16) % HELD_OUT == 0


def top_chars(lang: str, limit: int = TOP_CHARS) -> list[str]:
    counts = rhyme_dictionary(lang).counts
    return sorted(counts, key=lambda c: -sum(counts[c].values()))[:limit]


def _describe(char: str, lang: str) -> str:
    """One character's phonetics as a sentence, under every scheme of the language."""
    parts = []
    for name in language(lang).schemes:
        s = annotate(char, lang, name)[0]
        if s.romanization is None:
            return ""
        parts.append(f"{scheme(lang, name).title or name}{s.rhyme}")
    s = annotate(char, lang)[0]
    tone_word = language(lang).tone_class_word
    return (f"{char}：{language(lang).native_name}读{s.romanization}，声母{s.initial or '零'}，韵母{s.final}，"
            f"第{s.tone}声，{tone_word}{s.tone_class}，" + "，".join(parts) + "。")


def memorisation(lang: str, limit: int = TOP_CHARS) -> Iterator[dict]:
    """Step 1: one text per character, then one per rhyme group of each scheme."""
    chars = top_chars(lang, limit)
    for char in chars:
        if text := _describe(char, lang):
            yield {"step": 1, "lang": lang, "text": text}
    book = rhyme_dictionary(lang)
    for name in language(lang).schemes:
        title = scheme(lang, name).title or name
        for group in scheme(lang, name).groups:
            members = book.members(group, name, limit=40)
            if members:
                yield {"step": 1, "lang": lang,
                       "text": f"{language(lang).native_name}{title}「{group}」韵的常用字：{'、'.join(members)}。"}


def understanding(lang: str, seed: int = 0, per_char: int = 2, limit: int = TOP_CHARS) -> Iterator[dict]:
    """Step 2: question-answer pairs; ``held_out`` marks questions about held-out characters."""
    rng = random.Random(f"{seed}-{lang}")
    chars = top_chars(lang, limit)
    name = language(lang).schemes[0]
    rhyme_of = {c: annotate(c, lang, name)[0] for c in chars}
    known = [c for c in chars if rhyme_of[c].rhyme]
    by_group: dict[str, list[str]] = {}
    for c in known:
        by_group.setdefault(rhyme_of[c].rhyme, []).append(c)
    title = scheme(lang, name).title or name
    for char in known:
        s = rhyme_of[char]
        mates = [c for c in by_group[s.rhyme] if c != char]
        others = [c for c in known if rhyme_of[c].rhyme != s.rhyme]
        asks = []
        if mates and others:
            other = rng.choice(mates if rng.random() < 0.5 else others)
            same = rhyme_of[other].rhyme == s.rhyme
            asks.append((f"{language(lang).native_name}里「{char}」和「{other}」押韵吗？",
                         f"{'押韵' if same else '不押韵'}。{char}读{s.romanization}，属{s.rhyme}；"
                         f"{other}读{rhyme_of[other].romanization}，属{rhyme_of[other].rhyme}。"))
            choices = [rng.choice(mates), *rng.sample(others, min(2, len(others)))]
            rng.shuffle(choices)
            answer = next(c for c in choices if rhyme_of[c].rhyme == s.rhyme)
            asks.append((f"{language(lang).native_name}里下列哪个字与「{char}」押韵：{'、'.join(choices)}？",
                         f"{answer}。{char}和{answer}同属{title}{s.rhyme}。"))
        tone_word = language(lang).tone_class_word
        asks.append((f"「{char}」的{language(lang).native_name}读音和声调是什么？",
                     f"{s.romanization}，第{s.tone}声，{tone_word}为{s.tone_class}。"))
        if len(mates) >= 3:
            picks = mates[:12]
            rng.shuffle(picks)
            asks.append((f"给出三个与「{char}」押韵的{language(lang).native_name}字。",
                         f"{'、'.join(picks[:3])}（都属{title}{s.rhyme}）。"))
        for question, answer in rng.sample(asks, min(per_char, len(asks))):
            yield {"step": 2, "lang": lang, "held_out": is_held_out(char), "messages": [
                {"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


def spec_of_record(record: Record, rng: random.Random,
                   keywords: KeywordTable | None = None) -> LyricSpec:
    """The spec a work satisfies: its lines' syllables, rhyme labels (pinned to their groups) for recurring
    groups, its tone patterns on a random share of lines. With a keyword table, the spec
    carries the work's keyword plan, and its topic is the title where the title is topical, else the
    plan's most salient keyword (a Song ci's title is its tune, never its topic)."""
    register = record.tag("register")
    # Modern songs (written or colloquial) are sung with everyday readings, never the literary layer.
    analysis = analyze(record.text, record.lang, register="colloquial" if register else None)
    groups = [line.rhyme for line in analysis.lines]
    recurring = {g for g in groups if g and groups.count(g) > 1}
    labels: dict[str, str] = {}
    lines = []
    for line, group in zip(analysis.lines, groups, strict=True):
        label = None
        if group in recurring:
            label = labels.setdefault(group, chr(ord("A") + len(labels))) if len(labels) < 26 else None
        tones = line.tone_pattern if rng.random() < HINT_RATE_WITH_TONES and "*" not in line.tone_pattern else None
        lines.append(LineSpec(line.syllable_count, label, None, tones))
    structure = " ".join(f"{line.syllables}{line.label or ''}" for line in lines)
    topic, plan = record.title or "无题", ()
    if keywords is not None:
        plan = tuple(keywords.extract(record.lines, plan_size(len(record.lines))))
        salient = keywords.extract(record.lines, 1)
        topic = topical_title(record) or (salient[0] if salient else "无题")
    spec = LyricSpec(record.lang, topic, tuple(lines), analysis.scheme,
                     {label: group for group, label in labels.items()}, genre=record.genre, structure=structure,
                     keywords=plan, mood=record.tag("mood"), register=register)
    return spec


def stanzas(record: Record, stanza_lines: int | None) -> Iterator[Record]:
    """The work in consecutive pieces of at most ``stanza_lines`` lines (a last piece of one line is dropped),
    so a small model's context holds the whole exchange; None keeps it whole."""
    if not stanza_lines or len(record.lines) <= stanza_lines:
        yield record
        return
    for start in range(0, len(record.lines), stanza_lines):
        piece = record.lines[start:start + stanza_lines]
        if len(piece) >= 2:
            yield dataclasses.replace(record, id=f"{record.id}#{start // stanza_lines}", lines=piece)


def utilisation(records: Iterable[Record], seed: int = 0, stanza_lines: int | None = None,
                keywords: dict[str, KeywordTable] | None = None) -> Iterator[dict]:
    """Step 3: each work (or each stanza of at most ``stanza_lines`` lines) as a chat exchange, hint line
    before each lyric line; with ``keywords`` (per language), each brief carries the stanza's keyword plan."""
    rng = random.Random(seed)
    for whole in records:
        for record in stanzas(whole, stanza_lines):
            if any(len(line) > MAX_SYLLABLES for line in record.lines) or len(record.lines) > MAX_LINES:
                continue  # outside what a spec can ask for
            spec = spec_of_record(record, rng, (keywords or {}).get(record.lang))
            yield {"step": 3, "lang": record.lang, "id": record.id, "split": record.split,
                   "messages": exchange(spec, list(record.lines))}


WORDS_PER_TEXT = 12  # word readings per training text


def word_readings(lang: str, chars: set[str], limit: int = 40000, seed: int = 0) -> Iterator[dict]:
    """Word-level readings as plain texts of ``WORDS_PER_TEXT`` words each (``手机 shou3ji1；…``): up to ``limit``
    of CC-CEDICT's 2-4 character words written with ``chars`` only (a seeded sample, names left out), read
    by Tianci's annotator in context (the readings the hints and the constraint use): modern vocabulary
    with its sounds, for mixing into sft."""
    words = dict.fromkeys(getattr(entry, language(lang).script) for entry in cedict()
                          if not entry.pinyin[:1].isupper())  # capitalised pinyin: a name, no vocabulary
    words = [w for w in words if 2 <= len(w) <= 4 and set(w) <= chars]
    random.Random(f"{seed}-{lang}-words").shuffle(words)
    native = language(lang).native_name
    batch: list[str] = []
    for word in words[:limit]:
        syllables = annotate(word, lang)
        if any(s.romanization is None for s in syllables):
            continue
        batch.append(f"{word} {''.join(s.romanization for s in syllables)}")
        if len(batch) == WORDS_PER_TEXT:
            yield {"step": 1, "lang": lang, "text": f"{native}词语读音：" + "；".join(batch) + "。"}
            batch = []
