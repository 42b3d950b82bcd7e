"""``tianci scorer train --config configs/scorer_tiny.yaml [--resume]``: train the quality scorer.

Read it top to bottom in :func:`train_scorer`. The data (``out_dir/data/{train,eval}.jsonl``) is built once:
bootstrap pairs from ``scorer.bootstrap`` (works of the train split for training, of the valid split for
evaluation, so no evaluated work is trained on), plus the human ratings of the ratings store (the config's
``data.ratings_db``, else the default store when it exists; a tenth of them, by hash, held out), each rating
an item and every two ratings of one prompt a pair. The bootstrap pairs are the prior; human rows are
repeated to be at least ``human_share`` of the training draws and weigh ``human_weight`` in the loss. Each
step takes ``batch_size`` rows and, with the same forward pass, their sides' ratings:

    loss = Bradley-Terry  -w log sigmoid(r_better - r_worse)   on the aspects the pair is about
         + pointwise_weight * weighted mean((1 + 4 sigmoid(r) - rating) / 4)^2   on every rated aspect

Evaluation: pairwise accuracy of the overall head on held-out real-vs-corrupted pairs (and per kind, and
per aspect on the pairs about it), Spearman between scores and held-out ratings (bootstrap, and human when
there are any). The steps run in the generator's loop (``lyrics.training.loop.train_loop``), so optimizer, clipping,
schedule, checkpoints and resume are the generator's: safetensors and JSON, renamed into place, the batch at step
k a function of (seed, k).
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator

from lyrics.data.keywords import load_tables, save_tables
from lyrics.files import read_jsonl, replacing_dir, write_json, write_jsonl
from lyrics.models import DEFAULT_MODEL, load_model, write_settings
from lyrics.training.config import ConfigError
from lyrics.training.knowledge import is_held_out
from lyrics.training.loop import adamw, indices_at, plot_losses, prepare_run, publish, read_log, train_loop

from .bootstrap import MODEL_KINDS, MODERN, corruption_pairs, model_pairs, sample_stanzas, stitched_pairs
from .config import ScorerConfig
from .features import NO_EVIDENCE_RELEVANCE
from .model import ScorerModel, encode_items, new_scorer, to_scale, to_scores
from .ratings import ASPECTS, RatingsStore, default_ratings_db

STAGE = "scorer"
FEATURES_LR_SCALE = 20.0
BOOTSTRAP_VERSION = 3  # bumped when scorer.bootstrap's pairs change: a run's data built before is rebuilt


# ---- data -----------------------------------------------------------------------------------------

def build_data(config: ScorerConfig, data_dir: Path, tables: dict, progress: bool) -> int:
    """``train.jsonl`` and ``eval.jsonl`` of pairs and rated items, each written whole then renamed; returns how
    many human ratings the store gave."""
    data, seed = config.data, config.seed
    works_dir = data.works_dir
    counts = {"train": data.train_works, "eval": data.eval_works}
    samples = {"train": data.model_samples, "eval": data.eval_model_samples}
    generators = []  # (kind, model and tokenizer): the default's samples, then the earlier defaults'
    if any(samples.values()):
        generators = [("model", load_model(str(config.model.generator or DEFAULT_MODEL), device="cpu"))]
        generators += [("earlier_model", load_model(path, device="cpu")) for path in config.model.earlier_generators]
    human = human_rows(_human_ratings(ratings_db_of(config)))
    data_dir.mkdir(parents=True, exist_ok=True)
    for part, split in (("train", "train"), ("eval", "valid")):
        path = data_dir / f"{part}.jsonl"
        if path.is_file():
            continue
        rows: list[dict] = []
        for lang in data.langs:
            works = sample_stanzas(works_dir, lang, split, counts[part], data.stanza_lines, seed, data.modern_share)
            if not works:
                raise ConfigError(f"no {lang} {split} works under {works_dir}: run `tianci data build`")
            rows += corruption_pairs(works, seed, tables)
            if data.stitched:  # the classical memory is of train works, for the held-out works too
                train = works if split == "train" else sample_stanzas(works_dir, lang, "train", data.train_works,
                                                                      data.stanza_lines, seed, data.modern_share)
                rows += stitched_pairs(works, [w for w in train if w.source != MODERN], seed)
            for k, (kind, generator) in enumerate(generators):  # each generator answers other works
                chosen = works[k * samples[part]: (k + 1) * samples[part]]
                # the default's every candidate (the pipeline picks among them); an earlier default's one sample
                n = data.model_candidates if kind == "model" else 1
                rows += model_pairs(chosen, *generator, seed, progress, kind=kind, candidates=n)
        rated = [row for row in human if is_held_out(_rated_text(row)) == (part == "eval")]
        if part == "train" and rated:  # the bootstrap pairs are a prior; ratings are drawn often enough to move it
            copies = max(1, math.ceil(config.human_share * len(rows) / ((1 - config.human_share) * len(rated))))
            rated = rated * copies
        rows += rated
        random.Random(f"{seed}-{part}").shuffle(rows)
        write_jsonl(path, rows)
    return len([row for row in human if row["kind"] == "human"])


def ratings_stamp(db: Path | None) -> dict | None:
    """What the recipe records of the ratings store: its path and how many ratings it holds (new ratings
    rebuild the data)."""
    if db is None or not db.is_file():
        return None
    return {"path": str(db), "ratings": len(RatingsStore(db).ratings())}


def _rated_text(row: dict) -> str:
    return (row.get("item") or row["better"])["lyrics"]


def ratings_db_of(config: ScorerConfig) -> Path | None:
    """The ratings store to train on: the config's, else the default store when it exists."""
    if config.data.ratings_db:
        return Path(config.data.ratings_db)
    default = default_ratings_db()
    return default if default.is_file() else None


