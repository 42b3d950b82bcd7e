"""Cantonese readings: context-aware jyutping, and the split of a syllable into onset/final/tone.

Built on pycantonese's data (rime-cantonese and HKCanCor) and its word segmenter, with three changes
that the accuracy bench (``bench/phonetics_accuracy.py``) measures against plain pycantonese:

1. Input is converted to Hong Kong traditional script first (OpenCC ``s2hk``): the dictionary has
   traditional keys only, so plain pycantonese reads no simplified word at all (银行 → None). A text already
   traditional keeps the characters the conversion would change to one read otherwise (吓 not 嚇, 郁 not 鬱).
2. A word missing from the dictionary is matched by its longest dictionary sub-words before falling
   back to single characters, and one unknown character no longer blanks the whole word.
3. A character read alone takes the reading it most often has standing alone in running text
   (HKCanCor), instead of rime-cantonese's single-character entry (which gives 長 zoeng6, 間 haan4,
   行 hong6); characters HKCanCor lacks take their commonest reading across rime's words.
4. ToJyutping (words.hk and rime-cantonese, curated; read by :mod:`phonetics.everyday`) arbitrates: where it
   reads a character in its sentence otherwise than alone, it knows a word there (隨便 bin2, 停泊 bok6), and
   that reading is taken over pycantonese's when it is one of the character's reading sets (not for words only
   speech records); in text read aloud, it reads the characters no dictionary word fixes (:meth:`_arbitrate`).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from importlib.metadata import version
from itertools import accumulate
from pathlib import Path

from .cache import replacing_file, tianci_home
from .context import ContextRule, apply_rules, load_rules, longest_listed
from .everyday import everyday_readings, reading_alone
from .metre import by_metre
from .script import CJK_RUN, convert
from .segmenter import preload, segment_runs
from .tables import load_table

_TABLE = load_table("cantonese")
_LOOSE_PAIRS: dict[str, str] = _TABLE["loose_coda_pairs"]
_FOLDS: dict[str, int] = _TABLE["entering_tone_folds"]
_SYLLABLE = re.compile(
    "({onsets})?({nuclei})({codas})?([1-9])".format(
        onsets="|".join(_TABLE["onsets"]), nuclei="|".join(_TABLE["nuclei"]), codas="|".join(_TABLE["codas"])
    )
)
_SYLLABIC = re.compile("(h?)({})([1-9])".format("|".join(_TABLE["syllabic_nasals"])))
_MAX_WORD = 6  # longest sub-word tried when a segment is not in the dictionary


@dataclass(frozen=True)
class Lexicon:
    words: dict[str, tuple[str, ...]]  # multi-character word → one syllable per character
    chars: dict[str, str]  # character → its reading when it stands alone
    spoken: frozenset[str] = frozenset()  # words only speech (HKCanCor) records, as said: 輕輕 heng6 heng1
    settled: frozenset[str] = frozenset()  # characters speech reads one way alone: 會 wui5, 咁 gam3, 話 waa6


def build_lexicon(tokens: Iterable[tuple[str, str | None]]) -> Lexicon:
    """A lexicon from (word, human jyutping) tokens of running text plus rime-cantonese.

    Words: the tokens' commonest reading per word, overridden by rime-cantonese (as pycantonese does).
    Characters (module docstring, point 3): the commonest reading of the character as a one-character
    token; else its commonest reading inside the tokens' words; else across rime's multi-character
    words; else rime's single-character entry. Settled: the characters the tokens read alone often enough and
    almost always one way (``data/context_yue.json``, ``settled_alone``), whose reading colloquial text keeps.
    """
    from pycantonese.data.rime_cantonese import CHARS_TO_JYUTPING  # 0.2 s to import: only when building

    word_counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    alone: defaultdict[str, Counter[str]] = defaultdict(Counter)
    inside: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for word, jyutping in tokens:
        syllables = _split_syllables(jyutping) if word and jyutping else None
        if not syllables or len(syllables) != len(word):
            continue
        if len(word) == 1:
            alone[word][syllables[0]] += 1
        else:
            word_counts[word][" ".join(syllables)] += 1
            for char, syllable in zip(word, syllables, strict=True):
                inside[char][syllable] += 1
    words = {w: tuple(c.most_common(1)[0][0].split()) for w, c in word_counts.items()}
    spoken = set(words)
    in_rime_words: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for key, value in CHARS_TO_JYUTPING.items():
        syllables = tuple(value.split())
        if len(key) > 1 and len(syllables) == len(key):
            words[key] = syllables
            spoken.discard(key)
            for char, syllable in zip(key, syllables, strict=True):
                in_rime_words[char][syllable] += 1
    chars = {k: v for k, v in CHARS_TO_JYUTPING.items() if len(k) == 1 and _SYLLABLE.fullmatch(v)}
    for source in (in_rime_words, inside, alone):  # later sources win
        chars.update({c: counts.most_common(1)[0][0] for c, counts in source.items()})
    rule = _settled_rule()
    settled = {
        c
        for c, counts in alone.items()
        if (total := counts.total()) >= rule["min_tokens"] and counts.most_common(1)[0][1] >= rule["share"] * total
    }
    return Lexicon(words, chars, frozenset(spoken), frozenset(settled))


def _settled_rule() -> dict[str, float]:
    return load_table("context_yue")["settled_alone"]


LEXICON_VERSION = 3  # bump when build_lexicon or settled_alone changes, so cached lexicons are rebuilt


def lexicon_cache() -> Path:
    """Where the default lexicon is kept once built (it depends on pycantonese's bundled data only)."""
    return tianci_home() / "phonetics" / f"yue-lexicon-v{LEXICON_VERSION}-pycantonese-{version('pycantonese')}.json"


@cache
def _default_lexicon() -> Lexicon:
    """HKCanCor and rime-cantonese as a lexicon; built once (about 1.5 s) and then read from the disk cache."""
    path = lexicon_cache()
    try:
        data = json.loads(path.read_text("utf-8"))
        return Lexicon(
            {w: tuple(s.split()) for w, s in data["words"].items()},
            data["chars"],
            frozenset(data["spoken"]),
            frozenset(data["settled"]),
        )
    except (OSError, ValueError, KeyError, AttributeError):  # none yet, or damaged: build it
        pass
    import pycantonese  # its rime tables take 0.2 s to import: only when the lexicon is built

    built = build_lexicon((t.word, t.jyutping) for t in pycantonese.hkcancor().tokens())
    try:
        with replacing_file(path) as tmp:
            tmp.write_text(
                json.dumps(
                    {
                        "words": {w: " ".join(s) for w, s in built.words.items()},
                        "chars": built.chars,
                        "spoken": sorted(built.spoken),
                        "settled": sorted(built.settled),
                    },
                    ensure_ascii=False,
                ),
                encoding="utf-8",
            )
    except OSError:  # a read-only home: read without a cache
        pass
    return built


def reading_sets() -> dict[str, frozenset[str]]:
    """Every reading :func:`readings` can give each character (traditional keys), in any context: its
    single-character reading and its reading inside every dictionary word."""
    return dict(_default_reader().reading_sets)


def _lexicon_reading_sets(lex: Lexicon) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {c: {r} for c, r in lex.chars.items()}
    valid: dict[str, bool] = {}  # a syllable checked once (a few thousand kinds, 300k occurrences)
    for word, syllables in lex.words.items():
        for char, syllable in zip(word, syllables, strict=True):
            ok = valid.get(syllable)
            if ok is None:
                ok = valid[syllable] = bool(_SYLLABLE.fullmatch(syllable) or _SYLLABIC.fullmatch(syllable))
            if ok:
                found.setdefault(char, set()).add(syllable)
    return {c: frozenset(r) for c, r in found.items()}


def _split_syllables(jyutping: str) -> list[str] | None:
    """``'ngan4hong4'`` → ``['ngan4', 'hong4']`` (HKCanCor writes a word's syllables unspaced)."""
    parts = re.findall(r"[a-z]+[1-9]", jyutping)
    return parts if "".join(parts) == jyutping.replace(" ", "") else None


REGISTERS = tuple(_TABLE["language"]["registers"])  # whose readings differ; data/cantonese.json
_MODERN_REGISTERS = ("written", "colloquial")
_CONTEXT = load_table("context_yue")  # registers here; its rules are read by phonetics.context
_COLLOQUIAL = re.compile("|".join(_CONTEXT["colloquial_markers"]))
# evidence verse and written text show now and then (風緊, 個個, 隻身): colloquial only at one in _WEAK_SPAN characters
_WEAK_COLLOQUIAL = re.compile("|".join(_CONTEXT["weak_colloquial_markers"]))
_WEAK_SPAN: int = _CONTEXT["weak_colloquial_span"]
_CLASSICAL = re.compile("|".join(_CONTEXT["literary_markers"]))
_MODERN = re.compile("|".join(_CONTEXT["modern_markers"]))
_VERSE_LINES = frozenset(_CONTEXT["verse_line_lengths"])
_CI_LINES: dict[str, int] = _CONTEXT["ci_lines"]  # the lines of a ci (詞): several, short, of any lengths
_LITERARY: dict[str, tuple[str, str]] = {c: (pair[0], pair[1]) for c, pair in _CONTEXT["literary_pairs"].items()}
_LITERARY_EVERYWHERE = frozenset(_CONTEXT["literary_everywhere"])
_METRE_PAIRS: dict[str, tuple[str, str]] = {c: (p[0], p[1]) for c, p in _CONTEXT["metre_pairs"]["pairs"].items()}
_KEPT_AS_TYPED = frozenset(_CONTEXT["kept_as_typed"]["chars"])
_TOJYUTPING_ALONE = frozenset(_CONTEXT["tojyutping_alone_registers"])
_INTERJECTIONS = frozenset(_CONTEXT["interjections"])  # speech in any register: HKCanCor's reading alone stands
# (character, reading) the table can give: a rule's character is the one its group t matches, when one
_TABLE_READINGS = tuple(
    [(char, reading) for pairs in (_LITERARY, _METRE_PAIRS) for char, pair in pairs.items() for reading in pair]
    + list(_CONTEXT["surnames"]["readings"].items())
    + list(_CONTEXT["surnames"]["familiar"]["readings"].items())
    + [
        (m.group(1), rule["reading"])
        for rule in [*_CONTEXT["rules"], *_CONTEXT["sentence_rules"]]
        if (m := re.search(r"\(\?P<t>(.)\)", rule["pattern"]))
    ]
)


def _has_modern_bigram(runs: list[str]) -> bool:
    modern = _modern_bigrams()
    return any(run[i : i + 2] in modern for run in runs for i in range(len(run) - 1))


@cache
def _modern_bigrams() -> frozenset[str]:
    """``data/register_yue.json``: bigrams common in modern text and absent from Tang and Song verse."""
    return frozenset(load_table("register_yue")["modern_bigrams"].split())


def register_of(text: str) -> str:
    """The register ``text`` is in, from evidence: ``colloquial`` if it has a colloquial Cantonese word (嘅, 咗,
    佢, 唔 ...), or weaker evidence densely enough (a classifier opening a clause, 讀緊, 好凍: one in 25 characters,
    since verse has 風緊 and 個個 now and then); ``literary`` if it is verse-like (no modern written function word such
    as 的 們 這 nor a modern word, a bigram of ``data/register_yue.json`` (手機, 電話), and a classical function word,
    之乎者也兮矣焉哉, or lines of 5 or 7 characters, or parallel lines of one length, or the several short lines of a
    ci, 簫聲咽，秦娥夢斷秦樓月，秦樓月); else
    ``written``: modern written Chinese, read aloud with everyday readings (:func:`readings`).

    >>> register_of("佢聽日返工"), register_of("春風吹又生"), register_of("他的考試分數很高")
    ('colloquial', 'literary', 'written')
    """
    return _register_of(convert(text, "s2hk"))


def _register_of(traditional: str) -> str:
    runs = CJK_RUN.findall(traditional)
    if _COLLOQUIAL.search(traditional) or (
        len(_WEAK_COLLOQUIAL.findall(traditional)) * _WEAK_SPAN >= sum(map(len, runs)) > 0
    ):
        return "colloquial"
    if _MODERN.search(traditional) or _has_modern_bigram(runs):
        return "written"
    lines = [len(line) for line in runs]
    verse_shaped = bool(lines) and (set(lines) <= _VERSE_LINES or (len(lines) > 1 and len(set(lines)) == 1)
                                    or (len(lines) >= _CI_LINES["min_lines"]
                                        and all(_CI_LINES["shortest"] <= n <= _CI_LINES["longest"] for n in lines)))
    return "literary" if verse_shaped or _CLASSICAL.search(traditional) else "written"


def readings(text: str, register: str | None = None) -> list[str | None]:
    """Jyutping (tone 1-6) per character of ``text``; None off CJK or where no reading is known. ``register``
    (``literary``, ``written`` or ``colloquial``; None: :func:`register_of` the text) picks between a
    character's literary and everyday readings where no dictionary word fixes it: 春風吹又生 sang1, 佢生咗個仔
    saang1. Written text reads with everyday readings where a word fixes them (ToJyutping's too: 好淡 taam5) and
    with the literary one of a pair read alone, as text is read aloud and sung (一聲再見 sing1)."""
    preload()  # the segmenter loads while the lexicon does
    return _default_reader().readings(text, register)


def read_ahead(texts: Sequence[str], register: str | None = None) -> None:
    """Segment the runs of ``texts`` in one call, so that :func:`readings` of each (the same readings either
    way) finds them segmented; ``register`` as :func:`readings` takes it."""
    preload()
    _default_reader().read_ahead(texts, register)


@cache
def _default_reader() -> LexiconReader:
    return LexiconReader(_default_lexicon())


class LexiconReader:
    """Readings in context from one lexicon, with its own caches (the default one: HKCanCor and rime-cantonese;
    a held-out evaluation builds its own from a part of HKCanCor, and nothing else changes)."""

    RUNS_CACHED = 1 << 19  # the 21k Song ci hold 274k distinct runs
    WORDS_CACHED = 1 << 16
    SEGMENTS_KEPT = 1 << 16  # runs segmented ahead (a read-ahead batch of the Song ci holds about 12k)

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self._run_readings = lru_cache(maxsize=self.RUNS_CACHED)(self._read_run)
        self._word_readings = lru_cache(maxsize=self.WORDS_CACHED)(self._read_word)
        self._segmented: dict[str, list[str]] = {}  # run → its words, from read_ahead

    def read_ahead(self, texts: Sequence[str], register: str | None = None) -> None:
        """Segment every run of ``texts`` in one call of the segmenter (a call a run costs 0.4 s more on 100k
        characters of verse); :meth:`readings` then gives the same readings as without it."""
        preload()
        runs: dict[str, None] = {}
        for text in texts:
            runs.update(dict.fromkeys(CJK_RUN.findall(self._script(text))))
        self.reading_sets  # noqa: B018 (built here, while the segmenter may still be loading)
        if len(self._segmented) > self.SEGMENTS_KEPT:
            self._segmented.clear()
        todo = [run for run in runs if run not in self._segmented]
        self._segmented.update(zip(todo, segment_runs(todo), strict=True))

    @cached_property
    def reading_sets(self) -> dict[str, frozenset[str]]:
        """The lexicon's readings of each character, with those the context table gives (rules, literary pairs)."""
        sets = _lexicon_reading_sets(self.lexicon)
        for char, reading in _TABLE_READINGS:
            sets[char] = sets.get(char, frozenset()) | {reading}
        return sets

    def readings(self, text: str, register: str | None = None) -> list[str | None]:
        """As :func:`readings`, with this lexicon."""
        preload()
        traditional = self._script(text)
        register = register or _register_of(convert(text, "s2hk"))
        if register not in REGISTERS:
            raise ValueError(f"unknown register {register!r}: use one of {', '.join(REGISTERS)}")
        out: list[str | None] = [None] * len(text)
        for run in CJK_RUN.finditer(traditional):
            start, end = run.span()
            found = self._run_readings(run.group(), register)
            # A character the conversion changed but still cannot read: try it as typed.
            out[start:end] = [r or self._char_reading(text[i]) for i, r in zip(range(start, end), found, strict=True)]
        # particles whose tone the clause's punctuation or an earlier clause settles: 真㗎？ gaa4, 佢話…喎 wo5
        apply_rules(load_rules("context_yue", "sentence_rules"), traditional, out, register)
        return by_metre(traditional, out, _METRE_PAIRS, _level) if register == "literary" else out

    def _script(self, text: str) -> str:
        """``text`` in Hong Kong traditional script, as the lexicon's keys are, but for characters OpenCC changes in a
        text already traditional where the change would change the reading: HKCanCor's 講吓 stays 吓 haa5 (not 嚇
        haak3), 郁手 juk1 stays 郁 (not 鬱 wat1). A text is taken as traditional when every character the conversion
        changes is a lexicon character and it shows a character only traditional script writes (else only the characters
        of ``kept_as_typed`` are kept); one simplified-only character converts it all."""
        converted = convert(text, "s2hk")
        if converted == text:
            return converted
        chars = self.lexicon.chars
        changed = [i for i, (typed, hk) in enumerate(zip(text, converted, strict=True)) if typed != hk]
        if any(text[i] not in chars for i in changed):
            return converted  # a character only simplified script writes: the text is simplified
        # rime's lexicon holds simplified characters too (只 里 几 干): without a character only traditional script
        # writes, only the few whose conversion is the wrong character are kept
        traditional = convert(text, "hk2s") != text
        kept = [i for i in changed if (traditional or text[i] in _KEPT_AS_TYPED)
                and chars[text[i]] != chars.get(converted[i])]
        if not kept:
            return converted
        out = list(converted)
        for i in kept:
            out[i] = text[i]
        return "".join(out)

    def _read_run(self, run: str, register: str) -> tuple[str | None, ...]:
        """Readings of one run of CJK characters in one register (cached: clauses repeat across a corpus)."""
        out: list[str | None] = []
        source: list[str] = []  # per character: read "alone", from a "spoken" word, or from a dictionary "word"
        words = self._segmented.get(run)
        if words is None:
            words = segment_runs([run])[0]
        for word in words:
            found, sources = self._word_readings(word)
            out.extend(found)
            source.extend(sources)
        self._arbitrate(run, out, source, register)
        self._curated(run, words, out, source, register)
        if register != "colloquial":
            for i, char in enumerate(run):
                if (
                    (pair := _LITERARY.get(char))
                    and out[i]
                    and (register == "literary" or _read_aloud(source[i], char))
                    and _colloquial(out[i], pair[0], source[i], char, register)
                ):
                    out[i] = pair[1]
        apply_rules(_run_rules(), run, out, register)
        return tuple(out)

    def _curated(self, run: str, words: list[str], out: list[str | None], source: list[str], register: str) -> None:
        """The curated word table (``data/words_yue.json``: which reading a polyphone takes in which common word, 行貨
        hong4, 自傳 zyun6, 糖分 fan6) over the sources: the longest listed word around each character, in the text's
        register (modern text: written or colloquial) or any, and only one that is one of the segmenter's words or
        holds whole ones (雞蛋仔 keeps its own word), or whose characters no dictionary word reads (the segmenter
        leaves written text it does not know in long pieces: 全場觀眾屏息以待 gives 屏息 bing2). Verse takes only the
        entries for verse: the table's words are modern ones (長相 soeng3, looks, is not 長相思). Speech keeps the
        readings of the words HKCanCor's speakers said (``spoken``)."""
        table = _curated_words()
        if not table:
            return
        edges = {0, *accumulate(map(len, words))}
        loose = [src in ("alone", "context") for src in source]  # read outside any dictionary word
        # the segmenter's piece each character is in, where that piece is no dictionary word (供奉關帝, not 命中注定)
        piece = [k if word not in self.lexicon.words else -1 - k for k, word in enumerate(words) for _ in word]
        for i, char in enumerate(run):
            if register == "colloquial" and source[i] == "spoken":
                continue
            reading = longest_listed(run, i, _MAX_CURATED,
                                     lambda s, n, i=i: _listed(table[run[s:s + n]], register, i - s)
                                     if run[s:s + n] in table and ((s in edges and s + n in edges)
                                                                   or all(loose[s:s + n])
                                                                   or piece[s] == piece[s + n - 1] >= 0) else None)
            if reading is not None and reading in self.reading_sets.get(char, ()):
                out[i] = reading
                source[i] = "curated"

    def _arbitrate(self, run: str, out: list[str | None], source: list[str], register: str) -> None:
        """Module docstring, point 4: ToJyutping's reading in context where it differs from its reading alone
        (it knows a word there), or, in text read aloud (``_TOJYUTPING_ALONE`` registers), in place of a
        character read alone: HKCanCor's counts of characters alone are speech's (到 dou2 after a verb, 上
        soeng5 to go up), words.hk's everyday reading fits written text and verse better (到 dou3, 上 soeng6);
        not an interjection (哦 o5, 嘩 waa3: speech in any register, where words.hk's first tone is one of several).
        Within the reading sets only; a word speech records keeps its reading, and in colloquial text so does a
        character speech reads one way alone (the lexicon's ``settled``: 唔會話 wui5 waa6, not ToJyutping's 會話
        wui6 waa2; 真係咁 gam3, not 係咁 gam2); and the register, not ToJyutping,
        picks the literary reading of a pair for a character no dictionary word fixes (慢慢行 haang4, where
        ToJyutping knows 慢行 hang4)."""
        sets = self.reading_sets
        settled = self.lexicon.settled
        for i, (char, reading) in enumerate(everyday_readings(run)):
            if (
                not reading
                or reading == out[i]
                or source[i] == "spoken"
                or reading not in sets.get(char, ())
                or (
                    register != "literary"
                    and source[i] == "alone"
                    and (pair := _LITERARY.get(char))
                    and reading == pair[1]
                )
                or (register == "colloquial" and source[i] == "alone" and char in settled)
            ):
                continue
            if reading != reading_alone(char) or (
                source[i] == "alone" and register in _TOJYUTPING_ALONE and char not in _INTERJECTIONS
            ):
                out[i] = reading
                source[i] = "context"

    def _read_word(self, word: str) -> tuple[tuple[str | None, ...], tuple[str, ...]]:
        """A segment's readings, and per character where it came from: ``word`` (a dictionary word), ``spoken``
        (a word only speech records: HKCanCor's 輕輕 heng6 heng1, a sound change of talk) or ``alone`` (and after
        :meth:`_arbitrate`, ``context``: ToJyutping's reading)."""
        lex = self.lexicon
        words = lex.words
        if len(word) > 1 and word in words:
            return words[word], ("spoken" if word in lex.spoken else "word",) * len(word)
        out: list[str | None] = []
        sources: list[str] = []
        i = 0
        while i < len(word):  # longest dictionary sub-word first, then a single character
            for size in range(min(_MAX_WORD, len(word) - i), 1, -1):
                if (sub := word[i : i + size]) in words:
                    out.extend(words[sub])
                    sources.extend(["spoken" if sub in lex.spoken else "word"] * size)
                    i += size
                    break
            else:
                out.append(self._char_reading(word[i]))
                sources.append("alone")
                i += 1
        return tuple(out), tuple(sources)

    def _char_reading(self, char: str) -> str | None:
        chars = self.lexicon.chars
        return chars.get(char) or chars.get(convert(char, "t2hk")) or chars.get(convert(char, "s2hk"))


CURATED = "words_yue"  # phonetics/data/words_yue.json, written by tools/build_words_yue.py
_MAX_CURATED = 4


@cache
def _curated_words() -> dict[str, dict[str, dict[int, str]]]:
    """Word → register (``any`` or one of :data:`REGISTERS`) → index of a polyphone in it → its reading."""
    return {word: {register: {int(i): reading for i, reading in at.items()} for register, at in by.items()}
            for word, by in load_table(CURATED)["words"].items()}


def _listed(entry: dict[str, dict[int, str]], register: str, index: int) -> str | None:
    """A curated word's reading of its character ``index`` in ``register``: the register's own, else (in modern text)
    its ``any``. Written text reads a word as speech says it (雞蛋 daan2, 眼鏡 geng2, 座位 wai2), not the citation
    form the sources give for written text (daan6, left out by the build): on the labelled sets, 13 sentences more
    right, 1 less."""
    found = entry.get("colloquial" if register == "written" else register, {}).get(index)
    return found if found or register == "literary" else entry.get("any", {}).get(index)


def _read_aloud(source: str, char: str) -> bool:
    """Whether written text takes a pair's literary reading: for a character read alone (一聲再見 sing1), as
    text is read aloud and sung; not the colloquial tone-5 layer (好淡 taam5) nor inside a word."""
    return source == "alone" and char not in _LITERARY_EVERYWHERE


def _colloquial(reading: str, colloquial: str, source: str, char: str, register: str) -> bool:
    """Whether ``reading`` is the colloquial one of a literary pair, where the literary register replaces it:
    read alone or as ToJyutping reads it in context (its everyday words: 青苔 ceng1), in any word in verse (疾病
    bing6, 雲生 sang1: verse is recited in the reading-aloud layer throughout), or in any word for the colloquial
    tone-5 layer (遠近 kan5); in a word only speech records, in any of its tones (輕輕 heng6 heng1 is heng1 said)."""
    if source == "spoken":
        return reading.rstrip("123456") == colloquial.rstrip("123456")
    return reading == colloquial and (
        source in ("alone", "context") or register == "literary" or char in _LITERARY_EVERYWHERE
    )


@cache
def _run_rules() -> tuple[ContextRule, ...]:
    """The rules read over one run: the surnames (``surnames`` of ``data/context_yue.json``: one context for all, 單生
    Mr Sin in modern text only, as verse's 月華生 is no one; in speech, a familiar 阿陳 can2), then the table's
    ``rules``."""
    table = _CONTEXT["surnames"]
    surnames = tuple(
        ContextRule(re.compile(f"{f'(?<![{before}])' if (before := table['not_after'].get(char)) else ''}"
                               f"(?P<t>{char})(?:(?<=姓{char})|(?={titles}))"), reading, registers, char)
        for titles, registers in ((table["titles"], None), (table["modern_titles"], _MODERN_REGISTERS))
        for char, reading in table["readings"].items()
    )
    familiar = table["familiar"]
    said = tuple(
        ContextRule(re.compile(f"(?<=[{familiar['after']}])(?P<t>{char})(?![{familiar['not_before']}])"), reading,
                    ("colloquial",), char)
        for char, reading in familiar["readings"].items()
    )
    return surnames + said + load_rules("context_yue")


def _level(reading: str) -> bool:
    """Whether a reading is of the level class (平): tone 1 or 4 on an open or nasal final (a checked -p -t -k
    syllable is an entering tone, oblique)."""
    return reading[-1] in "14" and reading[-2] not in "ptk"


@lru_cache(maxsize=4096)
def split(syllable: str) -> tuple[str | None, str, int]:
    """``'gwong2'`` → ``('gw', 'ong', 2)``; entering tones written 7/8/9 fold to 1/3/6; syllabic
    nasals (``m4`` 唔, ``ng5`` 五) have no onset and the nasal as final."""
    if match := _SYLLABIC.fullmatch(syllable):
        return (match.group(1) or None), match.group(2), _fold(match.group(3))
    match = _SYLLABLE.fullmatch(syllable)
    if match is None:
        raise ValueError(f"not a jyutping syllable with tone digit: {syllable!r}")
    onset, nucleus, coda, tone = match.groups()
    return onset, nucleus + (coda or ""), _fold(tone)


def _fold(tone: str) -> int:
    return _FOLDS.get(tone, int(tone))


@lru_cache(maxsize=1024)
def nucleus_and_coda(final: str) -> tuple[str, str]:
    """``'oeng'`` → ``('oe', 'ng')``; a syllabic nasal is its own nucleus."""
    match = re.fullmatch("({})({})?".format("|".join(_TABLE["nuclei"]), "|".join(_TABLE["codas"])), final)
    if match is None:
        return final, ""
    return match.group(1), match.group(2) or ""


def rhyme_groups(scheme_name: str) -> tuple[tuple[str, ...], Callable[[str], str | None]]:
    """(groups, final → group): ``strict`` rhymes on the same final; ``loose`` on the same nucleus, a stop coda
    counting as its homorganic nasal (-p~-m, -t~-n, -k~-ng). Groups in the order of the dictionary's finals."""

    def group(final: str) -> str:
        if scheme_name == "strict":
            return final
        nucleus, coda = nucleus_and_coda(final)
        return nucleus + _LOOSE_PAIRS.get(coda, coda)

    return tuple(dict.fromkeys(group(f) for f in _finals())), group


@cache
def _finals() -> tuple[str, ...]:
    """Every final in the dictionary, sorted by nucleus then coda."""
    finals = set()
    for reading in _default_lexicon().chars.values():
        try:
            finals.add(split(reading)[1])
        except ValueError:
            continue
    return tuple(sorted(finals, key=nucleus_and_coda))
