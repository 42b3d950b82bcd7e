"""Tianci's cache folder (``$TIANCI_HOME``, default ``~/.cache/tianci``) and files written whole into it: to a
temporary name beside the target, then renamed, so a kill never leaves half a file. The one atomic-write
helper: ``lyrics.files`` builds on it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import TianciError


class NotARegularFile(TianciError, ValueError):
    """An atomic write aimed at something that is not a regular file (a device, a folder, a pipe)."""


def tianci_home() -> Path:
    return Path(os.environ.get("TIANCI_HOME", Path.home() / ".cache" / "tianci")).expanduser()


@contextmanager
def replacing_file(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; renamed onto ``path`` when the block ends without error. Only a
    regular file (or nothing) is ever replaced: a device such as /dev/full, a folder or a pipe is refused before
    anything is written, never renamed over."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise NotARegularFile(f"{path}: not a regular file (a device, folder or pipe); give a file path to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp made it private
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
