"""Scores for records: ``tianci score IN.jsonl OUT.jsonl`` and the batch CLI's ``scores``.

A record is ``{"lyrics": str, ...}`` or a batch result ``{"candidates": [{"lyrics"}, ...], ...}``; the prompt
is its ``prompt`` object, else its ``spec`` object, else its own ``topic``/``lang``/``genre`` fields. Each
record (and each candidate) gains ``"scores": {aspect: 1-5}``; a line that is not JSON or has no lyrics is
kept, marked ``"error"``.
"""

from __future__ import annotations

import json
from pathlib import Path

from lyrics.files import write_jsonl

from .model import Scorer


def prompt_of(record: dict) -> dict:
    for key in ("prompt", "spec"):
        if isinstance(record.get(key), dict):
            return record[key]
    return {k: record[k] for k in ("topic", "lang", "genre") if k in record}


def score_records(scorer: Scorer, records: list[dict]) -> int:
    """Add ``scores`` in place wherever there are lyrics; returns how many records had none."""
    slots: list[tuple[dict, dict, str]] = []  # (where the scores go, prompt, lyrics)
    missing = 0
    for record in records:
        prompt = prompt_of(record)
        found = False
        if isinstance(record.get("lyrics"), str):
            slots.append((record, prompt, record["lyrics"]))
            found = True
        for candidate in record.get("candidates") or []:
            if isinstance(candidate, dict) and isinstance(candidate.get("lyrics"), str):
                slots.append((candidate, prompt, candidate["lyrics"]))
                found = True
        if not found and "error" not in record:
            record["error"] = 'no "lyrics" to score'
            missing += 1
    scores = scorer.score([(prompt, lyrics) for _, prompt, lyrics in slots])
    for (target, _, _), value in zip(slots, scores, strict=True):
        target["scores"] = value
    return missing


def score_file(scorer: Scorer, path: Path, out: Path) -> tuple[int, int]:
    """(records scored, records marked as errors); OUT is written to a temporary file and renamed."""
    records, errors = [], 0
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            record = {"line": number, "error": f"line {number} is not JSON ({err.msg})"}
        if not isinstance(record, dict):
            record = {"line": number, "error": f"line {number} is not a JSON object"}
        records.append(record)
    errors = sum("error" in r for r in records) + score_records(scorer, [r for r in records if "error" not in r])
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(out, records)
    return len(records) - errors, errors
