"""Training data: works from chinese-poetry, HKCanCor and user corpora, normalised, deduplicated and split
by work.

Every work becomes a :class:`Record` of lines (a line ends where ``phonetics.split_lines`` ends one:
newlines and clause punctuation), each line holding only CJK characters; editorial notes in brackets
are dropped. Each language keeps its own script: Mandarin records are simplified, Cantonese records
traditional (OpenCC). A work's split (train/valid/test, 90/5/5) is decided by a hash of its simplified
text, so a poem read in both languages lands in the same split in both, and no work is in two splits.

User corpora (``tianci data build --input FILE``):

- JSON Lines, one song per line: ``{"title": str, "lyrics": "line\\nline...", "lang": "cmn"|"yue",
  "genre": str?, "tags": [str]?}``;
- plain text (any other file): songs separated by blank lines, one lyric line per line, the language
  given by ``--lang``; a song's first line is its title when it is wrapped in 《》.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lyrics.data.corpus import COLLECTIONS, hkcancor_utterances, poetry
from lyrics.modern.corpus import CORPUS, corpus_songs
from lyrics.modern.corpus import split_of as modern_split
from phonetics import TianciError, is_cjk, language_codes, split_lines, to_lang_script

_NOTE = re.compile(r"（[^（）]*）|\([^()]*\)|【[^【】]*】|\[[^\[\]]*\]|〔[^〔〕]*〕")
MIN_LINES = 2
HKCANCOR_LINES_PER_WORK = 8  # consecutive utterances grouped into one "work"


class DataError(TianciError, ValueError):
    """Bad input data; the message is one line naming the file, the line and the fix."""


@dataclass(frozen=True)
class Record:
    id: str
    source: str
    lang: str
    title: str
    author: str
    lines: tuple[str, ...]
    split: str
    genre: str | None = None
    tags: tuple[str, ...] = field(default=())  # free tags; "key:value" ones (mood:温柔, register:written) are fields

    def tag(self, key: str) -> str | None:
        """The value of a ``key:value`` tag (``mood``, ``register``, ``area``), or None."""
        return next((t.split(":", 1)[1] for t in self.tags if t.startswith(f"{key}:")), None)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "lines": list(self.lines), "tags": list(self.tags)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Record:
        data = json.loads(line)
        return cls(**{**data, "lines": tuple(data["lines"]), "tags": tuple(data.get("tags", ()))})


def normalise_lines(paragraphs: Iterable[str]) -> list[str]:
    """Lyric lines of a work: notes dropped, split at line ends and clause punctuation, CJK only."""
    text = _NOTE.sub("", unicodedata.normalize("NFC", "\n".join(paragraphs)))
    lines = []
    for start, end in split_lines(text):
        line = "".join(c for c in text[start:end] if is_cjk(c))
        if line:
            lines.append(line)
    return lines


def _bucket(key: str) -> float:
    """A stable number in [0, 1) for ``key``."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) / 2**32


def split_of(lines: Iterable[str]) -> str:
    """train / valid / test (90/5/5) from a hash of the work's simplified text: stable, script-blind."""
    key = to_lang_script("\n".join(lines), "cmn")
    bucket = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "valid" if bucket < 5 else "test" if bucket < 10 else "train"


def make_record(source: str, lang: str, title: str, author: str, paragraphs: Iterable[str],
                genre: str | None = None, tags: Iterable[str] = ()) -> Record | None:
    """A record in ``lang``'s script, or None when fewer than MIN_LINES lyric lines remain."""
    lines = [to_lang_script(line, lang) for line in normalise_lines(paragraphs)]
    if len(lines) < MIN_LINES:
        return None
    digest = hashlib.sha1("\n".join(lines).encode("utf-8")).hexdigest()[:12]
    return Record(f"{source}-{lang}-{digest}", source, lang, to_lang_script(title, lang), author,
                  tuple(lines), split_of(lines), genre, tuple(tags))


# ---- sources --------------------------------------------------------------------------------------

def poetry_source(name: str, lang: str) -> Iterator[Record | None]:
    """Works of one chinese-poetry collection as records in ``lang``."""
    if name not in COLLECTIONS:
        raise DataError(f"unknown source {name!r}: use one of {', '.join(COLLECTIONS)}")
    genre = COLLECTIONS[name].genre
    for work in poetry(name):
        yield make_record(name, lang, work.title, work.author, work.lines, genre)


