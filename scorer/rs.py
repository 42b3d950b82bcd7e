"""``tianci rs --config configs/rs_tiny.yaml``: rejection-sampling rounds (as in Llama 2 and RAFT).

Round 0 evaluates the starting generator. Each round r = 1..R then

1. **samples**: for every training prompt, K constrained candidates from the current generator (batched by
   shape), scored by the scorer; candidates failing an objective check are out (the gate), and so, with
   ``repetition_gate``, are those repeating characters more than the prompt's median candidate
                                                                      -> ``round_r/samples.jsonl``
   then, prompt by prompt, the candidate reaching ``threshold`` with the best overall score less ``diversity``
   times its bigram overlap with the samples kept before is kept (``scorer.selection``)
2. **data**: the kept samples as hinted exchanges, mixed with a replay of the original sft data
   (``replay`` exchanges per kept sample)                             -> ``round_r/train.jsonl``
3. **finetune**: LoRA sft on them (``lyrics.training.generator``, its config built in memory; with
   ``stages.sft.kl_weight``, a KL anchor to the round's starting model), merged
                                                                      -> ``round_r/sft/final``, ``round_r/model``
4. **evaluate** on held-out prompts: mean score per aspect, distinct-1/2, the share of candidates with a line
   written twice, the checks' pass rate, validation perplexity     -> ``round_r/eval.jsonl``, ``metrics.json``
5. **promote or not** (``scorer.selection.promotion``): the round's model becomes the current one (the next
   round's starting point) only if its held-out overall rises beyond a bootstrap interval and the diversity
   limits hold, or the ratings store's blind comparisons of the two say so; ``metrics.json`` and the report
   say which model won and why.

then ``report.md`` and ``metrics.png`` are rewritten. Training prompts are titles of train-split works;
held-out prompts are titles of valid-split works, so they never feed training (nor the scorer, which trains
on train-split works). Selection reads only the current round's samples. Every step is resumable: samples
and evaluations are appended one prompt group at a time and fsynced (a re-run skips the ids already there and
cuts a partial last line), the data and metrics files are written whole and renamed, the finetune resumes from
its checkpoint, and a round with ``metrics.json`` is done. A kill at any point loses nothing and duplicates
nothing.

Query expansion (``prompts.expand: true``): the topic given to the generator is enriched with imagery mined
from the corpus (:mod:`lyrics.data.expansion`); the scorer still judges against the user's topic. Round 0 then
evaluates both, to measure its effect.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import random
import sys
from collections import Counter
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import torch
from tqdm import tqdm

from lyrics.data.expansion import build_lexicon, expand_topic
from lyrics.data.keywords import load_tables
from lyrics.data.works import read_split
from lyrics.decoding.prompt import exchange
from lyrics.decoding.spec import LyricSpec
from lyrics.files import read_jsonl, save_figure, write_atomic, write_json, write_jsonl
from lyrics.generation import pin_rhymes, plan_keywords
from lyrics.models import DEFAULT_MODEL, export_model, load_model
from lyrics.training.config import ConfigError, GeneratorConfig, ModelConfig
from lyrics.training.examples import stage_examples
from lyrics.training.generator import evaluate, pad_id_of, train
from lyrics.training.knowledge import utilisation

from .batch import finished_ids
from .candidates import best, write_candidates
from .config import RSConfig
from .model import DEFAULT_SCORER, Scorer
from .ratings import ASPECTS, RatingsStore, default_ratings_db
from .selection import mix, mos_decision, ngrams, promotion, select_samples

# ---- prompts --------------------------------------------------------------------------------------

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


# ---- sampling and selection -----------------------------------------------------------------------

def prompt_records(model, tokenizer, group: list[dict], seed: int, *, scorer: Scorer, k: int, temperature: float,
                   lexicon=None, repetition_gate: bool = False) -> list[dict]:
    """The sample records of one chunk of prompts: K candidates each through the candidate pipeline
    (``scorer.candidates``). The chunk's prompts of one language and structure get the same rhyme groups (one
    seed), so they share a compiled constraint and a ``model.generate`` call. With ``repetition_gate``, a
    candidate also has to repeat characters no more than the prompt's median candidate (its own distinct-1 at
    least theirs) to be chosen: a guard against the scorer's taste for the commonest characters. A candidate is
    ``{"lyrics", "checks", "scores"}``; ``best`` is the index of the best by the one rule among candidates passing
    every check (None: none)."""
    asked = [LyricSpec.from_dict({key: v for key, v in p.items() if key != "id"}) for p in group]
    specs = []
    for spec in asked:  # the generator may see an expanded topic; the scorer judges the asked one
        if lexicon is not None:
            spec = dataclasses.replace(spec, topic=expand_topic(spec.topic, spec.lang, lexicon))
        spec = plan_keywords(spec, getattr(model, "tianci_keywords", None), tokenizer)
        specs.append(pin_rhymes(spec, tokenizer, seed))
    results = write_candidates(model, tokenizer, specs, k, scorer, seed=seed, judged=asked, temperature=temperature)
    records = []
    for i, (p, spec) in enumerate(zip(group, specs, strict=True)):
        if isinstance(results, str):
            records.append({"id": p["id"], "prompt": p, "error": results})
            continue
        scored = results[i]
        eligible = None
        if repetition_gate:
            own = [distinct([s.lyrics], 1) for s in scored]
            median = sorted(own)[len(own) // 2]
            eligible = sorted(j for j, value in enumerate(own) if value >= median)
        records.append({"id": p["id"], "prompt": p, "asked_topic": spec.topic, "rhymes": dict(spec.rhymes),
                        "keywords": list(spec.keywords), "candidates": [s.to_dict() for s in scored],
                        "best": best(scored, eligible), **({"eligible": eligible} if eligible is not None else {})})
    return records


def sample_prompts(model, tokenizer, scorer: Scorer, prompts: list[dict], out: Path, k: int, seed: int,
                   temperature: float, lexicon=None, desc: str = "samples", chunk: int = 32,
                   repetition_gate: bool = False, engine: Callable | None = None) -> None:
    """:func:`prompt_records` for every prompt, one line per prompt appended to ``out`` and synced (ids already
    there skipped), in chunks of ``chunk`` prompts; ``engine`` runs the chunks elsewhere (``scorer.ray_engine``:
    the records are the same)."""
    done = finished_ids(out)
    todo = [p for p in prompts if p["id"] not in done]
    tasks = [(group, seed + int(group[0]["id"].rsplit("-", 1)[1]) * 7919 + len(group[0]["lang"]))
             for group in (todo[start:start + chunk] for start in range(0, len(todo), chunk))]
    bar = tqdm(total=len(prompts), initial=len(prompts) - len(todo), desc=desc, unit="prompt", file=sys.stderr,
               disable=None)
    job = functools.partial(prompt_records, k=k, temperature=temperature, lexicon=lexicon,
                            repetition_gate=repetition_gate)
    results = engine(job, tasks) if engine is not None else (job(model, tokenizer, *task, scorer=scorer)
                                                             for task in tasks)
    with out.open("a", encoding="utf-8") as handle:
        for records in results:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
                bar.update(1)
    bar.close()


def sample_spec(record: dict) -> LyricSpec:
    """The spec a sample was written to: its prompt, with the topic, rhymes and keywords the generator saw."""
    return LyricSpec.from_dict({k: v for k, v in {**record["prompt"], "topic": record.get("asked_topic") or
                                                  record["prompt"]["topic"], "rhymes": record["rhymes"],
                                                  "keywords": record.get("keywords") or None}.items()
                                if k != "id"})


def training_data(cfg: RSConfig, samples: list[dict], round_index: int,
                  keywords: dict | None = None) -> tuple[list[dict], dict]:
    """Kept samples (``scorer.selection.select_samples``: passing, at or above the threshold, diversity
    valued) plus replayed original exchanges, their briefs with keyword plans when the generator was trained
    with them (``keywords``: its tables)."""
    picks = select_samples(samples, cfg.threshold, cfg.diversity, [r.get("eligible") for r in samples])
    kept = [{"messages": exchange(sample_spec(samples[i]), samples[i]["candidates"][j]["lyrics"].split("\n"))}
            for i, j in picks]
    langs = cfg.data.langs
    wanted = round(cfg.replay * len(kept))
    pool = []
    for lang in langs:
        works = list(islice(read_split(cfg.data.works_dir, lang, "train"), 20000))
        random.Random(f"{cfg.seed}-replay-{round_index}-{lang}").shuffle(works)
        pool += list(islice(utilisation(works, cfg.seed + round_index, cfg.data.sft_max_lines, keywords),
                            math.ceil(wanted / len(langs))))
    replay = pool[:wanted]
    rows = mix(kept, replay, f"{cfg.seed}-mix-{round_index}")
    return rows, {"prompts": len(samples), "kept": len(kept), "replayed": len(replay),
                  "picks": [[samples[i]["id"], j] for i, j in picks]}


# ---- evaluation -----------------------------------------------------------------------------------

def distinct(texts: list[str], n: int) -> float:
    """Distinct-n: unique character n-grams over all n-grams of the texts (lines not joined)."""
    grams = [gram for text in texts for gram in ngrams(text, n)]
    return round(len(set(grams)) / len(grams), 4) if grams else 0.0


def eval_metrics(records: list[dict], ppl: float) -> dict:
    cands = [c for r in records if "candidates" in r for c in r["candidates"]]
    texts = [c["lyrics"] for c in cands]
    chars = Counter(ch for text in texts for ch in text if ch != "\n")
    best = [r["candidates"][r["best"]]["scores"]["overall"] for r in records if r.get("best") is not None]
    return {
        "prompts": len(records), "candidates": len(cands),
        "scores": {a: round(sum(c["scores"][a] for c in cands) / len(cands), 4) for a in ASPECTS} if cands else {},
        "best_overall": round(sum(best) / len(best), 4) if best else None,
        "distinct_1": distinct(texts, 1), "distinct_2": distinct(texts, 2),
        "repeated_line_rate": round(sum(len(set(t.split("\n"))) < len(t.split("\n")) for t in texts) / len(texts), 4)
        if texts else 0.0,
        "pass_rate": round(sum(c["checks"]["ok"] for c in cands) / len(cands), 4) if cands else 0.0,
        "commonest": [{"char": ch, "share": round(n / chars.total(), 4)} for ch, n in chars.most_common(3)],
        "valid_ppl": round(ppl, 3),
    }


def round_config(cfg: RSConfig, r: int, generator: str, folder: Path) -> GeneratorConfig:
    """The finetune of round ``r``: LoRA sft of ``generator`` on the round's kept samples (``train.jsonl``)."""
    return GeneratorConfig(name=f"{cfg.name}-round{r}", seed=cfg.seed + r, out_dir=str(folder),
                           model=ModelConfig(base=str(generator)),
                           data=dataclasses.replace(cfg.data, examples=str(folder / "train.jsonl")),
                           stages={"sft": cfg.sft}, source=f"{cfg.source} (round {r})")


