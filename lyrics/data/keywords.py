"""Keyword plans: the topic signal of a brief, the same in training and at inference.

A **keyword** is a two-character word of the corpus: a character bigram inside one line that recurs in at
least ``MIN_DF`` works. Two tables, built once per language from the train split (:func:`build_keywords`)
and shipped beside the generator as ``keywords.json`` (so inference needs no corpus):

- ``df``: in how many works each keyword occurs (its inverse document frequency ranks it);
- ``assoc``: per character, the keywords most associated with it, by local mutual information
  (co-occurrences x positive PMI) between the character and the keyword across works.

**Training** (:meth:`KeywordTable.extract`): a work's plan is its keywords by TF-IDF against the corpus,
2-4 per stanza (one per two lines), no character used twice, in the order the work uses them.

**Inference** (:meth:`KeywordTable.plan`): the user's own keywords when given; else the topic's own
two-character chunks, then the keywords its characters bring (query expansion through ``assoc``), up to
the same count. Both are written by :func:`keyword_line` in one format.

>>> table = KeywordTable("cmn", works=3, df={"明月": 2, "春风": 2}, assoc={"月": [("明月", 5.0)]})
>>> table.extract(["明月照春风", "春风又明月"], size=2)
['明月', '春风']
>>> table.plan("月夜", size=2, vocabulary=set("月夜明"))
['月夜', '明月']
>>> keyword_line(["明月", "春风"])
'关键词：明月、春风'
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from lyrics.files import write_atomic
from phonetics import is_cjk, to_lang_script

MIN_DF = 3  # a bigram in fewer works ...
MIN_COUNT = 8  # ... or with fewer occurrences is a chance juxtaposition, not a word
MIN_COHESION = 2.0  # and so is one whose characters meet less than e^2 times as often as chance (PMI)
MAX_DF_SHARE = 0.05  # a bigram in more than this share of works is a formula (不知, 何处), not a keyword
ASSOC_PER_CHAR = 12  # keywords kept per character for query expansion
MIN_JOINT = 3  # a character-keyword pair seen in fewer works is noise
ASSOC_CHARS = 5000  # query expansion covers the commonest characters ...
ASSOC_WORDS = 12000  # ... and keywords
CHUNK = 2000  # works per co-occurrence product
SEPARATOR = "、"
KEYWORDS_FILE = "keywords.json"
# The decoding pull towards a plan (lyrics.decoding.keyword_pull), chosen on bench/quality.py (models/tiny/README.md):
# strength 2 lifted the topic 0.25, 4 about 0.37.
KEYWORD_PULL = 4.0


def plan_size(lines: int) -> int:
    """Keywords for a stanza of ``lines`` lines: one per two lines, 2 to 4."""
    return max(2, min(4, (lines + 1) // 2))


def keyword_line(keywords: Iterable[str]) -> str:
    return "关键词：" + SEPARATOR.join(keywords)


def candidate_words(line: str) -> list[str]:
    """The words a plan may take from ``line``: every two Chinese characters side by side."""
    return [line[i:i + 2] for i in range(len(line) - 1) if is_cjk(line[i]) and is_cjk(line[i + 1])]


class KeywordTable:
    def __init__(self, lang: str, works: int, df: dict[str, int], assoc: dict[str, list[tuple[str, float]]]):
        self.lang, self.works, self.df, self.assoc = lang, works, df, assoc

    def idf(self, word: str) -> float:
        return math.log(self.works / self.df[word])

    def extract(self, lines: Iterable[str], size: int) -> list[str]:
        """The ``size`` keywords of a stanza by TF-IDF (ties: earlier first), without reusing a character,
        in the order the stanza first uses them."""
        tf: Counter = Counter()
        first: dict[str, int] = {}
        for line in lines:
            for word in candidate_words(line):
                if word in self.df:
                    tf[word] += 1
                    first.setdefault(word, len(first))
        ranked = sorted(tf, key=lambda w: (-tf[w] * self.idf(w), first[w]))
        picked: list[str] = []
        for word in ranked:
            if len(picked) == size:
                break
            if not any(c in p for p in picked for c in word):
                picked.append(word)
        return sorted(picked, key=first.__getitem__)

    def plan(self, topic: str, size: int, vocabulary: set[str] | None = None,
             given: Iterable[str] = ()) -> list[str]:
        """A plan for a user's ``topic``: ``given`` keywords first, then the topic's two-character chunks,
        then expansion keywords by summed association with the topic's characters; every character must
        be writable (``vocabulary``, None: any)."""
        def writable(word: str) -> bool:
            return all(is_cjk(c) and (vocabulary is None or c in vocabulary) for c in word)

        picked = [w for w in dict.fromkeys(given) if writable(w)]
        if len(picked) >= size:
            return picked
        topic = to_lang_script(topic, self.lang)
        chars = [c for c in topic if is_cjk(c)]
        for chunk in _chunks("".join(chars)):
            if len(picked) < size and writable(chunk) and chunk not in picked:
                picked.append(chunk)
        scores: Counter = Counter()
        for char in dict.fromkeys(chars):
            for word, score in self.assoc.get(char, ()):
                scores[word] += score
        expanded: set[str] = set()  # characters of the expansion keywords: each brings new ones
        for word, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])):
            if len(picked) == size:
                break
            if writable(word) and word not in picked and not expanded & set(word):
                picked.append(word)
                expanded.update(word)
        return picked

    def to_dict(self) -> dict:
        return {"lang": self.lang, "works": self.works, "df": self.df,
                "assoc": {c: [[w, round(s, 2)] for w, s in rows] for c, rows in self.assoc.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> KeywordTable:
        return cls(data["lang"], int(data["works"]), {w: int(n) for w, n in data["df"].items()},
                   {c: [(w, float(s)) for w, s in rows] for c, rows in data["assoc"].items()})


# Function characters: dropped from a topic before it is cut into words, and never part of a keyword.
FUNCTION_CHARS = frozenset("的地得了着著之在和与與及把被是不也而其么麼甚可个個那这這係即")


def _chunks(text: str) -> list[str]:
    """The topic's content characters in two-character pieces: 夏天的海边 → 夏天, 海边; a character left
    over (or a one-character topic) is left to expansion."""
    text = "".join(c for c in text if c not in FUNCTION_CHARS)
    return [text[i:i + 2] for i in range(0, len(text) - 1, 2)]


def build_keywords(works: Iterable[Iterable[str]], lang: str) -> KeywordTable:
    """The tables for one language from its works (each an iterable of lines). Co-occurrences are counted
    as a product of binary work x character and work x keyword matrices, in chunks of works."""
    bodies = [[line for line in lines] for lines in works]
    df: Counter = Counter()
    count: Counter = Counter()
    chars_seen: Counter = Counter()
    for lines in bodies:
        df.update({w for line in lines for w in candidate_words(line)})
        for line in lines:
            count.update(candidate_words(line))
            chars_seen.update(line)
    limit = max(2 * MIN_COUNT, int(len(bodies) * MAX_DF_SHARE))  # a small corpus keeps its common words
    total_chars = max(1, sum(chars_seen.values()))

    def is_word(w: str) -> bool:
        if count[w] < MIN_COUNT or FUNCTION_CHARS & set(w):
            return False
        return math.log(count[w] * total_chars / (chars_seen[w[0]] * chars_seen[w[1]])) >= MIN_COHESION

    keep = {w: n for w, n in sorted(df.items()) if MIN_DF <= n <= limit and is_word(w)}
    assoc_words = sorted(keep, key=lambda w: (-keep[w], w))[:ASSOC_WORDS]
    char_df: Counter = Counter()
    for lines in bodies:
        char_df.update({c for line in lines for c in line})
    assoc_chars = sorted(char_df, key=lambda c: (-char_df[c], c))[:ASSOC_CHARS]
    word_id = {w: i for i, w in enumerate(assoc_words)}
    char_id = {c: i for i, c in enumerate(assoc_chars)}
    joint = np.zeros((len(assoc_chars), len(assoc_words)), dtype=np.float32)
    for start in range(0, len(bodies), CHUNK):
        chunk = bodies[start:start + CHUNK]
        chars = np.zeros((len(chunk), len(assoc_chars)), dtype=np.float32)
        words = np.zeros((len(chunk), len(assoc_words)), dtype=np.float32)
        for row, lines in enumerate(chunk):
            chars[row, [char_id[c] for c in {c for line in lines for c in line} if c in char_id]] = 1
            words[row, [word_id[w] for w in {w for line in lines for w in candidate_words(line)} if w in word_id]] = 1
        joint += chars.T @ words
    total = len(bodies)
    expected = np.array([char_df[c] for c in assoc_chars], dtype=np.float32)[:, None] * np.array(
        [keep[w] for w in assoc_words], dtype=np.float32)[None, :] / max(1, total)
    lmi = joint * np.log(np.maximum(joint / np.maximum(expected, 1e-9), 1e-9))
    lmi[(joint < MIN_JOINT) | (lmi <= 0)] = 0
    assoc = {}
    for i, char in enumerate(assoc_chars if assoc_words else ()):
        order = np.argsort(-lmi[i], kind="stable")[:ASSOC_PER_CHAR]
        rows = [(assoc_words[j], float(lmi[i, j])) for j in order if lmi[i, j] > 0]
        if rows:
            assoc[char] = rows
    return KeywordTable(lang, total, keep, assoc)


def save_tables(tables: dict[str, KeywordTable], folder: Path) -> Path:
    """``folder/keywords.json`` with every language's table, written atomically."""
    path = Path(folder) / KEYWORDS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps({lang: t.to_dict() for lang, t in tables.items()}, ensure_ascii=False,
                                  separators=(",", ":")))
    return path


def load_tables(folder: Path) -> dict[str, KeywordTable]:
    """The tables beside a model, or {} when it has none (a model not trained with keyword plans)."""
    path = Path(folder) / KEYWORDS_FILE
    if not path.is_file():
        return {}
    return {lang: KeywordTable.from_dict(t) for lang, t in json.loads(path.read_text("utf-8")).items()}
