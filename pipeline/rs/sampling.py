"""Rejection sampling's prompts and sampling: titles of corpus works as prompts, K candidates each through the
Writer, one synced record a prompt."""

from __future__ import annotations

import dataclasses
import functools
import math
import random
import sys
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from lyrics.data.expansion import expand_topic
from lyrics.data.works import read_split
from lyrics.decoding.constraints import UnsatisfiableSpec
from lyrics.decoding.spec import LyricSpec

from ..candidates import best
from ..config import RSConfig
from ..results import RecordLog, finished_ids
from ..writer import Writer
from .metrics import distinct


def make_prompts(cfg: RSConfig, split: str, count: int, exclude: frozenset[str] = frozenset()) -> list[dict]:
    """``count`` specs, languages in turn: titles of distinct works of ``split`` (none of ``exclude``: a tune
    name such as 浣溪沙 titles works in every split), structures in turn."""
    langs = cfg.data.langs
    per_lang = {lang: math.ceil(count / len(langs)) for lang in langs}
    prompts = []
    for lang in langs:
        works = list(read_split(cfg.data.works_dir, lang, split))
        random.Random(f"{cfg.seed}-rs-{lang}-{split}").shuffle(works)
        titles: dict[str, None] = {}
        for work in works:
            if work.title and work.title != "无题" and len(work.title) <= 20 and work.title not in exclude:
                titles.setdefault(work.title)
            if len(titles) == per_lang[lang]:
                break
        for i, title in enumerate(titles):
            prompts.append({"id": f"{split}-{lang}-{i}", "lang": lang, "topic": title,
                            "structure": cfg.prompts.structures[i % len(cfg.prompts.structures)]})
    order = sorted(prompts, key=lambda p: (int(p["id"].rsplit("-", 1)[1]), p["lang"]))
    return order[:count]


def prompt_records(writer: Writer, group: list[dict], seed: int, *, k: int, temperature: float, imagery_tables=None,
                   repetition_gate: bool = False) -> list[dict]:
    """The sample records of one chunk of prompts: K candidates each through the writer (its scorer judging).
    The chunk's prompts of one language and structure get the same rhyme groups (one seed), so they share a
    compiled constraint and a ``model.generate`` call. With ``repetition_gate``, a candidate also has to repeat
    characters no more than the prompt's median candidate (its own distinct-1 at least theirs) to be chosen: a
    guard against the scorer's taste for the commonest characters. A candidate is ``{"lyrics", "checks",
    "scores"}``; ``best`` is the index of the best by the one rule among candidates passing every check (None:
    none)."""
    asked = [LyricSpec.from_dict({key: v for key, v in p.items() if key != "id"}) for p in group]
    specs = []
    for spec in asked:  # the generator may see an expanded topic; the scorer judges the asked one
        if imagery_tables is not None:
            spec = dataclasses.replace(spec, topic=expand_topic(spec.topic, spec.lang, imagery_tables))
        specs.append(writer.decoder.pin_rhymes(writer.plan(spec), seed))
    try:
        results = writer.write(specs, k, seed=seed, judged=asked, temperature=temperature)
    except UnsatisfiableSpec as err:
        return [{"id": p["id"], "prompt": p, "error": str(err)} for p in group]
    records = []
    for p, spec, scored in zip(group, specs, results, strict=True):
        eligible = None
        if repetition_gate:
            own = [distinct([s.lyrics], 1) for s in scored]
            median = sorted(own)[len(own) // 2]
            eligible = sorted(j for j, value in enumerate(own) if value >= median)
        records.append({"id": p["id"], "prompt": p, "asked_topic": spec.topic, "rhymes": dict(spec.rhymes),
                        "keywords": list(spec.keywords), "candidates": [s.to_dict() for s in scored],
                        "best": best(scored, eligible), **({"eligible": eligible} if eligible is not None else {})})
    return records


def sample_prompts(writer: Writer | None, prompts: list[dict], out: Path, k: int, seed: int, temperature: float,
                   imagery_tables=None, desc: str = "samples", chunk: int = 32, repetition_gate: bool = False,
                   engine: Callable | None = None) -> None:
    """:func:`prompt_records` for every prompt, one line per prompt appended to ``out`` and synced (ids already
    there skipped), in chunks of ``chunk`` prompts; ``engine`` runs the chunks elsewhere (``pipeline.ray_engine``,
    each actor with its own Writer: the records are the same; ``writer`` may then be None)."""
    done = finished_ids(out)
    todo = [p for p in prompts if p["id"] not in done]
    tasks = [(group, seed + int(group[0]["id"].rsplit("-", 1)[1]) * 7919 + len(group[0]["lang"]))
             for group in (todo[start:start + chunk] for start in range(0, len(todo), chunk))]
    job = functools.partial(prompt_records, k=k, temperature=temperature, imagery_tables=imagery_tables,
                            repetition_gate=repetition_gate)
    results = engine(job, tasks) if engine is not None else (job(writer, *task) for task in tasks)
    with tqdm(total=len(prompts), initial=len(prompts) - len(todo), desc=desc, unit="prompt", file=sys.stderr,
              disable=None) as bar, RecordLog(out) as log:
        for records in results:
            for record in records:
                log.write(record)
                bar.update(1)


def sample_spec(record: dict) -> LyricSpec:
    """The spec a sample was written to: its prompt, with the topic, rhymes and keywords the generator saw."""
    return LyricSpec.from_dict({k: v for k, v in {**record["prompt"], "topic": record.get("asked_topic") or
                                                  record["prompt"]["topic"], "rhymes": record["rhymes"],
                                                  "keywords": record.get("keywords") or None}.items()
                                if k != "id"})
