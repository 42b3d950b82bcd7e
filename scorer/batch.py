"""``tianci batch SPECS.jsonl OUT.jsonl``: many specs through one model, resumable.

Each input line is a spec (the contract of ``lyrics.decoding.spec`` plus ``id``; without an id, ``line-N``). Each
output line is ``{"id", "lyrics", "candidates": [{"lyrics", "checks", "tokens", "scores"}, ...]}`` (``scores``:
the quality scorer's 1-5 per aspect, when a scorer is given; ``lyrics``: the best candidate by the one rule
of ``scorer.candidates``), or ``{"id", "error"}`` for a spec that cannot be
read or met; the batch goes on. Lines are appended whole and flushed to disk one item at a time; a re-run
skips the ids already in OUT and first cuts off a last line left incomplete by a kill, so nothing finished
is lost and nothing is written twice. Specs of one shape are generated together (``generate_many``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from lyrics.decoding.constraints import UnsatisfiableSpec
from lyrics.decoding.spec import LyricSpec, SpecError
from lyrics.files import utf8_lines
from lyrics.generation import compile_constraint

from .candidates import ranked, write_candidates
from .model import Scorer


@dataclass
class Summary:
    items: int = 0
    skipped: int = 0  # already in OUT
    errors: int = 0
    candidates: int = 0
    passed: int = 0  # candidates passing every check
    items_passed: int = 0  # items with at least one such candidate
    seconds: float = 0.0

    def line(self) -> str:
        done = self.items - self.skipped - self.errors
        rate = (self.items - self.skipped) / self.seconds if self.seconds else 0.0
        return (f"{self.items} items ({self.skipped} already done), {self.errors} errors; candidates passing "
                f"all checks {self.passed}/{self.candidates}, items with one {self.items_passed}/{done}; "
                f"{rate:.2f} items/s")


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


def chunk_records(model, tokenizer, chunk: list[tuple[str, LyricSpec | str]], seed: int | None,
                  scorer: Scorer | None = None) -> list[dict]:
    """The output records of one chunk of specs (errors as error records), through the one candidate pipeline;
    specs of one ``n`` go through the model together. The same chunk and seed give the same records on any
    engine."""
    records: list[dict] = []
    by_n: dict[int, list[tuple[str, LyricSpec]]] = {}
    for item_id, spec in chunk:
        if isinstance(spec, str):
            records.append({"id": item_id, "error": spec})
            continue
        try:
            compile_constraint(spec, tokenizer)
            by_n.setdefault(spec.n, []).append((item_id, spec))
        except UnsatisfiableSpec as err:
            records.append({"id": item_id, "error": str(err)})
    for count, group in by_n.items():
        results = write_candidates(model, tokenizer, [spec for _, spec in group], count, scorer, seed=seed)
        for i, (item_id, _) in enumerate(group):
            if isinstance(results, str):  # a hint the tokenizer cannot write
                records.append({"id": item_id, "error": results})
            else:
                records.append({"id": item_id, "lyrics": ranked(results[i])[0].lyrics,
                                "candidates": [s.to_dict() for s in results[i]]})
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


class ResultWriter:
    """OUT, appended one whole line per record and synced to disk, with the run's summary kept as it goes."""

    def __init__(self, out: Path, summary: Summary, bar):
        out.parent.mkdir(parents=True, exist_ok=True)
        self.handle, self.summary, self.bar = out.open("a", encoding="utf-8"), summary, bar

    def write(self, record: dict) -> None:
        self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())
        if "error" in record:
            self.summary.errors += 1
        else:
            passing = sum(c["checks"]["ok"] for c in record["candidates"])
            self.summary.candidates += len(record["candidates"])
            self.summary.passed += passing
            self.summary.items_passed += passing > 0
        self.bar.update(1)

    def close(self) -> None:
        self.handle.close()
        self.bar.close()


def run_batch(model, tokenizer, specs_path: Path, out: Path, n: int = 4, batch_size: int = 16,
              seed: int | None = None, progress: bool = True, scorer: Scorer | None = None,
              engine: Callable | None = None) -> Summary:
    """Candidates through the one pipeline (``scorer.candidates``): with a ``scorer`` each gets ``scores``;
    ``lyrics`` is the best by the one rule. ``engine``: where the chunks run (``scorer.ray_engine``); by
    default here, with ``model`` and ``tokenizer``."""
    began = time.perf_counter()
    items, chunks, skipped = plan_batch(specs_path, out, n, batch_size, seed)
    summary = Summary(items=len(items), skipped=skipped)
    bar = tqdm(total=len(items), initial=skipped, desc="batch", unit="spec", file=sys.stderr,
               disable=not progress or None)
    writer = ResultWriter(out, summary, bar)
    try:
        results = engine(chunk_records, chunks) if engine is not None else (
            chunk_records(model, tokenizer, chunk, chunk_seed, scorer=scorer) for chunk, chunk_seed in chunks)
        for records in results:
            for record in records:
                writer.write(record)
    finally:
        writer.close()
    summary.seconds = time.perf_counter() - began
    return summary
