"""Query expansion for a small generator: a short topic enriched with imagery mined from the corpus.

The imagery table of a language is built from its train split: for each character of a work's title, how often each
character appears in the body of works with that title character. A topic's imagery is the characters with
the highest local mutual information (co-occurrences x positive PMI) with the topic's characters, so a topic
brings the characters its works use more than the corpus does, common enough to be imagery rather than
rarities. ``expand_topic`` writes the brief the generator sees:

    >>> expand_topic("秋夜", "cmn", imagery_tables)      # doctest: +SKIP
    '秋夜（意象：砧、蟋、蟀、萤）'
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import islice
from pathlib import Path

from lyrics.data.works import read_split
from phonetics import is_cjk

MIN_WORKS = 3  # a title-body pair seen in fewer works is noise
MIN_BODY_WORKS = 20  # imagery: a character the corpus uses, in at most a quarter of its works
IMAGERY = 4  # characters added to a topic


class ImageryTable:
    def __init__(self, works: int, title_df: Counter, body_df: Counter, pairs: dict[str, Counter]):
        self.works, self.title_df, self.body_df, self.pairs = works, title_df, body_df, pairs

    def imagery(self, topic: str, limit: int = IMAGERY) -> list[str]:
        scores: Counter = Counter()
        for t in {c for c in topic if c in self.pairs}:
            for b, joint in self.pairs[t].items():
                common = MIN_BODY_WORKS <= self.body_df[b] <= self.works // 4  # not rare, not a function word
                if joint >= MIN_WORKS and common and b not in topic:
                    pmi = math.log(joint * self.works / (self.title_df[t] * self.body_df[b]))
                    scores[b] += joint * max(0.0, pmi)  # local mutual information: associated and common
        return [c for c, _ in scores.most_common(limit)]


def build_imagery_tables(data_dir: Path, langs: list[str], max_works: int = 20000) -> dict[str, ImageryTable]:
    imagery_tables = {}
    for lang in langs:
        title_df, body_df, pairs, count = Counter(), Counter(), {}, 0
        for work in islice(read_split(data_dir, lang, "train"), max_works):
            title = {c for c in work.title if is_cjk(c)}
            body = {c for line in work.lines for c in line}
            count += 1
            title_df.update(title)
            body_df.update(body)
            for t in title:
                pairs.setdefault(t, Counter()).update(body)
        imagery_tables[lang] = ImageryTable(count, title_df, body_df, pairs)
    return imagery_tables


def expand_topic(topic: str, lang: str, imagery_tables: dict[str, ImageryTable]) -> str:
    words = imagery_tables[lang].imagery(topic) if lang in imagery_tables else []
    return f"{topic}（意象：{'、'.join(words)}）" if words else topic
