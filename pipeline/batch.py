"""``tianci batch SPECS.jsonl OUT.jsonl``: many specs through one model, resumable.

Each input line is a spec (the contract of ``lyrics.decoding.spec`` plus ``id``; without an id, ``line-N``). Each
output line is ``{"id", "lyrics", "candidates": [{"lyrics", "checks", "tokens", "scores"}, ...]}`` (``scores``:
the quality scorer's 1-5 per aspect, when a scorer is given; ``lyrics``: the best candidate by the one rule
of ``pipeline.candidates``), or ``{"id", "error"}`` for a spec that cannot be
read or met; the batch goes on. Lines are appended whole and flushed to disk one item at a time; a re-run
skips the ids already in OUT and first cuts off a last line left incomplete by a kill, so nothing finished
is lost and nothing is written twice. Specs of one shape are generated together (``Writer.write``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from lyrics.decoding.constraints import UnsatisfiableSpec
from lyrics.decoding.spec import LyricSpec, SpecError
from lyrics.files import utf8_lines

from .candidates import ranked
from .results import RecordLog, finished_ids
from .writer import Writer


@dataclass
class Summary:
    items: int = 0
    skipped: int = 0  # already in OUT
    errors: int = 0
    candidates: int = 0
    passed: int = 0  # candidates passing every check
    items_passed: int = 0  # items with at least one such candidate
    seconds: float = 0.0

    def add(self, record: dict) -> None:
        if "error" in record:
            self.errors += 1
            return
        passing = sum(c["checks"]["ok"] for c in record["candidates"])
        self.candidates += len(record["candidates"])
        self.passed += passing
        self.items_passed += passing > 0

    def line(self) -> str:
        done = self.items - self.skipped - self.errors
        rate = (self.items - self.skipped) / self.seconds if self.seconds else 0.0
        return (f"{self.items} items ({self.skipped} already done), {self.errors} errors; candidates passing "
                f"all checks {self.passed}/{self.candidates}, items with one {self.items_passed}/{done}; "
                f"{rate:.2f} items/s")


def check_results_file(out: Path, spec_ids: set[str]) -> None:
    """An OUT that exists and is not empty must be this spec set's results (a resume): JSON objects with an
    ``id`` of ``spec_ids`` and candidates or an error. Anything else (a binary, a Makefile, the specs themselves)
    is refused, never truncated."""
    if not out.is_file() or out.stat().st_size == 0:
        return
    data = out.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    for number, line in enumerate(complete.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            record = None
        if not isinstance(record, dict) or not ({"id", "candidates"} <= set(record) or {"id", "error"} <= set(record)):
            raise SpecError(f"{out} exists and is not a tianci batch results file (line {number}); "
                            "give a new OUT path (nothing was written)")
        if record["id"] not in spec_ids:
            raise SpecError(f"{out} holds results of other specs (id {record['id']!r} on line {number}); "
                            "give a new OUT path (nothing was written)")
    if not complete and data:
        raise SpecError(f"{out} exists and is not a tianci batch results file; give a new OUT path")


def read_specs(path: Path, default_n: int) -> list[tuple[str, LyricSpec | str]]:
    """(id, spec or error message) per input line, blank lines skipped."""
    items, seen = [], set()
    for number, line in enumerate(utf8_lines(path.read_bytes()), 1):
        if not line.strip():
            continue
        item_id = f"line-{number}"
        try:
            raw = line.decode("utf-8")
        except UnicodeDecodeError as err:
            items.append((item_id, f"line {number} is not UTF-8 (byte {err.start + 1}); save the specs as UTF-8"))
            continue
        try:
            data = json.loads(raw)
            if isinstance(data, dict) and data.get("id") is not None:
                item_id = str(data["id"])
            if item_id in seen:  # an error record of its own, under the line's own name
                items.append((f"line-{number}", f"line {number}: id {item_id!r} is used by an earlier spec; "
                                                "give each spec its own id"))
                continue
            seen.add(item_id)
            if isinstance(data, dict) and "n" not in data:
                data = {**data, "n": default_n}
            items.append((item_id, LyricSpec.from_dict(data)))
        except json.JSONDecodeError as err:
            items.append((item_id, f"line {number} is not JSON ({err.msg})"))
        except SpecError as err:
            items.append((item_id, str(err)))
    return items


def chunk_records(writer: Writer, chunk: list[tuple[str, LyricSpec | str]], seed: int | None) -> list[dict]:
    """The output records of one chunk of specs (errors as error records), through the writer; specs of one
    ``n`` go through the model together. The same chunk and seed give the same records on any engine."""
    records: list[dict] = []
    by_n: dict[int, list[tuple[str, LyricSpec]]] = {}
    for item_id, spec in chunk:
        if isinstance(spec, str):
            records.append({"id": item_id, "error": spec})
            continue
        try:
            planned = writer.plan(spec)
            writer.check(planned)
            by_n.setdefault(spec.n, []).append((item_id, planned))
        except UnsatisfiableSpec as err:
            records.append({"id": item_id, "error": str(err)})
    for count, group in by_n.items():
        try:
            results = writer.write([spec for _, spec in group], count, seed=seed)
        except UnsatisfiableSpec as err:  # a hint the tokenizer cannot write: every spec of the group
            records += [{"id": item_id, "error": str(err)} for item_id, _ in group]
            continue
        for (item_id, _), scored in zip(group, results, strict=True):
            records.append({"id": item_id, "lyrics": ranked(scored)[0].lyrics,
                            "candidates": [s.to_dict() for s in scored]})
    return records


def plan_batch(specs_path: Path, out: Path, n: int, batch_size: int,
               seed: int | None) -> tuple[list, list[tuple[list, int | None]], int]:
    """(every item, the chunks still to do with their seeds, how many items OUT already holds). A chunk's
    seed is the batch seed plus the chunk's offset among the items still to do."""
    items = read_specs(specs_path, n)
    check_results_file(out, {item_id for item_id, _ in items})
    done = finished_ids(out)
    pending = [(item_id, spec) for item_id, spec in items if item_id not in done]
    chunks = [(pending[start:start + batch_size], None if seed is None else seed + start)
              for start in range(0, len(pending), batch_size)]
    return items, chunks, len(items) - len(pending)


def run_batch(writer: Writer | None, specs_path: Path, out: Path, n: int = 4, batch_size: int = 16,
              seed: int | None = None, progress: bool = True, engine: Callable | None = None) -> Summary:
    """Candidates for every spec through the writer (with its scorer each gets ``scores``); ``lyrics`` is the
    best by the one rule (``pipeline.candidates``). ``engine``: where the chunks run (``pipeline.ray_engine``,
    each actor with its own Writer; ``writer`` may then be None); by default here."""
    began = time.perf_counter()
    items, chunks, skipped = plan_batch(specs_path, out, n, batch_size, seed)
    summary = Summary(items=len(items), skipped=skipped)
    with tqdm(total=len(items), initial=skipped, desc="batch", unit="spec", file=sys.stderr,
              disable=not progress or None) as bar, RecordLog(out) as log:
        results = engine(chunk_records, chunks) if engine is not None else (
            chunk_records(writer, chunk, chunk_seed) for chunk, chunk_seed in chunks)
        for records in results:
            for record in records:
                log.write(record)
                summary.add(record)
                bar.update(1)
    summary.seconds = time.perf_counter() - began
    return summary
