"""Scores for records: ``tianci score IN.jsonl OUT.jsonl`` and the batch CLI's ``scores``.

A record is ``{"lyrics": str, ...}``, a batch result ``{"candidates": [{"lyrics"}, ...], ...}``, or a pair
``{"kind", "better": {"prompt", "lyrics"}, "worse": {...}}`` (``scorer.checkset``'s check set, the scorer's
training data); the prompt is its ``prompt`` object, else its ``spec`` object, else its own
``topic``/``lang``/``genre`` fields. Each record (each candidate, each side) gains ``"scores": {aspect: 1-5}``;
a line that is not JSON or has no lyrics is kept, marked ``"error"``. On pairs, :func:`pair_accuracy` reports
how often the better side scores higher overall, per kind.
"""

from __future__ import annotations

import json
from pathlib import Path

from lyrics.decoding.spec import cleaned
from lyrics.files import utf8_lines, write_jsonl
from phonetics import language_codes

from .model import Scorer


def prompt_of(record: dict) -> dict:
    for key in ("prompt", "spec"):
        if isinstance(record.get(key), dict):
            return record[key]
    return {k: record[k] for k in ("topic", "lang", "genre") if k in record}


def lyric_slots(record: dict) -> list[tuple[dict, dict, str]]:
    """(where the scores go, prompt, lyrics) for every lyric of a record: its own, its candidates', a pair's
    sides' (each side's own prompt when it has one)."""
    prompt = prompt_of(record)
    slots = [(record, prompt, record["lyrics"])] if isinstance(record.get("lyrics"), str) else []
    candidates = record.get("candidates")
    for candidate in [*(candidates if isinstance(candidates, list) else []),
                      *(record[k] for k in ("better", "worse") if k in record)]:
        if isinstance(candidate, dict) and isinstance(candidate.get("lyrics"), str):
            slots.append((candidate, prompt_of(candidate) or prompt, candidate["lyrics"]))
    return slots


def record_problem(record: dict) -> str | None:
    """Why a record cannot be scored (no lyrics, an unknown language, empty lyrics, anywhere in it), or None."""
    slots = lyric_slots(record)
    if not slots:
        return 'no "lyrics" to score'
    for _, prompt, lyrics in slots:
        lang = prompt.get("lang")
        if lang is not None and (not isinstance(lang, str) or lang not in language_codes()):
            return f"lang {str(lang)[:20]!r} is not supported; use one of {', '.join(language_codes())}"
        if not lyrics.strip():
            return "empty lyrics; give the text to score"
    return None


def score_slots(records: list[dict]) -> list[tuple[dict, dict, str]]:
    """:func:`lyric_slots` of every record; a record with none is marked ``error`` in place."""
    slots: list[tuple[dict, dict, str]] = []
    for record in records:
        found = lyric_slots(record)
        if not found and "error" not in record:
            record["error"] = 'no "lyrics" to score'
        slots += found
    return slots


def score_records(scorer: Scorer, records: list[dict]) -> int:
    """Add ``scores`` in place wherever there are lyrics; returns how many records had none."""
    before = sum("error" in r for r in records)
    slots = score_slots(records)
    scores = scorer.score([(prompt, lyrics) for _, prompt, lyrics in slots])
    for (target, _, _), value in zip(slots, scores, strict=True):
        target["scores"] = value
    return sum("error" in r for r in records) - before


def pair_accuracy(records: list[dict]) -> dict:
    """Over scored pairs: ``{"pairs", "accuracy", "by_kind": {kind: accuracy}}``, a pair won when its better
    side scores higher overall (a tie is lost)."""
    wins: dict[str, list[bool]] = {}
    for record in records:
        better, worse = record.get("better"), record.get("worse")
        if isinstance(better, dict) and isinstance(worse, dict) and "scores" in better and "scores" in worse:
            wins.setdefault(str(record.get("kind", "pair")), []).append(
                better["scores"]["overall"] > worse["scores"]["overall"])
    every = [w for kind in wins.values() for w in kind]
    return {"pairs": len(every), "accuracy": round(sum(every) / len(every), 4) if every else None,
            "by_kind": {kind: round(sum(v) / len(v), 4) for kind, v in sorted(wins.items())}}


def read_records(path: Path) -> list[dict]:
    """The records of a JSON Lines file, one per non-blank line, cleaned (:func:`cleaned`); a line that cannot be
    scored (not UTF-8, not JSON, not an object, :func:`record_problem`) is kept as an ``error`` record naming its
    line."""
    records = []
    for number, raw in enumerate(utf8_lines(path.read_bytes()), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as err:
            record = {"line": number, "error": f"line {number} is not UTF-8 (byte {err.start + 1}); save it as UTF-8"}
        except json.JSONDecodeError as err:
            record = {"line": number, "error": f"line {number} is not JSON ({err.msg})"}
        if not isinstance(record, dict):
            record = {"line": number, "error": f"line {number} is not a JSON object"}
        elif "error" in record and not record["error"]:  # an empty error field marks nothing
            record = {k: v for k, v in record.items() if k != "error"}
        elif "error" not in record and (problem := record_problem(record)):
            record = {**record, "line": number, "error": f"line {number}: {problem}"}
        records.append(cleaned(record))
    return records


def score_file(scorer: Scorer, path: Path, out: Path) -> tuple[int, int, dict]:
    """(records scored, records marked as errors, :func:`pair_accuracy` of its pairs); OUT is written to a
    temporary file and renamed."""
    records = read_records(path)
    errors = sum("error" in r for r in records) + score_records(scorer, [r for r in records if "error" not in r])
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(out, records)
    return len(records) - errors, errors, pair_accuracy(records)
