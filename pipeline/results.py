"""Results files: JSON Lines appended one whole, synced record at a time, so a kill loses at most the line being
written, and a re-run resumes after the ids already there (``tianci batch`` and rejection sampling)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def finished_ids(out: Path) -> set[str]:
    """Ids already written to ``out``; a last line cut short by a kill is removed first."""
    if not out.is_file():
        return set()
    data = out.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    if len(complete) != len(data):
        with out.open("r+b") as handle:
            handle.truncate(len(complete))
    return {json.loads(line)["id"] for line in complete.decode("utf-8").splitlines() if line.strip()}


class RecordLog:
    """``out`` opened for appending; each :meth:`write` is one line, flushed and synced to disk."""

    def __init__(self, out: Path):
        out.parent.mkdir(parents=True, exist_ok=True)
        self.handle = out.open("a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def __enter__(self) -> RecordLog:
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()
