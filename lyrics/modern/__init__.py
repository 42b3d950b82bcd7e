"""The modern lyrics corpus Tianci writes for itself: seeded briefs, the checks every song passes, the report.

TinyStories' recipe for lyrics: a large, simple, diverse corpus of original songs, each written to a brief
whose random topic, required words, mood, point of view, form and rhyme force diversity. The shipped corpus
is ``corpus/songs/`` (its card: ``corpus/CARD.md``); ``tianci corpus`` samples briefs, checks songs and
writes the report.
"""

from lyrics.modern.briefs import Brief, BriefSampler, Section
from lyrics.modern.check import CorpusCheck, Song, parse_lyrics

__all__ = ["Brief", "BriefSampler", "CorpusCheck", "Section", "Song", "parse_lyrics"]