def human_rows(items: list[dict]) -> list[dict]:
    """Rated items, plus a ``human`` pair for every two ratings of one prompt whose overall ratings differ
    (the pairwise loss, on every aspect the two ratings order the same way as overall)."""
    rows: list[dict] = list(items)
    by_prompt: dict[str, list[dict]] = {}
    for row in items:
        by_prompt.setdefault(json.dumps(row["item"]["prompt"], sort_keys=True, ensure_ascii=False), []).append(row)
    for group in by_prompt.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                ra, rb = a["item"]["ratings"], b["item"]["ratings"]
                if ra["overall"] == rb["overall"] or a["item"]["lyrics"] == b["item"]["lyrics"]:
                    continue
                better, worse = (a, b) if ra["overall"] > rb["overall"] else (b, a)
                rbetter, rworse = better["item"]["ratings"], worse["item"]["ratings"]
                aspects = [x for x in ASPECTS if rbetter.get(x) is not None and rworse.get(x) is not None
                           and rbetter[x] > rworse[x]]
                rows.append({"kind": "human_pair", "aspects": aspects, "better": better["item"],
                             "worse": worse["item"]})
    return rows


def _same_recipe(data_dir: Path, recipe: dict) -> bool:
    path = data_dir / "recipe.json"
    return path.is_file() and json.loads(path.read_text("utf-8")) == json.loads(json.dumps(recipe))


def _human_ratings(db: Path | None) -> list[dict]:
    """Rated items of the ratings store: a prompt stored as JSON is read as one, else taken as the topic."""
    if not db:
        return []
    if not db.is_file():
        raise ConfigError(f"data.ratings_db {db}: no such file")
    items = []
    for row in RatingsStore(db).ratings():
        try:
            prompt = json.loads(row["prompt"])
        except (json.JSONDecodeError, TypeError):
            prompt = None
        if not isinstance(prompt, dict):
            prompt = {"topic": str(row["prompt"])}
        items.append({"kind": "human", "item": {"prompt": prompt, "lyrics": row["lyrics"],
                                                 "ratings": {a: row[a] for a in ASPECTS}}})
    return items


def sides(row: dict) -> list[dict]:
    """The scored items of a row: both sides of a pair, or the one rated item."""
    return [row["better"], row["worse"]] if "better" in row else [row["item"]]


def rating_tensor(items: list[dict]) -> torch.Tensor:
    """(items, aspects) ratings, NaN where an aspect is not rated."""
    return torch.tensor([[math.nan if it["ratings"].get(a) is None else float(it["ratings"][a]) for a in ASPECTS]
                         for it in items])


# ---- loss and evaluation --------------------------------------------------------------------------

def encode_rows(tokenizer, items: list[dict], seq_len: int, tables: dict) -> dict[str, torch.Tensor]:
    return encode_items(tokenizer, [(it["prompt"], it["lyrics"]) for it in items], seq_len, tables)


