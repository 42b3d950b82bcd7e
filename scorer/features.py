"""What a reader notices that a small scorer's hidden states do not show: repetition and topic evidence.

Per (prompt, lyrics) a vector of :data:`FEATURES`, each in [0, 1], that enters every aspect's logit through
learned weights (``scorer.model.ScorerModel``), beside the fluency of the text under the backbone:

- ``repeated_lines``: share of lines that copy an earlier line;
- ``neighbour_echo``: the most characters a line shares with the line before it (multiset overlap over the
  shorter line), so a line that repeats its neighbour's characters shows even when reordered;
- ``same_line_end``: share of lines ending in a character another line already ended in (identical rhymes);
- ``char_repeats``: share of a line's characters that repeat earlier in the same line (a loop);
- ``bigram_repeats``: 1 - distinct-2 of the whole text;
- ``even_rhyme``, ``odd_rhyme``: share of the even lines after the second (of the odd lines after the first)
  that rhyme with the second line by another character, by the language's rhyme groups: verse and lyrics
  rhyme on the even lines, and lines put out of order break that; a line ending in the second line's own
  character is no rhyme (an identical rhyme is the cheapest way to rhyme, not a rhyme);
- ``topic_chars``: share of the topic's content characters the lyrics use;
- ``plan_cover``: share of the keyword plan's characters the lyrics use (the prompt's ``keywords``; else the
  plan the generator's keyword table makes for the topic: its chunks and the words its characters bring);
- ``topic_assoc``: share of the topic characters' associated keywords (``KeywordTable.assoc``, weighted by
  association) that the lyrics contain;
- ``no_evidence``: 1 when the last three are all 0: nothing in the lyrics ties them to the topic.

Relevance is calibrated on the last one (:data:`NO_EVIDENCE_RELEVANCE`): lyrics with no topic evidence cannot
score relevance above it, however their hidden states read.

>>> values = text_features({"topic": "月光", "lang": "cmn"}, "明月照高楼\\n明月照高楼\\n春风吹又生", {})
>>> {name: round(v, 2) for name, v in zip(FEATURES, values, strict=True) if v}
{'repeated_lines': 0.33, 'neighbour_echo': 1.0, 'same_line_end': 0.33, 'bigram_repeats': 0.33, 'topic_chars': 0.5}
>>> text_features({"topic": "海港", "lang": "cmn"}, "明月照高楼", {})[FEATURES.index("no_evidence")]
1.0
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from lyrics.data.keywords import FUNCTION_CHARS, KeywordTable, plan_size
from phonetics import analyze, is_cjk, language_codes, to_lang_script

FEATURES = ("repeated_lines", "neighbour_echo", "same_line_end", "char_repeats", "bigram_repeats",
            "even_rhyme", "odd_rhyme", "topic_chars", "plan_cover", "topic_assoc", "no_evidence")
NO_EVIDENCE_RELEVANCE = 3.0  # the highest relevance (1-5) of lyrics with no evidence of their topic


def _overlap(a: str, b: str) -> float:
    shorter = min(len(a), len(b))
    return sum((Counter(a) & Counter(b)).values()) / shorter if shorter else 0.0


def topic_plan(prompt: dict, table: KeywordTable | None, lines: int) -> list[str]:
    """The plan the lyrics are judged against: the prompt's keywords, else the table's plan for its topic."""
    given = [w for w in prompt.get("keywords") or () if isinstance(w, str)]
    if given or table is None:
        return given
    return table.plan(str(prompt.get("topic") or ""), plan_size(lines))


def text_features(prompt: dict, lyrics: str, tables: dict[str, KeywordTable]) -> list[float]:
    """The :data:`FEATURES` of one (prompt, lyrics), in order."""
    lang = prompt.get("lang") or "cmn"  # a record may say "lang": null
    table = tables.get(lang)
    lines = [line.strip() for line in lyrics.strip().split("\n") if line.strip()] or [""]
    text = "".join(lines)
    chars = set(text)
    repeated = sum(line in lines[:i] for i, line in enumerate(lines)) / len(lines)
    echo = max((_overlap(a, b) for a, b in pairwise(lines)), default=0.0)
    ends = [line[-1] for line in lines if line]
    same_end = sum(end in ends[:i] for i, end in enumerate(ends)) / max(1, len(ends))
    char_repeats = sum(len(line) - len(set(line)) for line in lines) / max(1, len(text))
    grams = [line[i:i + 2] for line in lines for i in range(len(line) - 1)]
    bigram_repeats = 1 - len(set(grams)) / len(grams) if grams else 0.0
    even_rhyme, odd_rhyme = _rhymes_with_second(lines, lang)

    topic = to_lang_script(str(prompt.get("topic") or ""), lang)
    topic_chars = [c for c in dict.fromkeys(topic) if is_cjk(c) and c not in FUNCTION_CHARS]
    topic_share = sum(c in chars for c in topic_chars) / len(topic_chars) if topic_chars else 0.0
    plan_chars = [c for word in topic_plan(prompt, table, len(lines)) for c in word]
    plan_share = sum(c in chars for c in plan_chars) / len(plan_chars) if plan_chars else 0.0
    weights: Counter = Counter()
    for char in topic_chars:
        for word, score in table.assoc.get(char, ()) if table is not None else ():
            weights[word] += score
    total = sum(weights.values())
    assoc = sum(score for word, score in weights.items() if word in text) / total if total else 0.0
    no_evidence = float(not (topic_share or plan_share or assoc))
    return [repeated, echo, same_end, char_repeats, bigram_repeats, even_rhyme, odd_rhyme, topic_share, plan_share,
            assoc, no_evidence]


def _rhymes_with_second(lines: list[str], lang: str) -> tuple[float, float]:
    if len(lines) < 3 or lang not in language_codes():
        return 0.0, 0.0
    groups = [line.rhyme for line in analyze("\n".join(lines), lang).lines]
    if len(groups) != len(lines) or groups[1] is None:
        return 0.0, 0.0
    rhymes = [g == groups[1] and line[-1:] != lines[1][-1:] for g, line in zip(groups, lines, strict=True)]
    even, odd = rhymes[3::2], rhymes[2::2]
    return (sum(even) / len(even) if even else 0.0), (sum(odd) / len(odd) if odd else 0.0)