def sampling_engine(cfg: RSConfig, generator: str) -> Callable | None:
    """Where the training prompts' sampling runs: None (here) or Ray (``engine.kind: ray``)."""
    if cfg.engine.kind != "ray":
        return None
    from .ray_engine import ray_engine  # ray: an optional dependency, imported only when asked for

    return ray_engine(cfg.engine, generator, None, str(cfg.model.scorer or DEFAULT_SCORER))


def validation_ppl(model, tokenizer, cfg: RSConfig) -> float:
    """Perplexity of the generator on the held-out sft exchanges (valid split), as the sft stage measures it."""
    config = GeneratorConfig(name=cfg.name, seed=cfg.seed, stages={"sft": cfg.sft},
                             data=dataclasses.replace(cfg.data, examples=None, max_works=200))
    _, valid = stage_examples(config, "sft", tokenizer, cfg.sft.seq_len)
    return math.exp(evaluate(model, valid, cfg.sft, cfg.seed, pad_id_of(tokenizer), torch.device(model.device)))


# ---- the rounds -----------------------------------------------------------------------------------

def run_rounds(cfg: RSConfig) -> Path:
    """Run (or continue) every round of the config; returns ``report.md``."""
    out_dir = cfg.run_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    scorer = Scorer.load(cfg.model.scorer)
    eval_prompts = make_prompts(cfg, "valid", cfg.prompts.eval)
    train_prompts = make_prompts(cfg, "train", cfg.prompts.train, frozenset(p["topic"] for p in eval_prompts))
    write_json(out_dir / "prompts.json", {"train": train_prompts, "eval": eval_prompts})
    lexicon = build_lexicon(cfg.data.works_dir, cfg.data.langs) if cfg.prompts.expand else None

    generator = str(cfg.model.generator or DEFAULT_MODEL)  # the current model: each round starts from it
    current = 0  # ... and the round that made it (0: the starting generator)
    for r in range(cfg.rounds + 1):
        folder = out_dir / f"round_{r}"
        folder.mkdir(exist_ok=True)
        evaluated = generator
        if r > 0:
            model_dir = folder / "model"
            if not (folder / "metrics.json").is_file() and not model_dir.is_dir():
                if not (folder / "sft" / "final").is_dir():
                    engine = sampling_engine(cfg, generator)  # None: here, with the model loaded now
                    model, tokenizer = load_model(generator, device="cpu") if engine is None else (None, None)
                    sample_prompts(model, tokenizer, scorer, train_prompts, folder / "samples.jsonl", cfg.k,
                                   cfg.seed + 1000 * r, cfg.temperature, lexicon, desc=f"round {r} samples",
                                   repetition_gate=cfg.repetition_gate, engine=engine)
                    del model
                    if not (folder / "train.jsonl").is_file():  # written last: with it, selection.json is there
                        rows, counts = training_data(cfg, read_jsonl(folder / "samples.jsonl"), r,
                                                     load_tables(Path(generator)))
                        if not counts["kept"]:
                            raise ConfigError(f"round {r}: no sample reached the threshold {cfg.threshold}; lower "
                                              "threshold in the config")
                        write_json(folder / "selection.json", counts)
                        write_jsonl(folder / "train.jsonl", rows)
                    train(round_config(cfg, r, generator, folder), "sft", resume=True)
                export_model(generator, str(folder / "sft" / "final"), model_dir)
            evaluated = str(model_dir)
        if not (folder / "metrics.json").is_file():
            model, tokenizer = load_model(evaluated, device="cpu")
            sample_prompts(model, tokenizer, scorer, eval_prompts, folder / "eval.jsonl", cfg.eval_k, cfg.seed,
                           cfg.temperature, lexicon, desc=f"round {r} eval")
            metrics = {"round": r, "generator": evaluated, **eval_metrics(read_jsonl(folder / "eval.jsonl"),
                                                                         validation_ppl(model, tokenizer, cfg))}
            if r > 0:
                metrics["selection"] = {k: v for k, v in json.loads((folder / "selection.json").read_text("utf-8"))
                                        .items() if k != "picks"}
                metrics["promotion"] = decide(cfg, out_dir, current, generator, r, evaluated, metrics)
            if r == 0 and lexicon is not None:  # the same generator without expansion: its effect
                sample_prompts(model, tokenizer, scorer, eval_prompts, folder / "eval_plain.jsonl", cfg.eval_k,
                               cfg.seed, cfg.temperature, None, desc="round 0 eval, no expansion")
                metrics["without_expansion"] = eval_metrics(read_jsonl(folder / "eval_plain.jsonl"),
                                                            metrics["valid_ppl"])
            write_json(folder / "metrics.json", metrics)
            del model
            write_report(cfg)
        decision = json.loads((folder / "metrics.json").read_text("utf-8")).get("promotion")
        if decision is not None and decision["promoted"]:
            generator, current = evaluated, r
    return write_report(cfg)


