"""Files and folders written whole: to a temporary name beside the target, then renamed, so a kill never leaves
half of one. Every atomic write of lyrics/ and scorer/ goes through here (files through
``phonetics.cache.replacing_file``, which phonetics' own caches use too)."""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from phonetics.cache import replacing_file

__all__ = ["json_objects", "read_jsonl", "replacing_dir", "replacing_file", "save_figure", "utf8_lines",
           "write_atomic", "write_json", "write_jsonl"]


@contextmanager
def replacing_dir(path: Path) -> Iterator[Path]:
    """A temporary folder beside ``path`` to fill; it replaces ``path`` (an old one removed) when the block ends
    without error, and is removed when it does not."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
    try:
        yield tmp
        tmp.chmod(0o755)  # mkdtemp made it private
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_atomic(path: Path, text: str) -> None:
    with replacing_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, data) -> None:
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    write_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def read_jsonl(path: Path) -> list[dict]:
    """The objects of a JSON Lines file (blank lines skipped); none when it does not exist."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def utf8_lines(data: bytes) -> list[bytes]:
    """The lines of a text file's bytes, as UTF-8: a UTF-8 byte-order mark dropped, UTF-16 with its mark (as
    Windows editors save it; ``encode("utf-16")`` writes the mark) decoded; other bytes kept as they are, for
    the caller to report line by line.

    >>> [line.decode() for line in utf8_lines("月光\\n海".encode("utf-16"))]
    ['月光', '海']
    >>> utf8_lines("\\ufeff月光".encode("utf-8")) == ["月光".encode()]
    True
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        with contextlib.suppress(UnicodeDecodeError):  # else not UTF-16 after all: the caller reports the lines
            data = data.decode("utf-16").encode("utf-8", "surrogatepass")
    return data.splitlines()


def json_objects(lines: Iterable[str], source: Path | str, error: type[Exception]) -> Iterator[tuple[int, dict]]:
    """(line number, object) of JSON Lines text, blank lines skipped; a line that is not a JSON object raises
    ``error`` with one line naming ``source`` and the line."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise error(f"{source}: line {number} is not JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise error(f"{source}: line {number} is not a JSON object")
        yield number, row


def save_figure(fig, png: Path) -> None:
    """A matplotlib figure as a PNG, written whole."""
    with replacing_file(png) as tmp:
        fig.savefig(tmp, format="png")
