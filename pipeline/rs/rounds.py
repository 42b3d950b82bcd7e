"""The rounds: sample, select, finetune, evaluate, promote or not; every step resumable (see ``pipeline.rs``)."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Callable
from itertools import islice
from pathlib import Path

from lyrics.data.expansion import build_imagery_tables
from lyrics.data.keywords import load_tables
from lyrics.data.works import read_split
from lyrics.decoding.prompt import exchange
from lyrics.files import read_jsonl, write_json, write_jsonl
from lyrics.models import DEFAULT_MODEL, export_model, load_model
from lyrics.training.config import ConfigError, GeneratorConfig, ModelConfig
from lyrics.training.generator import train
from lyrics.training.knowledge import utilisation
from scorer.model import DEFAULT_SCORER, Scorer
from scorer.ratings import RatingsStore, default_ratings_db

from ..config import RSConfig
from ..writer import Writer
from .metrics import eval_metrics, validation_ppl
from .report import write_report
from .sampling import make_prompts, sample_prompts, sample_spec
from .selection import mix, mos_decision, promotion, select_samples


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
        pool += list(islice(utilisation(works, cfg.seed + round_index, cfg.data.stanza_lines, keywords),
                            math.ceil(wanted / len(langs))))
    replay = pool[:wanted]
    rows = mix(kept, replay, f"{cfg.seed}-mix-{round_index}")
    return rows, {"prompts": len(samples), "kept": len(kept), "replayed": len(replay),
                  "picks": [[samples[i]["id"], j] for i, j in picks]}


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
    from ..ray_engine import ray_engine  # ray: an optional dependency, imported only when asked for

    return ray_engine(cfg.engine, generator, None, str(cfg.model.scorer or DEFAULT_SCORER))


def sampling_writer(cfg: RSConfig, generator: str, scorer: Scorer) -> Writer:
    """The Writer of the training prompts' sampling here: Hugging Face on CPU, or a vLLM engine
    (``engine.kind: vllm``; the held-out evaluation stays on Hugging Face, which also gives its perplexity)."""
    if cfg.engine.kind == "vllm":
        from lyrics.vllm_decoder import VllmDecoder  # vllm: only in the .venv-vllm venv

        decoder = VllmDecoder.load(generator)
        return Writer(None, decoder.tokenizer, scorer, decoder=decoder)
    return Writer(*load_model(generator, device="cpu"), scorer)


def run_rounds(cfg: RSConfig) -> Path:
    """Run (or continue) every round of the config; returns ``report.md``."""
    out_dir = cfg.run_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    scorer = Scorer.load(cfg.model.scorer)
    eval_prompts = make_prompts(cfg, "valid", cfg.prompts.eval)
    train_prompts = make_prompts(cfg, "train", cfg.prompts.train, frozenset(p["topic"] for p in eval_prompts))
    write_json(out_dir / "prompts.json", {"train": train_prompts, "eval": eval_prompts})
    imagery_tables = build_imagery_tables(cfg.data.works_dir, cfg.data.langs) if cfg.prompts.expand else None

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
                    writer = sampling_writer(cfg, generator, scorer) if engine is None else None
                    sample_prompts(writer, train_prompts, folder / "samples.jsonl", cfg.k,
                                   cfg.seed + 1000 * r, cfg.temperature, imagery_tables, desc=f"round {r} samples",
                                   repetition_gate=cfg.repetition_gate, engine=engine)
                    if writer is not None:
                        writer.close()  # a vLLM engine's memory back before training
                    del writer
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
            writer = Writer(*load_model(evaluated, device="cpu"), scorer)
            sample_prompts(writer, eval_prompts, folder / "eval.jsonl", cfg.eval_k, cfg.seed,
                           cfg.temperature, imagery_tables, desc=f"round {r} eval")
            ppl = validation_ppl(writer.model, writer.tokenizer, cfg)
            metrics = {"round": r, "generator": evaluated, **eval_metrics(read_jsonl(folder / "eval.jsonl"), ppl)}
            if r > 0:
                metrics["selection"] = {k: v for k, v in json.loads((folder / "selection.json").read_text("utf-8"))
                                        .items() if k != "picks"}
                metrics["promotion"] = decide(cfg, out_dir, current, generator, r, evaluated, metrics)
            if r == 0 and imagery_tables is not None:  # the same generator without expansion: its effect
                sample_prompts(writer, eval_prompts, folder / "eval_plain.jsonl", cfg.eval_k,
                               cfg.seed, cfg.temperature, None, desc="round 0 eval, no expansion")
                metrics["without_expansion"] = eval_metrics(read_jsonl(folder / "eval_plain.jsonl"),
                                                            metrics["valid_ppl"])
            write_json(folder / "metrics.json", metrics)
            del writer
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
