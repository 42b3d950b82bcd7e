"""Character classes and script conversion shared by the Mandarin and Cantonese readers."""

from __future__ import annotations

import re
from functools import cache, lru_cache

import opencc

# CJK Unified Ideographs with extensions A-I, compatibility ideographs, and 〇.
_CJK = (
    "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\U00020000-\U0002ebef\U00030000-\U000323af\U0002f800-\U0002fa1f"
)
CJK_CHAR = re.compile(f"[{_CJK}]")
CJK_RUN = re.compile(f"[{_CJK}]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATES = re.compile("([\ud800-\udfff]+)")


def is_cjk(char: str) -> bool:
    return CJK_CHAR.fullmatch(char) is not None


@cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


@lru_cache(maxsize=4096)  # a text is converted by each step that reads it (its register, then its readings)
def convert(text: str, config: str) -> str:
    """OpenCC conversion (``t2s``, ``s2hk``, ...) that keeps one output character per input character.

    Phrase-level conversion resolves one-to-many mappings (后 → 後/后) from context; in the rare case it
    changes the length, each character is converted alone so positions still line up.
    """
    if _SURROGATE.search(text):  # OpenCC encodes to UTF-8, which a lone surrogate cannot be: keep them as they are
        return "".join(part if _SURROGATE.match(part) else convert(part, config)
                       for part in _SURROGATES.split(text) if part)
    out = _converter(config).convert(text)
    if len(out) == len(text):
        return out
    return "".join(c2 if len(c2 := _converter(config).convert(c)) == 1 else c for c in text)
