"""Tianci phonetics: readings, finals, tones, rhyme groups and line analysis for Mandarin and Cantonese.

No torch here: everything later (training data, logit processors, the scorer, the demo) reads this.
"""

from .analysis import Analysis, Line, analyze, split_lines
from .annotate import Syllable, annotate, reading_sets, split_romanization
from .errors import PhoneticsError, TianciError
from .languages import LANGUAGES, Language, language, to_lang_script
from .rhyme import DEFAULT_SCHEME, LANGS, SCHEMES, RhymeScheme, scheme, tone_class, tone_classes
from .rhymedict import RhymeDictionary
from .script import is_cjk

__all__ = [
    "DEFAULT_SCHEME",
    "LANGS",
    "LANGUAGES",
    "SCHEMES",
    "Analysis",
    "Language",
    "Line",
    "PhoneticsError",
    "RhymeDictionary",
    "RhymeScheme",
    "Syllable",
    "TianciError",
    "analyze",
    "annotate",
    "is_cjk",
    "language",
    "reading_sets",
    "scheme",
    "split_lines",
    "split_romanization",
    "to_lang_script",
    "tone_class",
    "tone_classes",
]
