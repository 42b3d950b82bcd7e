"""Tianci lyrics: corpora and datasets, the lyric spec, constrained generation, model loading and training (the
command line that drives them is :mod:`tianci.cli`).

``lyrics.generate`` is imported lazily so that light commands (``tianci analyze``) do not load torch.
"""

from typing import Any

__all__ = ["LyricSpec", "SpecError", "generate"]


def __getattr__(name: str) -> Any:
    if name == "generate":
        from lyrics.generation import generate

        return generate
    if name in ("LyricSpec", "SpecError"):
        from lyrics.decoding import spec

        return getattr(spec, name)
    raise AttributeError(f"module 'lyrics' has no attribute {name!r}")
