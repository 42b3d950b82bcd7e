"""Tianci phonetics: readings, finals, tones, rhyme groups and line analysis for Mandarin and Cantonese, and for
any language added to the registry (:mod:`phonetics.languages`: a :class:`Reader` bound by :func:`register`).

No torch here: everything later (training data, logit processors, the scorer, the demo) reads this.
"""

from .analysis import Analysis, Line, analyze, split_lines
from .annotate import Syllable, annotate, reading_sets, split_romanization
from .errors import PhoneticsError, TianciError, warn_renamed
from .languages import (
    LANGUAGES,
    Language,
    Reader,
    language,
    language_codes,
    languages,
    register,
    to_lang_script,
    unregister,
)
from .rhyme import RhymeScheme, scheme, tone_class, tone_classes
from .rhymedict import RhymeDictionary
from .script import is_cjk

__all__ = [
    "LANGUAGES",
    "Analysis",
    "Language",
    "Line",
    "PhoneticsError",
    "Reader",
    "RhymeDictionary",
    "RhymeScheme",
    "Syllable",
    "TianciError",
    "analyze",
    "annotate",
    "is_cjk",
    "language",
    "language_codes",
    "languages",
    "reading_sets",
    "register",
    "scheme",
    "split_lines",
    "split_romanization",
    "to_lang_script",
    "tone_class",
    "tone_classes",
    "unregister",
    "warn_renamed",
]
