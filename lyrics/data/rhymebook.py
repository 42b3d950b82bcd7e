"""The corpus-backed rhyme dictionary of each language, built once into ``TIANCI_HOME`` and reused.

Mandarin counts come from the Song ci; Cantonese counts from HKCanCor's colloquial speech plus the
Song ci read in Cantonese (literary vocabulary). ``python -m lyrics.data.rhymebook`` builds both (``make
setup`` runs it); :func:`rhyme_dictionary` builds a missing one on first use.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

from tqdm import tqdm

from lyrics.data.assets import tianci_home
from lyrics.data.corpus import hkcancor_utterances, songci
from lyrics.files import write_atomic
from phonetics import RhymeDictionary, language_codes

VERSION = 3  # bump when readings change, so stale dictionaries are rebuilt


def path_for(lang: str) -> Path:
    return tianci_home() / "rhymedict" / f"{lang}-v{VERSION}.json"


def _colloquial_texts() -> Iterator[str]:
    return ("".join(word for word, _ in tokens) for tokens in hkcancor_utterances())


# Per language, the texts its character counts come from besides the Song ci every language reads.
EXTRA_TEXTS: dict[str, Callable[[], Iterator[str]]] = {"yue": _colloquial_texts}


def _texts(lang: str) -> Iterator[str]:
    yield from (work.text for work in songci())
    if lang in EXTRA_TEXTS:
        yield from EXTRA_TEXTS[lang]()


@cache
def rhyme_dictionary(lang: str) -> RhymeDictionary:
    path = path_for(lang)
    if path.is_file():
        return RhymeDictionary.load(path)
    texts = tqdm(_texts(lang), desc=f"building the {lang} rhyme dictionary", unit=" texts",
                 file=sys.stderr, disable=None)
    book = RhymeDictionary.from_texts(texts, lang)
    write_atomic(path, book.to_json())  # a reader never sees half a dictionary
    return book


if __name__ == "__main__":
    for lang in language_codes():
        book = rhyme_dictionary(lang)
        print(f"rhyme dictionary {lang}: {len(book.counts):,} characters in {path_for(lang)}")
