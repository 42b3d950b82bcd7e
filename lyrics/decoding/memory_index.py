"""The phrase memory's index: the lines of a set of songs, for the characters that follow a context and for the
characters that end a line in a rhyme group, and retrieval of the songs nearest a request. The corpus module builds
it, the decoding processor (:mod:`lyrics.decoding.phrase_memory`) reads it. A lookup is kept as tensors
(:class:`Counts`: indices into the memory's alphabet and their counts), so a row's advice, hundreds of characters
after a common context, reaches the logits without a Python loop over its characters.

>>> memory = PhraseMemory([("放学", ["我们一起走回家", "我们一起去看海"]), ("地铁", ["车厢里很安静"])])
>>> sorted(memory.continuations("一起").items())
[('去', 1.0), ('走', 1.0)]
>>> memory.retrieve("放学路上")
[0]
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import torch

from lyrics.modern.check import Song
from lyrics.modern.corpus import CORPUS, corpus_files, read_songs, split_of

from .prompt import HINT_OPEN

LINE_START = "^"  # marks the start of a line in the index, so a line's first characters have a context too
ORDER = 5  # characters of context at most
MIN_SEEN = 2  # continuations a context needs before the memory speaks
NEAR_SONGS = 30  # songs retrieved for a request
NEAR_WEIGHT = 300.0  # a retrieved song's count against the whole corpus's
CACHE = 1 << 16  # lookups a memory keeps: the corpus's; a near memory's are few and cheap to redo
NEAR_CACHE = 1 << 10
NEAR_KEPT = 32  # near memories kept per corpus memory (each with its own caches): a call's rows share a query
LINE_END = 3  # a line's last characters come from lines that end in the rhyme group it must end in
_SEP = "\x00"
_LAST = "\U0010ffff"


class Counts(NamedTuple):
    """A lookup's characters, as indices into its memory's ``alphabet``, with their counts (float64) and the counts'
    sum, ``seen``; each count stands for ``weight`` (a near song's count outweighs the corpus's, at no tensor op).
    Cached and shared by every request: its tensors are read-only."""

    index: torch.Tensor
    count: torch.Tensor
    seen: float
    weight: float = 1.0

    @classmethod
    def of(cls, counter: Counter, alphabet: dict[str, int]) -> Counts:
        if not counter:  # most lookups after generated text miss: one shared empty result keeps the caches small
            return NOTHING_SEEN
        return cls(torch.tensor([alphabet[c] for c in counter], dtype=torch.long),
                   torch.tensor(list(counter.values()), dtype=torch.float64), float(sum(counter.values())))

    @property
    def total(self) -> float:
        return self.seen * self.weight

    def without(self, excluded: torch.Tensor) -> Counts:
        """These counts less the characters at the alphabet indices ``excluded``."""
        keep = ~torch.isin(self.index, excluded)
        count = self.count[keep]
        return Counts(self.index[keep], count, float(count.sum()), self.weight)

    def as_dict(self, chars: str) -> dict[str, float]:
        """The weighted counts by character (``chars``: the alphabet in index order)."""
        return {chars[i]: n * self.weight for i, n in zip(self.index.tolist(), self.count.tolist(), strict=True)}


NOTHING_SEEN = Counts(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.float64), 0.0)


class PhraseMemory:
    """The lines of ``songs`` (``(topic, lines)`` pairs) indexed for continuations of up to ``order`` characters of
    context, and the songs themselves for retrieval. ``chars``: the alphabet lookups index into (default: the lines'
    characters; a near memory shares its corpus's, so their counts add index by index)."""

    def __init__(self, songs: Sequence[tuple[str, Sequence[str]]], order: int = ORDER, cache: int = CACHE,
                 chars: str | None = None):
        self.order, self.songs = order, list(songs)
        self.chars = chars if chars is not None else "".join(sorted({c for _, lines in self.songs
                                                                     for text in lines for c in text}))
        self.alphabet = {c: i for i, c in enumerate(self.chars)}
        # every position of every line with up to order + 1 characters after it, sorted: the positions a context
        # starts are one contiguous run, found by bisection
        self._keys = sorted(line[i:i + order + 1] for _, lines in self.songs for text in lines
                            for line in (LINE_START + text,) for i in range(len(line)))
        self.lines = {text for _, lines in self.songs for text in lines}
        self.completions: dict[str, set[str]] = {}  # a corpus line less its last character -> those last characters
        for text in self.lines:
            self.completions.setdefault(text[:-1], set()).add(text[-1])
        self._song_chars = [set(topic) | {c for text in lines for c in text} for topic, lines in self.songs]
        seen = Counter(c for chars in self._song_chars for c in chars)
        self._idf = {c: math.log(len(self.songs) / n) for c, n in seen.items()}
        self.continuation_counts = lru_cache(maxsize=cache)(self._continuations)
        self._ends: dict[str, list[str]] = {}
        self.ending_counts = lru_cache(maxsize=cache)(self._ending)
        # per memory, not a class-level cache on the method, which would keep every memory alive
        self._near_songs = lru_cache(maxsize=NEAR_KEPT)(self._build_near)

    def continuations(self, context: str) -> dict[str, float]:
        """The characters that follow ``context`` in the lines, with counts (``context`` at most ``order`` long)."""
        return self.continuation_counts(context).as_dict(self.chars)

    def ending(self, scheme: str, group: str, left: int, context: str) -> dict[str, float]:
        """The characters written ``left`` characters before the end of a line in ``group`` (of ``scheme``'s index,
        made by :meth:`end_index` first) after ``context``, with counts."""
        return self.ending_counts(scheme, group, left, context).as_dict(self.chars)

    def _continuations(self, context: str) -> Counts:
        lo = bisect.bisect_left(self._keys, context)
        hi = bisect.bisect_left(self._keys, context + _LAST, lo)
        size = len(context)
        return Counts.of(Counter(key[size] for key in self._keys[lo:hi] if len(key) > size), self.alphabet)

    def end_index(self, scheme: str, group_of: Callable[[str], str | None]) -> list[str]:
        """For the lines whose last character is in one rhyme group (``group_of``, of the rhyme scheme named
        ``scheme``), each of their last ``LINE_END`` characters as a sorted key: the group, the characters left
        from it to the line's end, the ``order`` characters before it nearest first, then the character."""
        if scheme not in self._ends:
            keys = []
            for _, lines in self.songs:
                for text in lines:
                    group = group_of(text[-1]) if text else None
                    if group is None:
                        continue
                    line = LINE_START + text
                    for left in range(1, min(LINE_END, len(text)) + 1):
                        at = len(line) - left
                        before = line[max(0, at - self.order):at][::-1]
                        keys.append(f"{group}{_SEP}{left}{_SEP}{before}{_SEP}{line[at]}")
            self._ends[scheme] = sorted(keys)
        return self._ends[scheme]

    def _ending(self, scheme: str, group: str, left: int, context: str) -> Counts:
        keys = self._ends.get(scheme, [])
        prefix = f"{group}{_SEP}{left}{_SEP}{context[::-1]}"
        lo = bisect.bisect_left(keys, prefix)
        hi = bisect.bisect_left(keys, prefix + _LAST, lo)
        return Counts.of(Counter(key[-1] for key in keys[lo:hi]), self.alphabet)

    def retrieve(self, query: str, k: int = NEAR_SONGS) -> list[int]:
        """The ``k`` songs sharing most of ``query``'s characters, each weighted by its rarity (idf), three times
        over where the song's topic has it."""
        wanted = {c for c in query if c in self._idf}
        if not wanted:
            return []
        scores = [sum(self._idf[c] * (3 if c in topic else 1) for c in wanted & chars)
                  for (topic, _), chars in zip(self.songs, self._song_chars, strict=True)]
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [i for i in ranked[:k] if scores[i] > 0]

    def near(self, query: str, k: int = NEAR_SONGS, weight: float = NEAR_WEIGHT) -> TopicMemory:
        """This memory with the ``k`` songs nearest ``query`` (a topic and its keywords) weighted ``weight``."""
        return TopicMemory(self, self._near_songs(query, k), weight)

    def _build_near(self, query: str, k: int) -> PhraseMemory | None:
        """The memory of the ``k`` songs nearest ``query``, retrieved and indexed once for every row that asks."""
        chosen = self.retrieve(query, k)
        return PhraseMemory([self.songs[i] for i in chosen], self.order, NEAR_CACHE, self.chars) if chosen else None


class Advice(NamedTuple):
    """What a :class:`TopicMemory` says after a text: the next character's counts (``counts``, the corpus's and the
    near songs' weighted, summing to ``total``; empty where the memory has not seen enough) and the characters that
    would complete a corpus line whole. ``chars``: the alphabet the counts index."""

    counts: tuple[Counts, ...]
    copies: set[str]
    chars: str

    @property
    def total(self) -> float:
        return sum(c.total for c in self.counts)

    @property
    def distribution(self) -> dict[str, float] | None:
        """The next character's probabilities by character (None: the memory says nothing)."""
        if not self.counts:
            return None
        found: dict[str, float] = {}
        for counts in self.counts:
            for c, n in counts.as_dict(self.chars).items():
                found[c] = found.get(c, 0.0) + n / self.total
        return found


class TopicMemory:
    """A corpus memory and a small memory of songs near one request: the next-character distribution after a line's
    text from the longest context either has seen at least ``MIN_SEEN`` times (counts of the near songs weighted).
    With the request's lines (:meth:`for_lines`: each line's syllables and pinned rhyme group), a line's last
    ``LINE_END`` characters come from lines of the memory that end in the group the line must end in, so a phrase
    lands on its rhyme instead of being cut off by it; never the last character of a line the corpus has whole (the
    memory lends phrases, not lines)."""

    def __init__(self, corpus: PhraseMemory, near: PhraseMemory | None, weight: float = NEAR_WEIGHT):
        if near is not None and near.chars != corpus.chars:  # their counts add index by index
            raise ValueError("a near memory must share its corpus memory's alphabet: make it with corpus.near()")
        self.corpus, self.near, self.weight = corpus, near, weight
        self.order = corpus.order
        self.lines: list[tuple[int, str | None]] = []
        self.scheme = ""

    def for_lines(self, lines: Sequence[tuple[int, str | None]], scheme: str,
                  group_of: Callable[[str], str | None]) -> TopicMemory:
        """This memory for a request's ``lines`` (syllables, the rhyme group its end must be in or None), rhyme
        groups read by ``group_of`` of the scheme named ``scheme`` (language and scheme)."""
        self.lines, self.scheme = list(lines), scheme
        for memory in (self.corpus, self.near):
            if memory is not None:
                memory.end_index(scheme, group_of)
        return self

    def _counts(self, lookup: str, *key: object) -> tuple[Counts, ...]:
        """A ``PhraseMemory`` lookup (``continuation_counts`` or ``ending_counts``) in the corpus and the near songs,
        the near songs' weighted."""
        found = getattr(self.corpus, lookup)(*key)
        if self.near is None:
            return (found,)
        return found, getattr(self.near, lookup)(*key)._replace(weight=self.weight)

    def _position(self, text: str) -> tuple[str, int | None, str | None]:
        """The line being written in ``text`` (the lyrics so far, hint lines skipped), the characters left in it
        and the rhyme group it must end in (None, None without the request's lines or past them)."""
        *done, line = text.split("\n")
        written = sum(1 for x in done if not x.startswith(HINT_OPEN))
        if written >= len(self.lines):
            return line, None, None
        syllables, group = self.lines[written]
        return line, syllables - len(line), group

    def advise(self, text: str) -> Advice:
        """What the memory says after ``text``, the lyrics written so far (hint lines skipped), whose last line is
        the one being written: the next character's counts (none where the memory has not seen enough) and the
        characters that would make that line a corpus line, whole, at its last syllable."""
        line, left, group = self._position(text)
        copies = self.corpus.completions.get(line, set()) if left == 1 else set()
        return Advice(self._distribution(line, left, group, copies), copies, self.corpus.chars)

    def _distribution(self, line: str, left: int | None, group: str | None,
                      copies: set[str]) -> tuple[Counts, ...]:
        context = LINE_START + line
        if group is not None and left is not None and 1 <= left <= LINE_END:
            # phrases, not whole lines: never the character that completes a corpus line
            excluded = torch.tensor([self.corpus.alphabet[c] for c in copies], dtype=torch.long) if copies else None
            for size in range(min(self.order, len(context)), -1, -1):
                tail = context[len(context) - size:]
                counts = self._counts("ending_counts", self.scheme, group, left, tail)
                if excluded is not None:
                    counts = tuple(c.without(excluded) for c in counts)
                if sum(c.total for c in counts) >= MIN_SEEN:
                    return counts
        for size in range(min(self.order, len(context)), 0, -1):
            counts = self._counts("continuation_counts", context[-size:])
            if sum(c.total for c in counts) >= MIN_SEEN:
                return counts
        return ()


def corpus_memory(lang: str, register: str | None = None, corpus: Path = CORPUS) -> PhraseMemory | None:
    """The phrase memory of the corpus's training songs in ``lang`` (and in
    ``register`` when given: written lyric Chinese borrows no colloquial phrase): their topics and lines (valid and
    test songs are held out); None when the corpus has none. About 160 MB for a language's 4,400 songs, and its
    bounded lookup caches as they fill: a :class:`~lyrics.generation.Decoder` builds it once and keeps it."""
    songs = [(song.brief.topic, song.lines) for path in corpus_files(corpus) if path.name.startswith(f"{lang}-")
             for song in read_songs(path) if isinstance(song, Song) and split_of(song.id) == "train"
             and song.brief.lang == lang and register in (None, song.brief.register)]
    return PhraseMemory(songs) if songs else None