# The languages each built-in source is read in. Tang poems serve both: traditional script, read in
# Cantonese; simplified, read in Mandarin. Song poems (254k) are opt-in for their size. ``modern`` is Tianci's
# own corpus of modern songs (corpus/songs/), each in its own language.
SOURCE_LANGS = {"songci": ("cmn",), "tang": ("cmn", "yue"), "song": ("cmn",), "yuanqu": ("cmn",),
                "shijing": ("cmn",), "hkcancor": ("yue",), "modern": ("cmn", "yue")}
DEFAULT_SOURCES = ("songci", "tang", "yuanqu", "shijing", "hkcancor", "modern")


def builtin_sources(names: Iterable[str], modern_fraction: float = 1.0) -> list[Iterator[Record | None]]:
    out = []
    for name in names:
        if name not in SOURCE_LANGS:
            raise DataError(f"unknown source {name!r}: use any of {', '.join(SOURCE_LANGS)}")
        if name == "modern":
            out.append(modern_source(fraction=modern_fraction))
        elif name in SPECIAL_SOURCES:
            out.append(SPECIAL_SOURCES[name]())
        else:
            out += [poetry_source(name, lang) for lang in SOURCE_LANGS[name]]
    return out


MODERN_MAX_LINES = 8  # a song is cut at section boundaries into pieces of at most this many lines


def modern_source(corpus: Path = CORPUS, fraction: float = 1.0) -> Iterator[Record | None]:
    """The modern corpus: each song in pieces of whole sections (at most ``MODERN_MAX_LINES`` lines, a longer
    section alone), titled by its brief's topic, split by its song id (never by text, so a song's pieces stay
    together), genre and mood, area and register (Cantonese) from the brief. ``fraction``: the share of the
    training songs kept (a fixed subset by a hash of the id, for learning curves); valid and test stay whole."""
    for song in corpus_songs(corpus):
        if modern_split(song.id) == "train" and _bucket(f"fraction:{song.id}") >= fraction:
            continue
        brief = song.brief
        tags = tuple(f"{key}:{value}" for key, value in (("area", brief.area), ("mood", brief.mood),
                                                          ("register", brief.register)) if value)
        piece: list[str] = []
        pieces: list[list[str]] = []
        for _, lines in song.sections:
            if piece and len(piece) + len(lines) > MODERN_MAX_LINES:
                pieces.append(piece)
                piece = []
            piece = piece + lines
        pieces.append(piece)
        for k, lines in enumerate(pieces):
            yield Record(f"modern-{song.id}#{k}", "modern", brief.lang, brief.topic, "", tuple(lines),
                         modern_split(song.id), brief.genre, tags)

def hkcancor_source() -> Iterator[Record | None]:
    """HKCanCor's colloquial Cantonese, consecutive utterances grouped into works of a few lines."""
    lines: list[str] = []
    for tokens in hkcancor_utterances():
        line = "".join(word for word, _ in tokens if all(map(is_cjk, word)))
        if line:
            lines.append(line)
        if len(lines) == HKCANCOR_LINES_PER_WORK:
            yield make_record("hkcancor", "yue", "", "", lines, "speech")
            lines = []
    if lines:
        yield make_record("hkcancor", "yue", "", "", lines, "speech")


SPECIAL_SOURCES = {"hkcancor": hkcancor_source}


