"""pycantonese's word segmenter for runs of CJK characters: loaded in the background, asked once for many runs.

``pycantonese.segment`` loads its model (a 34 MB zstd file, about 0.9 s) on its first call and is asked one
string at a time. Tianci segments only runs of CJK characters, where pycantonese's steps around the model
(alphanumerics to private-use characters, punctuation and script-boundary splits) change nothing, so this module
asks the same model, loaded from the same file, for every run of a batch in one call: the same words (a test
compares them with ``pycantonese.segment``). The model is loaded on a thread started by :func:`preload` (its
loader releases the GIL), while the caller loads its lexicons; importing pycantonese itself (0.25 s, its rime
tables) is not needed for it. Where the model cannot be loaded directly, each run goes to ``pycantonese.segment``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from importlib.util import find_spec
from pathlib import Path

Segment = Callable[[Sequence[str]], list[list[str]]]
MODEL = ("word_segmentation", "segmenter.fb.zst")  # inside the pycantonese package


class _Loader:
    """The model's one load in a process, however many threads ask first. A fork copies a loading future but not
    the thread that would finish it, and maybe a lock another thread held: the child takes a fresh lock and, where
    the model was still loading, loads its own (the flag is read without the future's own lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.future: Future[Segment] | None = None
        self.loading = False

    def start(self) -> Future[Segment]:
        with self.lock:
            if self.future is None:
                self.future, self.loading = Future(), True
                threading.Thread(target=self._load, args=(self.future,), name="tianci-yue-segmenter",
                                 daemon=True).start()
            return self.future

    def _load(self, future: Future[Segment]) -> None:
        try:
            segment = _load()
        except Exception:  # a damaged or changed model file: pycantonese's own path, run by run
            segment = _one_by_one
        self.loading = False
        future.set_result(segment)

    def after_fork_in_child(self) -> None:
        self.lock = threading.Lock()
        if self.loading:
            self.future, self.loading = None, False


_LOADER = _Loader()


def preload() -> None:
    """Start loading the model on a background thread, if it is not loaded or loading already."""
    _LOADER.start()


def segment_runs(runs: Sequence[str]) -> list[list[str]]:
    """The words of each run of CJK characters, as ``pycantonese.segment`` gives them."""
    return _LOADER.start().result()(runs) if runs else []


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _LOADER.after_fork_in_child())


def _load() -> Segment:
    spec = find_spec("pycantonese")
    folders = list(spec.submodule_search_locations or ()) if spec else []
    path = Path(folders[0]).joinpath(*MODEL) if folders else None
    try:
        from rustling.wordseg import DAGHMMSegmenter
    except ImportError:
        DAGHMMSegmenter = None  # an older pycantonese, without rustling
    if DAGHMMSegmenter is None or path is None or not path.is_file():
        return _one_by_one
    model = DAGHMMSegmenter()
    model.load(str(path))  # the features and weights are the file's: the same words as pycantonese's instance
    return model.predict


def _one_by_one(runs: Sequence[str]) -> list[list[str]]:
    import pycantonese

    return [pycantonese.segment(run) for run in runs]
