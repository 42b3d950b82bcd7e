"""Seeded song briefs: what one song of the modern corpus must be about and how it must be built.

Every brief draws, from tables in ``lyrics/modern/data/`` (data, not code): a topic from the inventory of its
language (24 areas of modern life, 16 topics each), 1-2 required everyday words, a mood, a point of view, a
genre, 0-2 features, a song form whose every line has a fixed syllable count, the chorus's rhyme group
(weighted by use) and, for Cantonese, a register. Brief ``i`` of seed ``s`` depends on ``(lang, s, i)`` only;
topics run through a seeded permutation of the inventory, so every ``len(inventory)`` consecutive briefs use
every topic once.

>>> sampler = BriefSampler()
>>> a, b = sampler.sample("cmn", seed=1, count=2)
>>> a.id, a == sampler.brief("cmn", seed=1, index=0), a.topic != b.topic
('cmn-s1-00000', True, True)
>>> a.structure().count("[chorus]")
1
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

from phonetics import language, language_codes

DATA = Path(__file__).resolve().parent / "data"
RHYME_LABEL = "A"
SECTION_NAMES = ("verse", "pre-chorus", "chorus", "bridge")
CHORUS = "chorus"
VERSION = 2  # bump when the tables or the drawing change; a brief records the version that drew it


@dataclass(frozen=True)
class Section:
    name: str  # one of SECTION_NAMES
    lines: tuple[int, ...]  # syllables of each line

    def rhyme_positions(self) -> tuple[int, ...]:
        """0-based lines that must end in the brief's rhyme group: in a chorus the 2nd, 4th, ... and the last."""
        if self.name != CHORUS:
            return ()
        return tuple(i for i in range(len(self.lines)) if i % 2 == 1 or i == len(self.lines) - 1)


@dataclass(frozen=True)
class Brief:
    id: str
    lang: str
    area: str
    topic: str
    words: tuple[str, ...]
    mood: str
    pov: str
    genre: str
    features: tuple[str, ...]
    form: tuple[Section, ...]
    rhyme: str  # the chorus's group in the language's default scheme (13zhe 江阳, a Cantonese final)
    rhyme_examples: str  # characters of the group, for writers
    register: str | None = None  # Cantonese: written or colloquial
    version: int = VERSION

    def structure(self) -> str:
        """The form as a Tianci spec structure: ``[verse] 7 7 8 7 [chorus] 8 8A 8 8A``."""
        parts = []
        for section in self.form:
            parts.append(f"[{section.name}]")
            rhymed = set(section.rhyme_positions())
            parts += [f"{n}{RHYME_LABEL if i in rhymed else ''}" for i, n in enumerate(section.lines)]
        return " ".join(parts)

    @property
    def syllables(self) -> int:
        return sum(sum(s.lines) for s in self.form)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["words"], data["features"] = list(self.words), list(self.features)
        data["form"] = [{"section": s.name, "lines": list(s.lines)} for s in self.form]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Brief:
        form = tuple(Section(s["section"], tuple(s["lines"])) for s in data["form"])
        return cls(**{**data, "words": tuple(data["words"]), "features": tuple(data["features"]), "form": form})


def _weighted(rng: random.Random, table: dict[str, float]) -> str:
    keys = list(table)
    return rng.choices(keys, weights=[table[k] for k in keys])[0]


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text("utf-8").splitlines() if line]


class BriefSampler:
    """Draws briefs from the tables in ``data_dir`` (the shipped ones by default)."""

    def __init__(self, data_dir: Path = DATA) -> None:
        self.data_dir = Path(data_dir)

    @cached_property
    def tables(self) -> dict:
        return json.loads((self.data_dir / "brief_tables.json").read_text("utf-8"))

    @cached_property
    def inventory(self) -> dict[str, list[tuple[str, str]]]:
        """Per registered language the topic inventory has, every (area, topic) of it, in file order."""
        topics = json.loads((self.data_dir / "topics.json").read_text("utf-8"))
        return {lang: [(area, t) for area in topics["areas"] for t in topics[lang][area]]
                for lang in language_codes() if lang in topics}

    @cached_property
    def rhymes(self) -> dict[str, dict[str, dict]]:
        return json.loads((self.data_dir / "rhymes.json").read_text("utf-8"))

    def words(self, lang: str) -> list[str]:
        curated = self.data_dir / f"words_{lang}_everyday.txt"
        return _lines(curated if curated.is_file() else self.data_dir / f"words_{lang}.txt")

    def topic_order(self, lang: str, seed: int) -> list[int]:
        order = list(range(len(self.inventory[lang])))
        random.Random(f"topics:{lang}:{seed}").shuffle(order)
        return order

    def sample(self, lang: str, seed: int, count: int, start: int = 0) -> list[Brief]:
        return [self.brief(lang, seed, i) for i in range(start, start + count)]

    def brief(self, lang: str, seed: int, index: int) -> Brief:
        if lang not in self.inventory:
            raise ValueError(f"no briefs for language {lang!r}: use one of {', '.join(self.inventory)}")
        tables = self.tables
        rng = random.Random(f"brief:{lang}:{seed}:{index}")
        order = self.topic_order(lang, seed)
        area, topic = self.inventory[lang][order[index % len(order)]]
        register = _weighted(rng, tables["registers"]) if language(lang).lyric_registers else None
        vocabulary = self.words(lang)
        if register == "written":  # a written-register song may not use colloquial characters
            vocabulary = [w for w in vocabulary if not set(w) & set(tables["colloquial_markers_yue"])]
        words = rng.sample(vocabulary, int(_weighted(rng, tables["required_words"])))
        features = rng.sample(tables["features"][lang], int(_weighted(rng, tables["features_per_brief"])))
        forms = tables["forms"]
        sections = rng.choices(forms, weights=[f["weight"] for f in forms])[0]["sections"]
        form = tuple(self._section(rng, name) for name in sections)
        groups = self.rhymes[lang]
        names = list(groups)
        # Weighted by use, flattened (square root) so the rarer groups still come up.
        group = rng.choices(names, weights=[groups[g]["use"] ** 0.5 for g in names])[0]
        return Brief(
            id=f"{lang}-s{seed}-{index:05d}", lang=lang, area=area, topic=topic, words=tuple(words),
            mood=rng.choice(tables["moods"][lang]), pov=rng.choice(tables["povs"][lang]),
            genre=rng.choice(tables["genres"][lang]), features=tuple(features), form=form, rhyme=group,
            rhyme_examples="".join(groups[group]["examples"]), register=register,
        )

    def _section(self, rng: random.Random, name: str) -> Section:
        tables = self.tables
        count = int(_weighted(rng, tables["section_lines"][name]))
        base = int(_weighted(rng, tables["line_syllables"]))
        lines = [min(12, max(5, base + int(_weighted(rng, tables["line_jitter"])))) for _ in range(count)]
        return Section(name, tuple(lines))
