"""What a generator trains on: the knowledge and sft examples of a config, tokenized, and their batches.

Stage ``knowledge``: step 1-2 texts of ``lyrics.training.knowledge`` mixed with plain corpus text (held-out
questions and the valid split for evaluation). Stage ``sft``: hinted lyric exchanges of the works (with
keyword plans when ``data.keywords``), mixed with word-level readings and step-1 texts at
``data.knowledge_mix``, or the exchanges of ``data.examples``; validated on the works' valid split. Works
are sampled balanced across sources.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from lyrics.data.keywords import KeywordTable, build_keywords, load_tables, save_tables
from lyrics.data.works import sample_works

from .config import ConfigError, GeneratorConfig
from .knowledge import memorisation, top_chars, understanding, utilisation, word_readings
from .loop import indices_at

IGNORE = -100
Encoded = tuple[list[int], list[int]]


def encode_example(tokenizer, example: dict, seq_len: int) -> Encoded:
    """(input ids, labels): plain text is all learned; in a chat only the assistant's answer is."""
    eos = tokenizer.eos_token_id
    if "text" in example:
        ids = [*tokenizer.encode(example["text"], add_special_tokens=False)[:seq_len - 1], eos]
        return ids, list(ids)
    messages = example["messages"]
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True,
                                           enable_thinking=False)
    full = prompt + messages[-1]["content"]
    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    ids = ([*tokenizer.encode(full, add_special_tokens=False), eos])[:seq_len]
    labels = [IGNORE] * min(len(prompt_ids), len(ids)) + ids[len(prompt_ids):]
    return ids, labels


def batch_at(examples: list[Encoded], step: int, batch_size: int, seed: int, pad_id: int, rank: int = 0,
             world: int = 1) -> dict[str, torch.Tensor]:
    """Process ``rank``'s share (every ``world``-th row) of the batch of step ``step``, right-padded."""
    rows = [examples[i] for i in indices_at(len(examples), step, batch_size, seed, rank, world)]
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (ids, labs) in enumerate(rows):
        input_ids[r, : len(ids)] = torch.tensor(ids)
        labels[r, : len(labs)] = torch.tensor(labs)
        attention[r, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention}


def read_examples(path: Path) -> list[dict]:
    if not path.is_file():
        raise ConfigError(f"data.examples {path}: no such file")
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    if any("messages" not in row and "text" not in row for row in rows):
        raise ConfigError(f"data.examples {path}: every line needs \"messages\" (a chat) or \"text\"")
    return rows


def keyword_tables(config: GeneratorConfig, folder: Path) -> dict[str, KeywordTable]:
    """Per language, the keyword tables of the works sft trains on, kept in ``folder/keywords.json`` (built
    once per run; a resumed run reads them back; a base model that has tables passes them on)."""
    tables = load_tables(folder)
    if tables:
        return tables
    base = config.model.base
    # a Tianci model's tables stay with its descendants, unless the run plans from its own data
    if base and not config.data.rebuild_keywords and (tables := load_tables(Path(base))):
        save_tables(tables, folder)
        return tables
    data = config.data
    tables = {lang: build_keywords((w.lines for w in sample_works(data.works_dir, lang, "train", data.max_works,
                                                                 config.seed)), lang)
              for lang in data.langs}
    save_tables(tables, folder)
    return tables


def stage_examples(config: GeneratorConfig, stage: str, tokenizer, seq_len: int,
                   stage_dir: Path | None = None) -> tuple[list[Encoded], list[Encoded]]:
    """(train, valid) encoded examples of ``stage``; keyword tables, when sft uses them, go to ``stage_dir``."""
    data, seed = config.data, config.seed
    tables = keyword_tables(config, stage_dir or Path(".")) if stage == "sft" and data.keywords else None

    def works(lang: str, split: str):
        return sample_works(data.works_dir, lang, split, data.max_works if split == "train" else None, seed)

    train, valid = [], []
    for lang in data.langs:
        if stage == "knowledge":
            facts = list(memorisation(lang, data.knowledge_chars))
            questions = list(understanding(lang, seed, limit=data.knowledge_chars))
            known = facts + [q for q in questions if not q["held_out"]]
            ratio = config.stage("knowledge").corpus_ratio
            corpus = works(lang, "train")[: int(len(known) * ratio / max(1e-9, 1 - ratio))]
            train += known + [{"text": w.text} for w in corpus]
            valid += [q for q in questions if q["held_out"]] + [{"text": w.text} for w in works(lang, "valid")[:200]]
        else:
            if not data.examples:
                exchanges = list(utilisation(works(lang, "train"), seed, data.stanza_lines, tables))
                train += exchanges
                if data.knowledge_mix:
                    known_chars = set(top_chars(lang, data.knowledge_chars))
                    texts = list(memorisation(lang, data.knowledge_chars))
                    texts += list(word_readings(lang, known_chars, seed=seed))
                    random.Random(f"{seed}-{lang}-mix").shuffle(texts)
                    want = int(len(exchanges) * data.knowledge_mix / (1 - data.knowledge_mix))
                    train += [texts[i % len(texts)] for i in range(want)]
            valid += list(utilisation(works(lang, "valid")[:200], seed, data.stanza_lines, tables))
    if stage == "sft" and data.examples:  # given exchanges (rejection sampling's kept samples)
        train = read_examples(Path(data.examples))
    if not train or not valid:
        raise ConfigError(f"no {stage} data for {', '.join(data.langs)} under {data.works_dir}: "
                          "run `tianci data build`")
    return ([encode_example(tokenizer, e, seq_len) for e in train],
            [encode_example(tokenizer, e, seq_len) for e in valid])
