"""Lyric data: offline assets, corpora, works and splits, keyword tables, rhyme dictionaries."""