def decide(cfg: RSConfig, out_dir: Path, current: int, current_model: str, r: int, model: str, metrics: dict) -> dict:
    """Whether round ``r``'s model replaces the current one (``scorer.selection``): the blind comparisons of
    the ratings store when it holds enough of the two, else the bootstrap gate on the held-out prompts."""
    if not cfg.promotion.enabled:
        return {"promoted": True, "by": "off", "reason": "the promotion gate is off: every round's model goes on"}
    store = Path(cfg.promotion.ratings_db) if cfg.promotion.ratings_db else default_ratings_db()
    if store.is_file():
        decision = mos_decision(RatingsStore(store).comparisons(), current_model, model)
        if decision is not None:
            return decision
    round0 = json.loads((out_dir / "round_0" / "metrics.json").read_text("utf-8"))
    return promotion({"records": read_jsonl(out_dir / f"round_{current}" / "eval.jsonl")},
                     {"records": read_jsonl(out_dir / f"round_{r}" / "eval.jsonl"), "metrics": metrics},
                     round0, cfg.promotion) | {"against": f"round {current}"}


def write_report(cfg: RSConfig) -> Path:
    """``report.md`` (a table of every finished round) and ``metrics.png``."""
    rows = [json.loads(p.read_text("utf-8")) for p in sorted(cfg.run_dir.glob("round_*/metrics.json"),
                                                              key=lambda p: int(p.parent.name.split("_")[1]))]
    lines = [f"# Rejection sampling: {cfg.name}", "",
             f"{cfg.prompts.train} training prompts x K = {cfg.k}; threshold {cfg.threshold} (overall, 1-5) after "
             f"the checks' gate, diversity {cfg.diversity} (selection: overall minus it times the bigram overlap "
             f"with samples kept before); replay {cfg.replay} per kept sample; KL anchor "
             f"{cfg.sft.kl_weight}; {cfg.prompts.eval} held-out prompts x "
             f"{cfg.eval_k} for evaluation; query expansion {'on' if cfg.prompts.expand else 'off'}; repetition gate "
             f"{'on' if cfg.repetition_gate else 'off'}.", "",
             "| round | kept | overall | language | relevance | content | best overall | distinct-1 | distinct-2 "
             "| line repeated | commonest characters | checks pass | valid ppl | promoted |", "|" + "---|" * 14]
    for m in rows:
        s, sel = m["scores"], m.get("selection")
        kept = f"{sel['kept']}/{sel['prompts']}" if sel else "-"
        lines.append(f"| {m['round']} | {kept} | {s['overall']:.3f} | {s['language']:.3f} | {s['relevance']:.3f} | "
                     f"{s['content']:.3f} | {m['best_overall'] or 0:.3f} | {m['distinct_1']:.3f} | "
                     f"{m['distinct_2']:.3f} | {m['repeated_line_rate']:.1%} | "
                     + " ".join(f"{c['char']} {c['share']:.1%}" for c in m.get("commonest", []))
                     + f" | {m['pass_rate']:.1%} | {m['valid_ppl']:.2f} | "
                     + ("-" if "promotion" not in m else "yes" if m["promotion"]["promoted"] else "no") + " |")
    current = 0
    decisions = []
    for m in rows[1:]:
        decision = m["promotion"]
        decisions.append(f"- round {m['round']} ({decision['by']}): "
                         + ("promoted" if decision["promoted"] else "not promoted, the current model stays")
                         + f" — {decision['reason']}.")
        current = m["round"] if decision["promoted"] else current
    if decisions:
        lines += ["", "## Promotion", "", *decisions, "",
                  f"**The model after {rows[-1]['round']} rounds: "
                  + (f"round {current}'s, `{rows[current]['generator']}`" if current else
                     f"the starting generator, `{rows[0]['generator']}`") + "**."]
    plain = rows[0].get("without_expansion") if rows else None
    if plain:
        lines += ["", "Query expansion, round 0 (same generator and prompts): "
                  + ", ".join(f"{a} {plain['scores'][a]:.3f} -> {rows[0]['scores'][a]:.3f}"
                              for a in ("relevance", "content", "overall")) + "."]
    report = cfg.run_dir / "report.md"
    write_atomic(report, "\n".join(lines) + "\n")
    if rows:
        plot_rounds(rows, cfg.run_dir / "metrics.png", cfg.name)
    return report


def plot_rounds(rows: list[dict], png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = [m["round"] for m in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    for aspect in ("overall", "language", "relevance", "content"):
        left.plot(rounds, [m["scores"][aspect] for m in rows], "o-", label=aspect)
    left.set(xlabel="round", ylabel="mean score (1-5), held-out prompts", title="scorer")
    for key, label in (("distinct_1", "distinct-1"), ("distinct_2", "distinct-2"), ("pass_rate", "checks pass"),
                       ("repeated_line_rate", "line repeated")):
        right.plot(rounds, [m[key] for m in rows], "o-", label=label)
    right.set(xlabel="round", ylabel="share", title="diversity and checks")
    for ax in (left, right):
        ax.set_xticks(rounds)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, png)
    plt.close(fig)

