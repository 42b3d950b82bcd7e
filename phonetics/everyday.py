"""ToJyutping's readings in context (words.hk and rime-cantonese, curated), read from a flat table cached once.

ToJyutping builds its trie when imported (about 1.4 s of a cold start); its readings are the first of each
entry, chosen by longest match from left to right. This module reads the same entries from a JSON table kept
under Tianci's home (built from ToJyutping's trie the first time, about 2 s) and matches them the same way, so
a fresh process pays a JSON load instead.

>>> [r for _, r in everyday_readings("隨便行行")][:2]
['ceoi4', 'bin2']
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from importlib.metadata import version

from .cache import replacing_file, tianci_home

TABLE_VERSION = 1  # bump when the table's shape changes


@cache
def _table() -> tuple[dict[str, tuple[str, ...]], int]:
    """(entry → one reading per character, the longest entry's length)."""
    path = tianci_home() / "phonetics" / f"tojyutping-v{TABLE_VERSION}-{version('ToJyutping')}.json"
    try:
        entries = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):  # none yet, or damaged: build it
        entries = _from_trie()
        try:
            with replacing_file(path) as tmp:
                tmp.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
        except OSError:  # a read-only home: read without a cache
            pass
    table = {key: tuple(value.split()) for key, value in entries.items()}
    return table, max(map(len, table), default=1)


def _from_trie() -> dict[str, str]:
    """Every entry of ToJyutping's trie with its first reading, space-separated syllables."""
    from ToJyutping.Trie import root  # the 1.4 s import, once per table

    found: dict[str, str] = {}
    stack = [("", root)]
    while stack:
        key, node = stack.pop()
        if key and node.v:
            first = node.v[0]
            syllables = [first.jyutping] if len(key) == 1 else [s.jyutping for s in first]
            if len(syllables) == len(key) and all(syllables):
                found[key] = " ".join(syllables)
        stack.extend((key + char, child) for char, child in node.items())
    return found


def everyday_readings(text: str) -> list[tuple[str, str | None]]:
    """(character, reading or None) per character of ``text``, as ``ToJyutping.get_jyutping_list`` gives them."""
    table, longest = _table()
    out: list[tuple[str, str | None]] = []
    i = 0
    while i < len(text):
        for size in range(min(longest, len(text) - i), 1, -1):
            if (found := table.get(text[i:i + size])) is not None:
                out.extend(zip(text[i:i + size], found, strict=True))
                i += size
                break
        else:
            out.append((text[i], reading_alone(text[i])))
            i += 1
    return out


@lru_cache(maxsize=1 << 14)
def reading_alone(char: str) -> str | None:
    """ToJyutping's reading of ``char`` standing alone."""
    found = _table()[0].get(char)
    return found[0] if found else None
