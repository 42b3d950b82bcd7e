"""Mandarin readings: context-aware pinyin, and the split of a pinyin syllable into initial/final/tone.

Readings come from pypinyin's phrase dictionary (polyphones resolved per word: 银行 háng, 行走 xíng),
run on the simplified form of the text, since that dictionary is keyed on simplified phrases and
misreads many traditional ones (plain pypinyin reads 重慶 zhòng, 音樂 lè, 銀行 xíng). A polyphone outside every
dictionary word (one g2pM knows: ``data/g2pm/choices.json``) is read again in its sentence by g2pM's BiLSTM
(:mod:`phonetics.polyphone`), among its reading set's readings only (睢阳城中粮食已经吃尽 jìn, where pypinyin
gives jǐn); the context rules (``data/context_cmn.json``) come last. 一 and 不 keep pypinyin's reading and
their citation tone (their sandhi is the melody's business).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from types import MappingProxyType

from pypinyin import Style
from pypinyin.constants import PHRASES_DICT, PINYIN_DICT
from pypinyin.contrib.tone_convert import to_tone3
from pypinyin.converter import UltimateConverter
from pypinyin.core import Pinyin

from .context import apply_rules, load_rules, longest_listed
from .polyphone import Disambiguator, load_choices
from .script import CJK_RUN, convert
from .tables import load_table

_TABLE = load_table("mandarin")
_INITIALS = tuple(_TABLE["initials"])  # two-letter initials come first, so prefix matching is greedy
_APICAL = frozenset(_TABLE["apical_initials"])
_PALATAL = frozenset(_TABLE["palatal_initials"])
_ZERO_SPELLINGS: dict[str, str] = _TABLE["zero_initial_spellings"]
_ZERO_PREFIXES: dict[str, str] = _TABLE["zero_initial_prefixes"]
_CITATION: dict[str, str] = _TABLE["citation_readings"]
_SYLLABLE = re.compile(r"([a-zê]+)([1-5])")
_NASAL_SYLLABLES = frozenset({"m", "n", "ng", "hm", "hng"})


PHRASE_MAX = 4  # the longest dictionary word looked for around a polyphone
SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]*")  # the model reads a sentence at a time
CACHE_SIZE = 1 << 18  # sentences: lyrics and corpora repeat theirs


REGISTERS: tuple[str, ...] = ()  # Mandarin reads one way in verse and in speech here


def register_of(text: str) -> None:
    """Mandarin has no literary/colloquial split of readings to choose between."""
    return None


def readings(text: str, register: str | None = None) -> list[str | None]:
    """Pinyin (tone digit, ``v`` for ü, ``5`` neutral) per character of ``text``; None off CJK or unknown."""
    if register is not None:
        raise ValueError(f"Mandarin has no register {register!r}: leave it out")
    return _default_reader().readings(text)


def read_ahead(texts: Sequence[str], register: str | None = None) -> None:
    """Read ahead the sentences of ``texts`` in one batch: :func:`readings` then finds them read (the same readings
    as without; a test checks)."""
    if register is not None:
        raise ValueError(f"Mandarin has no register {register!r}: leave it out")
    _default_reader().read_sentences([m.group() for text in texts for m in SENTENCE.finditer(convert(text, "t2s"))])


def read_sentences(sentences: list[str]) -> None:
    """Read ahead the sentences (simplified script) not read before, in one batch (see :class:`SentenceReader`)."""
    _default_reader().read_sentences(sentences)


@cache
def _default_reader() -> SentenceReader:
    return SentenceReader()


class SentenceReader:
    """Readings sentence by sentence, remembering the sentences read (at most :data:`CACHE_SIZE`): lyrics and
    corpora repeat theirs, and the context model reads a batch of new sentences at once."""

    def __init__(self):
        self.sentences: dict[str, tuple[str | None, ...]] = {}

    def readings(self, text: str) -> list[str | None]:
        simplified = convert(text, "t2s")
        out: list[str | None] = [None] * len(text)
        found = list(SENTENCE.finditer(simplified))
        self.read_sentences([match.group() for match in found])
        for match in found:
            out[match.start():match.end()] = self.sentences[match.group()]
        return out

    def read_sentences(self, sentences: list[str]) -> None:
        """Read the sentences not read before, the polyphones of all of them in one batch.

        Three sources, later ones winning: pypinyin's word dictionary (with its single-character defaults), run
        by run of CJK characters; the context model over the whole sentence, arbitrated by the trust table
        (:class:`Trust`: outside dictionary words the model's reading where it is sure enough, inside one the
        word's reading, since the model, trained on Wikipedia, reads 头发 fā, 银行 xíng, 中奖 zhōng; and the other
        source's reading for the few pairs where the labelled sentences found it right far more often); and the
        context rules, for function words neither reads right (慢慢地 de, 跑得快 de, 你得走 děi)."""
        todo = list(dict.fromkeys(s for s in sentences if s not in self.sentences))
        if not todo:
            return
        if len(self.sentences) + len(todo) > CACHE_SIZE:
            self.sentences.clear()
        rules = load_rules("context_cmn")
        for sentence, syllables in zip(todo, sources(todo, decide=load_trust().decide), strict=True):
            for run in CJK_RUN.finditer(sentence):
                apply_rules(rules, run.group(), syllables, offset=run.start())
            self.sentences[sentence] = tuple(None if syl is None else _citation(char, syl)
                                             for char, syl in zip(sentence, syllables, strict=True))


BATCH = 512  # sentences a forward pass of the context model, sorted by length so that little is padding


Decide = Callable[[str, str | None, str, float, bool], str | None]


def sources(sentences: list[str], decide: Decide | None = None,
            seen: Callable[..., None] | None = None) -> list[list[str | None]]:
    """Per sentence, its pypinyin readings (run by run) with each polyphone the context model is asked about read by
    ``decide(char, pypinyin's reading, the model's, its probability, inside a dictionary word)``; ``seen`` is told
    (sentence number, index, then the same) for each (the trust table's builder counts with it). The model is asked
    about every polyphone it knows outside dictionary words, and inside one where the trust table may switch it;
    all the sentences' questions go to it in batches of :data:`BATCH` sentences of similar length."""
    choices = load_choices()
    in_words = load_trust().word_chars if seen is None else frozenset(choices)
    read: list[list[str | None]] = []
    asked: list[tuple[int, list[int], list[bool]]] = []
    listed: dict[tuple[int, int], str] = {}  # (sentence, index) → the reading of a listed word around it
    for k, sentence in enumerate(sentences):
        syllables: list[str | None] = [None] * len(sentence)
        found, in_word = [], []
        for run in CJK_RUN.finditer(sentence):
            text = run.group()
            syllables[run.start():run.end()] = pypinyin_run(text)
            listed_here = listed_readings(text)
            listed.update({(k, run.start() + i): reading for i, reading in listed_here.items()})
            for i, c in enumerate(text):
                if c in choices:
                    word = phrase_length(text, i) > 0
                    if not word or c in in_words or i in listed_here:
                        found.append(run.start() + i)
                        in_word.append(word)
        read.append(syllables)
        if found:
            asked.append((k, found, in_word))
    asked.sort(key=lambda a: len(sentences[a[0]]))
    model = Disambiguator.load()
    for start in range(0, len(asked), BATCH):
        chunk = asked[start:start + BATCH]
        texts = [sentences[k] for k, _, _ in chunk]
        allowed = [[choices[sentences[k][i]] for i in found] for k, found, _ in chunk]
        chosen = model.choose(texts, [found for _, found, _ in chunk], allowed)
        for (k, found, in_word), picks in zip(chunk, chosen, strict=True):
            syllables = read[k]
            for i, word, (reading, probability) in zip(found, in_word, picks, strict=True):
                char = sentences[k][i]
                if seen is not None:
                    seen(k, i, char, syllables[i], reading, probability, word)
                if decide is not None:
                    syllables[i] = decide(char, syllables[i], reading, probability, word)
                    if listed.get((k, i)) == reading:  # CC-CEDICT's word and the model agree against pypinyin
                        syllables[i] = reading
    return read


TRUST = "trust_cmn"  # phonetics/data/trust_cmn.json, written by tools/build_trust_cmn.py


@dataclass(frozen=True)
class Trust:
    """When the context model's reading replaces the word dictionary's (``data/trust_cmn.json``): outside a dictionary
    word when its probability is at least ``threshold`` (``cautious`` characters: their own, higher, threshold), never
    inside one; then, for a (character, reading so chosen, the other source's reading) listed in ``switch``, the other
    reading. Built from the CPP development split (less its held-out test fifth) and the everyday method set."""

    threshold: float
    cautious: Mapping[str, float]
    switch: frozenset[tuple[str, str, str]]

    @cached_property
    def word_chars(self) -> frozenset[str]:
        """Characters whose reading inside a dictionary word may be switched to the model's."""
        return frozenset(char for char, _, _ in self.switch)

    def default(self, char: str, word: str | None, model: str, probability: float, in_word: bool) -> str | None:
        """The reading before the switch table: the model's where trusted, else the dictionary's (``word``)."""
        if not in_word and probability >= self.cautious.get(char, self.threshold):
            return model
        return word

    def decide(self, char: str, word: str | None, model: str, probability: float, in_word: bool) -> str | None:
        chosen = self.default(char, word, model, probability, in_word)
        other = word if chosen == model else model
        return other if (char, chosen, other) in self.switch else chosen


@cache
def load_trust() -> Trust:
    table = load_table(TRUST)
    return Trust(table["threshold"], MappingProxyType(dict(table["cautious"])),
                 frozenset(tuple(entry[:3]) for entry in table["switch"]))


def phrase_length(run: str, i: int) -> int:
    """The longest word of pypinyin's phrase dictionary around ``run[i]`` (0: none)."""
    return max((size for size in range(2, PHRASE_MAX + 1)
                for start in range(max(0, i - size + 1), min(i, len(run) - size) + 1)
                if run[start:start + size] in PHRASES_DICT), default=0)


WORDS = "words_cmn"  # phonetics/data/words_cmn.json, written by tools/build_words_cmn.py


@cache
def _listed_words() -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({word: tuple(reading.split()) for word, reading in load_table(WORDS)["words"].items()})


@lru_cache(maxsize=1 << 19)
def listed_readings(run: str) -> Mapping[int, str]:
    """Index → reading, for the polyphones of ``run`` inside a CC-CEDICT word that reads them otherwise than pypinyin
    (``data/words_cmn.json``): the longest such word around each, and only one that pypinyin's own segmentation does
    not cut (it lies inside pypinyin's word there, or holds it), so 一起种下 is not read as 起种.

    >>> dict(listed_readings("旋律质朴"))
    {3: 'pu3'}
    >>> dict(listed_readings("我们一起种下希望"))  # 起种 would cut pypinyin's 一起|种下
    {}
    """
    words, choices = _listed_words(), load_choices()
    spans, start = [], 0
    for segment in _PINYIN.seg(run):
        spans.append((start, start + len(segment)))
        start += len(segment)
    out: dict[int, str] = {}
    for a, b in spans:
        for i in range(a, b):
            if run[i] not in choices:
                continue
            found = longest_listed(run, i, PHRASE_MAX, lambda s, n, i=i, a=a, b=b: words[run[s:s + n]][i - s]
                                   if run[s:s + n] in words and _nested((s, s + n), (a, b)) else None)
            if found is not None:
                out[i] = found
    return MappingProxyType(out)


def _nested(one: tuple[int, int], other: tuple[int, int]) -> bool:
    """Whether one span lies inside the other."""
    return (other[0] <= one[0] and one[1] <= other[1]) or (one[0] <= other[0] and other[1] <= one[1])


@lru_cache(maxsize=1 << 19)  # the 21k Song ci hold 274k distinct runs: clauses repeat across a corpus
def pypinyin_run(run: str) -> tuple[str, ...]:
    syllables = _pypinyin(run)
    if len(syllables) != len(run):  # pypinyin kept unreadable characters as one item: go char by char
        syllables = [_pypinyin(c)[0] for c in run]
    return tuple(syllables)


class _StyleCache(UltimateConverter):
    """pypinyin's converter for ``lazy_pinyin(style=TONE3, neutral_tone_with_five=True)``, with its results per
    word of its segmentation and per syllable remembered (pure functions of their arguments; most of pypinyin's time
    went on converting the same words and syllables again)."""

    WORDS = 1 << 20  # remembered words at most (the phrase dictionary has 400k)

    def __init__(self):
        super().__init__(neutral_tone_with_five=True)
        self.styled: dict[tuple, str] = {}
        self.words: dict[tuple, list] = {}

    def convert(self, words, style, heteronym, errors, strict, **kwargs):
        if kwargs:
            return super().convert(words, style, heteronym, errors, strict, **kwargs)
        key = (words, style, heteronym, errors, strict)
        if (found := self.words.get(key)) is None:
            if len(self.words) >= self.WORDS:
                self.words.clear()
            found = self.words[key] = super().convert(words, style, heteronym, errors, strict)
        return list(found)  # a new list of the same (never changed) per-character lists

    def convert_style(self, han, orig_pinyin, style, strict, **kwargs):
        if kwargs:
            return super().convert_style(han, orig_pinyin, style, strict, **kwargs)
        key = (han, orig_pinyin, style, strict)
        if (styled := self.styled.get(key)) is None:
            styled = self.styled[key] = super().convert_style(han, orig_pinyin, style, strict)
        return styled


_PINYIN = Pinyin(_StyleCache())


def _pypinyin(text: str) -> list[str]:
    # Unreadable characters come back as themselves and fail the syllable check in _citation.
    return _PINYIN.lazy_pinyin(text, style=Style.TONE3)


def _citation(char: str, syllable: str | None) -> str | None:
    """Undo tone sandhi stored in phrases (一个 yi2 → yi1, 不要 bu2 → bu4); keep neutral tones."""
    if syllable is None or not _SYLLABLE.fullmatch(syllable):
        return None
    citation = _CITATION.get(char)
    if citation and syllable[:-1] == citation[:-1] and syllable[-1] != "5":
        return citation
    return sys.intern(syllable)  # a few thousand distinct syllables shared by every cached run


def reading_sets() -> dict[str, frozenset[str]]:
    """Every reading :func:`readings` can give each character (simplified keys), in any context: the
    character dictionary's and each phrase's. Constraint code allows a character only when all its
    readings qualify, so a reading chosen later from context cannot break a constraint."""
    found: dict[str, set[str]] = {}
    tone3: dict[str, str] = {}

    def add(char: str, marked: str) -> None:
        if (syllable := tone3.get(marked)) is None:
            syllable = tone3[marked] = to_tone3(marked, neutral_tone_with_five=True)
        if (syllable := _citation(char, syllable)) is not None:
            found.setdefault(char, set()).add(syllable)

    for code, marked in PINYIN_DICT.items():
        for reading in marked.split(","):
            add(chr(code), reading)
    for phrase, phrase_readings in PHRASES_DICT.items():
        for char, options in zip(phrase, phrase_readings, strict=False):
            for reading in options:
                add(char, reading)
    return {c: frozenset(r) for c, r in found.items()}


@lru_cache(maxsize=4096)
def split(syllable: str) -> tuple[str | None, str, int]:
    """``'zhuang1'`` → ``('zh', 'uang', 1)``; finals in their underlying form (``ju`` → ``v``, ``zhi`` → ``-i``,
    ``you`` → ``iu``, ``wen`` → ``un``), so that rhyme tables key on them."""
    match = _SYLLABLE.fullmatch(syllable)
    if match is None:
        raise ValueError(f"not a pinyin syllable with tone digit: {syllable!r}")
    body, tone = match.group(1), int(match.group(2))
    if body in _NASAL_SYLLABLES:  # interjections 呣 m, 嗯 n/ng, 哼 hng
        return ("h" if body.startswith("h") else None), body.removeprefix("h"), tone
    initial = next((i for i in _INITIALS if body.startswith(i) and len(body) > len(i)), None)
    if initial is None:
        if body in _ZERO_SPELLINGS:
            return None, _ZERO_SPELLINGS[body], tone
        glide = _ZERO_PREFIXES.get(body[0])
        return None, (glide + body[1:] if glide else body), tone
    rest = body[len(initial):]
    if initial in _PALATAL and rest.startswith("u"):
        rest = "v" + rest[1:]
    elif initial in _APICAL and rest == "i":
        rest = "-i"
    return initial, rest, tone


def rhyme_groups(scheme_name: str) -> tuple[tuple[str, ...], Callable[[str], str | None]]:
    """(groups, final → group) of the rhyme table ``phonetics/data/rhyme_<scheme_name>.json``."""
    table = load_table(f"rhyme_{scheme_name}")
    final_to_group = {final: group for group, finals in table["groups"].items() for final in finals}
    return tuple(table["groups"]), final_to_group.get