def batch_loss(model, tokenizer, rows: list[dict], seq_len: int, pointwise_weight: float, human_weight: float,
               device: torch.device, tables: dict) -> tuple[torch.Tensor, dict[str, float]]:
    items = [it for row in rows for it in sides(row)]
    logits = model(**{k: v.to(device) for k, v in encode_rows(tokenizer, items, seq_len, tables).items()})
    # Bradley-Terry on the aspects each pair is about.
    pair_terms, offset = [], 0
    for row in rows:
        if "better" in row:
            aspects = [ASPECTS.index(a) for a in row["aspects"]]
            weight = human_weight if row["kind"].startswith("human") else 1.0
            pair_terms.append(-weight * F.logsigmoid(logits[offset, aspects] - logits[offset + 1, aspects]))
            offset += 2
        else:
            offset += 1
    bt = torch.cat(pair_terms).mean() if pair_terms else logits.new_zeros(())
    # Pointwise on the 1-5 scale, where rated.
    target = rating_tensor(items).to(device)
    rated = ~torch.isnan(target)
    weights = torch.tensor([human_weight if row["kind"].startswith("human") else 1.0 for row in rows
                            for _ in sides(row)], device=device)[:, None].expand_as(target)
    squared = ((to_scale(logits) - target.nan_to_num()) / 4) ** 2
    point = (squared * weights)[rated].sum() / weights[rated].sum() if rated.any() else logits.new_zeros(())
    return bt + pointwise_weight * point, {"bt": bt.item(), "pointwise": point.item()}


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation, ties given their mean rank."""
    def ranks(values: list[float]) -> torch.Tensor:
        t = torch.tensor(values, dtype=torch.float64)
        order = t.argsort()
        r = torch.empty_like(t)
        r[order] = torch.arange(len(t), dtype=torch.float64)
        for v in t.unique():  # average ranks of ties
            same = t == v
            r[same] = r[same].mean()
        return r

    if len(x) < 3:
        return math.nan
    a, b = ranks(x), ranks(y)
    a, b = a - a.mean(), b - b.mean()
    denom = (a.norm() * b.norm()).item()
    return (a @ b).item() / denom if denom else math.nan


@torch.no_grad()
def evaluate(model, tokenizer, rows: list[dict], seq_len: int, device: torch.device, tables: dict,
             batch_size: int = 64, relevance_cap: float | None = NO_EVIDENCE_RELEVANCE) -> dict:
    """Pairwise accuracy (overall head: all pairs, real-vs-corrupted, per kind; each aspect's head on the pairs
    about it) and Spearman between scores and held-out ratings."""
    model.eval()
    items = [it for row in rows for it in sides(row)]
    kinds = [row["kind"] for row in rows for _ in sides(row)]
    scores = []
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        batch = encode_rows(tokenizer, chunk, seq_len, tables)
        scores.append(to_scores(model(**{k: v.to(device) for k, v in batch.items()}), batch["features"],
                                relevance_cap).cpu())
    model.train()
    scores_t = torch.cat(scores) if scores else torch.empty(0, len(ASPECTS))
    wins: dict[str, list[bool]] = {}
    offset = 0
    real_vs_corrupted: list[bool] = []
    for row in rows:
        if "better" not in row:
            offset += 1
            continue
        better, worse = scores_t[offset], scores_t[offset + 1]
        offset += 2
        win = bool(better[0] > worse[0])
        wins.setdefault(row["kind"], []).append(win)
        if row["better"]["ratings"]["overall"] == 5.0 and row["kind"] not in MODEL_KINDS:
            real_vs_corrupted.append(win)
        for a in row["aspects"]:
            i = ASPECTS.index(a)
            wins.setdefault(f"aspect:{a}", []).append(bool(better[i] > worse[i]))
    result: dict = {"pairwise_accuracy": _mean([w for k, v in wins.items() if not k.startswith("aspect:") for w in v]),
                    "real_vs_corrupted_accuracy": _mean(real_vs_corrupted),
                    "by_kind": {k: _mean(v) for k, v in sorted(wins.items()) if not k.startswith("aspect:")},
                    "by_aspect": {k.split(":")[1]: _mean(v) for k, v in sorted(wins.items())
                                  if k.startswith("aspect:")},
                    "pairs": sum(len(v) for k, v in wins.items() if not k.startswith("aspect:"))}
    for source in ("bootstrap", "human"):
        chosen = [j for j, it in enumerate(items) if kinds[j].startswith("human") == (source == "human")]
        per_aspect = {}
        for i, a in enumerate(ASPECTS):
            pairs = [(scores_t[j, i].item(), items[j]["ratings"][a]) for j in chosen
                     if items[j]["ratings"].get(a) is not None]
            if len(pairs) >= 3:
                per_aspect[a] = round(spearman(*map(list, zip(*pairs, strict=True))), 4)
        if per_aspect:
            result[f"spearman_{source}"] = per_aspect
    return result


def _mean(values: list[bool]) -> float:
    return round(sum(values) / len(values), 4) if values else math.nan


# ---- training ------------------------------------------------------------------------------------

def train_scorer(config: ScorerConfig, resume: bool = False, progress: bool = True) -> Path:
    """Train the scorer a config describes; returns its ``final`` folder (weights, tokenizer, eval.json)."""
    from transformers import AutoTokenizer  # heavy: only when a scorer trains

    cfg, seed, run = config.stage("scorer"), config.seed, config.run_dir
    ratings_db = ratings_db_of(config)
    recipe = {"seed": seed, "data": dataclasses.asdict(config.data), "generator": config.model.generator,
              "earlier_generators": list(config.model.earlier_generators),
              "bootstrap": BOOTSTRAP_VERSION, "human_share": config.human_share,
              "ratings": ratings_stamp(ratings_db)}
    # a fresh run keeps the data an older run built by the same recipe (it takes minutes)
    checkpoint = prepare_run(run, resume, keep=lambda path: path.name == "data" and _same_recipe(path, recipe))
    torch.manual_seed(seed)

    if checkpoint is not None:
        model = ScorerModel.from_pretrained(checkpoint / "model")
        tokenizer = AutoTokenizer.from_pretrained(run / "tokenizer")
    else:
        base = config.model.base or DEFAULT_MODEL
        model, tokenizer = new_scorer(base, config.model.reader)
        with replacing_dir(run / "tokenizer") as tmp:  # whole or not at all: a resume reads it
            tokenizer.save_pretrained(tmp)
            save_tables(load_tables(Path(base)), tmp)  # topic evidence reads the backbone's plans
    tables = load_tables(run / "tokenizer")
    build_data(config, run / "data", tables, progress)
    write_json(run / "data" / "recipe.json", recipe)
    train_rows, eval_rows = read_jsonl(run / "data" / "train.jsonl"), read_jsonl(run / "data" / "eval.jsonl")
    # the generator's samples are few (each is a decode) and the hardest negatives: drawn model_repeat times as often
    train_rows += [row for row in train_rows if row["kind"] in MODEL_KINDS] * (config.model_repeat - 1)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())  # one process: the scorer is small
    device, bf16 = accelerator.device, cfg.precision == "bf16"
    features = list(model.features.parameters())
    others = [p for p in model.parameters() if p.requires_grad and all(p is not f for f in features)]
    # a dozen weights a head, from zero: a faster rate, or they barely move in a short run
    optimizer = adamw([{"params": others, "lr_scale": 1.0},
                       {"params": features, "lr_scale": FEATURES_LR_SCALE, "weight_decay": 0.0}], cfg)

    def step_fn(model, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        rows = [train_rows[i] for i in indices_at(len(train_rows), step, cfg.batch_size, seed)]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss, parts = batch_loss(model, tokenizer, rows, cfg.seq_len, config.pointwise_weight,
                                     config.human_weight, device, tables)
        accelerator.backward(loss)
        return loss.detach(), parts

    def eval_fn(model) -> dict:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            metrics = evaluate(model, tokenizer, eval_rows, cfg.seq_len, device, tables,
                               relevance_cap=config.relevance_cap)
        return {"eval_loss": round(1 - metrics["pairwise_accuracy"], 5), "eval": metrics}

    model = train_loop(model, optimizer, cfg, run, seed=seed, checkpoint=checkpoint, accelerator=accelerator,
                       step_fn=step_fn, eval_fn=eval_fn, desc=f"{config.name}/{STAGE}", progress=progress)
    model = accelerator.unwrap_model(model)

    evals = [r for r in read_log(run / "log.jsonl") if "eval" in r]

    def write(folder: Path) -> None:
        model.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        write_json(folder / "eval.json", {"step": evals[-1]["step"], **evals[-1]["eval"]})
        write_settings(folder, scorer=True, seq_len=cfg.seq_len, relevance_cap=config.relevance_cap)
        save_tables(tables, folder)

    final = publish(run, write)
    plot_losses(run / "log.jsonl", run / "loss.png", f"{config.name} · loss (eval: 1 - pairwise accuracy)")
    accelerator.end_training()
    return final