def user_source(path: Path, default_lang: str | None = None) -> Iterator[Record | None]:
    """Songs from a user corpus file (JSON Lines, or plain text with songs separated by blank lines)."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    source = f"user:{path.name}"
    text = path.read_text("utf-8")
    if path.suffix in (".jsonl", ".json"):
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number}: not JSON ({err.msg}); one song object per line") from None
            lang = item.get("lang", default_lang) if isinstance(item, dict) else None
            if not isinstance(item, dict) or not isinstance(item.get("lyrics"), str) or lang not in language_codes():
                raise DataError(f"{path}:{number}: need an object with \"lyrics\" (a string) and \"lang\" "
                                f"({' or '.join(language_codes())})")
            yield make_record(source, lang, str(item.get("title", "")), str(item.get("author", "")),
                              item["lyrics"].split("\n"), item.get("genre"), item.get("tags") or ())
        return
    if default_lang not in language_codes():
        raise DataError(f"{path}: plain-text corpora need --lang ({' or '.join(language_codes())})")
    for song in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in song.strip().splitlines() if line.strip()]
        title = ""
        if lines and lines[0].startswith("《") and lines[0].endswith("》"):
            title, lines = lines[0][1:-1], lines[1:]
        yield make_record(source, default_lang, title, "", lines)


# ---- building -------------------------------------------------------------------------------------

@dataclass
class BuildStats:
    kept: Counter = field(default_factory=Counter)  # (lang, split) → works
    duplicates: int = 0
    too_short: int = 0

    def to_dict(self) -> dict:
        return {"kept": {f"{lang}/{split}": n for (lang, split), n in sorted(self.kept.items())},
                "duplicates": self.duplicates, "too_short": self.too_short}


def build(sources: Iterable[Iterable[Record | None]], out_dir: Path, progress=None) -> BuildStats:
    """Write ``{lang}.{split}.jsonl`` files under ``out_dir`` from ``sources``, dropping works seen before
    (same language, same text) and works too short; files are replaced atomically when all is written."""
    stats = BuildStats()
    seen: set[tuple[str, str]] = set()
    out_dir.mkdir(parents=True, exist_ok=True)
    handles = {}
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".build-") as tmp:
        try:
            for source in sources:
                for record in source:
                    if progress is not None:
                        progress.update(1)
                    if record is None:
                        stats.too_short += 1
                        continue
                    key = (record.lang, record.text)
                    if key in seen:
                        stats.duplicates += 1
                        continue
                    seen.add(key)
                    name = f"{record.lang}.{record.split}.jsonl"
                    if name not in handles:
                        handles[name] = open(Path(tmp) / name, "w", encoding="utf-8")  # noqa: SIM115
                    handles[name].write(record.to_json() + "\n")
                    stats.kept[(record.lang, record.split)] += 1
        finally:
            for handle in handles.values():
                handle.close()
        (Path(tmp) / "stats.json").write_text(json.dumps(stats.to_dict(), ensure_ascii=False, indent=1))
        for old in out_dir.glob("*.jsonl"):
            old.unlink()
        for path in Path(tmp).iterdir():
            os.replace(path, out_dir / path.name)
    return stats


# Sources whose titles say what the work is about; the others' are tune names (Song ci, Yuan qu) or empty.
TOPICAL_TITLE_SOURCES = frozenset({"tang", "song", "shijing", "modern"})
MAX_TOPIC_TITLE = 12  # a longer title is a preface, not a topic


def topical_title(record: Record) -> str | None:
    """The record's title when it names its topic (user corpora's titles count), else None."""
    topical = record.source in TOPICAL_TITLE_SOURCES or record.source.startswith("user:")
    title = "".join(c for c in record.title if is_cjk(c))
    return title if topical and 0 < len(title) <= MAX_TOPIC_TITLE else None


def sample_works(data_dir: Path, lang: str, split: str, limit: int | None, seed: int) -> list[Record]:
    """Up to ``limit`` works of a split, balanced across sources and seeded: each source gets an equal
    share, a source with fewer works gives all it has and its unused share goes to the others; the result
    is shuffled. None: every work, shuffled."""
    by_source: dict[str, list[Record]] = {}
    for record in read_split(data_dir, lang, split):
        by_source.setdefault(record.source, []).append(record)
    rng = random.Random(f"{seed}-{lang}-{split}")
    for name in sorted(by_source):
        rng.shuffle(by_source[name])
    total = sum(map(len, by_source.values()))
    budget = total if limit is None else min(limit, total)
    quota: dict[str, int] = dict.fromkeys(by_source, 0)
    open_sources = sorted(by_source, key=lambda name: len(by_source[name]))
    while budget > sum(quota.values()) and open_sources:
        share = (budget - sum(quota.values())) // len(open_sources) or 1
        for name in list(open_sources):
            take = min(share, len(by_source[name]) - quota[name], budget - sum(quota.values()))
            quota[name] += take
            if quota[name] == len(by_source[name]):
                open_sources.remove(name)
    picked = [r for name in sorted(by_source) for r in by_source[name][:quota[name]]]
    rng.shuffle(picked)
    return picked


def read_split(data_dir: Path, lang: str, split: str) -> Iterator[Record]:
    path = data_dir / f"{lang}.{split}.jsonl"
    if not path.is_file():
        raise DataError(f"{path}: not built; run `tianci data build`")
    with path.open(encoding="utf-8") as f:
        for line in f:
            yield Record.from_json(line)
