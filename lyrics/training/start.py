"""The model and data a training stage starts from (``lyrics.training.generator`` runs the loop)."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import torch

from lyrics.data.assets import tianci_home
from lyrics.data.keywords import KeywordTable, build_keywords, load_tables, save_tables
from lyrics.data.works import read_split, sample_works
from lyrics.training.config import ConfigError, StageConfig
from lyrics.training.generator import encode_example
from lyrics.training.knowledge import memorisation, top_chars, understanding, utilisation, word_readings

QUANTIZATIONS = ("4bit", "8bit")


def _data_dir(config: dict) -> Path:
    return Path(config.get("data", {}).get("dir") or tianci_home() / "data")


def _tokenizer_dir(out_dir: Path) -> Path:
    return out_dir / "tokenizer"


def build_or_load(config: dict, config_path: Path, stage: str, cfg: StageConfig, out_dir: Path,
                  checkpoint: Path | None):
    """(model, tokenizer) ready to train: from a checkpoint when resuming, else the stage's starting
    point (sft: the knowledge stage's result if there is one), LoRA-wrapped when the stage asks."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_cfg = config["model"]
    quantization = model_cfg.get("quantization")
    if quantization is not None:
        if quantization not in QUANTIZATIONS:
            raise ConfigError(f"{config_path}: model.quantization must be one of {', '.join(QUANTIZATIONS)} or null")
        if not torch.cuda.is_available():
            raise ConfigError(f"{config_path}: model.quantization {quantization} needs CUDA and bitsandbytes; "
                              "set it to null to train in full precision on this machine")
    knowledge_final = out_dir / "knowledge" / "final"
    if stage == "sft" and knowledge_final.is_dir():
        start = knowledge_final
    elif model_cfg.get("base"):
        start = model_cfg["base"]
    else:
        start = None
    full_checkpoint = checkpoint is not None and not cfg.lora
    if full_checkpoint:
        start = checkpoint / "model"
    if start is None:
        model, tokenizer = _from_scratch(config, config_path)
        tokenizer.save_pretrained(_tokenizer_dir(out_dir))
    else:
        kwargs = {"trust_remote_code": False, "use_safetensors": True}
        if quantization:
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=quantization == "4bit", load_in_8bit=quantization == "8bit",
                bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_quant_type="nf4")
        try:
            model = AutoModelForCausalLM.from_pretrained(start, **kwargs)
            source = _tokenizer_dir(out_dir) if _tokenizer_dir(out_dir).is_dir() else start
            tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        except OSError as err:
            reason = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
            raise ConfigError(f"{config_path}: cannot load model {str(start)!r} ({reason})") from None
        if not _tokenizer_dir(out_dir).is_dir():
            tokenizer.save_pretrained(_tokenizer_dir(out_dir))
        if quantization:
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model)
    if cfg.lora and not full_checkpoint:
        model = _with_lora(model, cfg.lora, config_path, checkpoint)
    return model, tokenizer


def _from_scratch(config: dict, config_path: Path):
    """A Qwen3 of the configured size with a character tokenizer over the corpus's commonest characters."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from lyrics.data.rhymebook import rhyme_dictionary
    from lyrics.training.chartok import build_char_tokenizer

    model_cfg = config["model"]
    data_cfg = config.get("data", {})
    langs = data_cfg.get("langs", ["cmn", "yue"])
    knowledge_chars = int(data_cfg.get("knowledge_chars", 3000))
    # Every character the knowledge texts and the prompts are written with, then the corpus's commonest
    # characters, taken from the languages in turn until the vocabulary is full.
    chars: dict[str, None] = {}
    for lang in langs:
        texts = [e["text"] for e in memorisation(lang, knowledge_chars)]
        texts += [m["content"] for q in understanding(lang, limit=200) for m in q["messages"]]
        texts += [m["content"] for e in utilisation(itertools.islice(read_split(_data_dir(config), lang, "train"), 200))
                  for m in e["messages"]]
        chars.update(dict.fromkeys(c for text in texts for c in text if not c.isspace()))
    ranked = []
    for lang in langs:
        counts = rhyme_dictionary(lang).counts
        ranked.append(sorted(counts, key=lambda c: -sum(counts[c].values())))
    for row in itertools.zip_longest(*ranked):
        if len(chars) >= int(model_cfg.get("vocab_chars", 6000)):
            break
        chars.update(dict.fromkeys(c for c in row if c))
    tokenizer = build_char_tokenizer(chars)
    try:
        arch = Qwen3Config(vocab_size=len(tokenizer), tie_word_embeddings=True,
                           bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                           pad_token_id=tokenizer.pad_token_id, **model_cfg.get("architecture", {}))
    except TypeError as err:
        raise ConfigError(f"{config_path}: model.architecture: {err}") from None
    return Qwen3ForCausalLM(arch), tokenizer


def _with_lora(model, lora: dict, config_path: Path, checkpoint: Path | None):
    from peft import LoraConfig, PeftModel, get_peft_model

    if checkpoint is not None:
        return PeftModel.from_pretrained(model, checkpoint / "model", is_trainable=True)
    try:
        config = LoraConfig(r=int(lora.get("r", 16)), lora_alpha=int(lora.get("alpha", 32)),
                            lora_dropout=float(lora.get("dropout", 0.05)),
                            target_modules=lora.get("targets") or ["q_proj", "k_proj", "v_proj", "o_proj"],
                            task_type="CAUSAL_LM")
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{config_path}: lora: {err}") from None
    return get_peft_model(model, config)


def _read_examples(path: Path) -> list[dict]:
    import json

    if not path.is_file():
        raise ConfigError(f"data.examples {path}: no such file")
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    if any("messages" not in row and "text" not in row for row in rows):
        raise ConfigError(f"data.examples {path}: every line needs \"messages\" (a chat) or \"text\"")
    return rows


def keyword_tables(config: dict, seed: int, folder: Path) -> dict[str, KeywordTable]:
    """Per language, the keyword tables of the works sft trains on, kept in ``folder/keywords.json`` (built
    once per run; a resumed run reads them back; a base model that has tables passes them on)."""
    tables = load_tables(folder)
    if tables:
        return tables
    base = config["model"].get("base")
    if base and (tables := load_tables(Path(base))):  # a Tianci model's tables stay with its descendants
        save_tables(tables, folder)
        return tables
    data_cfg = config.get("data", {})
    tables = {lang: build_keywords((w.lines for w in sample_works(_data_dir(config), lang, "train",
                                                                 data_cfg.get("max_works"), seed)), lang)
              for lang in data_cfg.get("langs", ["cmn", "yue"])}
    save_tables(tables, folder)
    return tables


def stage_examples(config: dict, stage: str, tokenizer, seq_len: int, seed: int, stage_dir: Path | None = None):
    """(train, valid) encoded examples. knowledge: stage 1-2 texts mixed with corpus text (held-out
    questions and the valid split for evaluation); sft: hinted lyric exchanges of the works (with keyword
    plans when ``data.keywords``; the tables are written to ``stage_dir``), mixed with word-level readings
    and stage-1 texts at ``data.knowledge_mix``, or the exchanges of ``data.examples`` (JSON Lines of
    ``messages``); validated on the works' valid split. Works are sampled balanced across sources."""
    data_cfg = config.get("data", {})
    data_dir = _data_dir(config)
    langs = data_cfg.get("langs", ["cmn", "yue"])
    limit = data_cfg.get("max_works")
    chars = int(data_cfg.get("knowledge_chars", 3000))
    mix = float(data_cfg.get("knowledge_mix", 0.0))
    if not 0 <= mix < 1:
        raise ConfigError(f"data.knowledge_mix must be at least 0 and below 1, not {mix}")
    tables = keyword_tables(config, seed, stage_dir or Path(".")) if stage == "sft" and data_cfg.get("keywords") \
        else None

    def works(lang: str, split: str):
        return sample_works(data_dir, lang, split, limit if split == "train" else None, seed)

    train, valid = [], []
    for lang in langs:
        if stage == "knowledge":
            facts = list(memorisation(lang, chars))
            questions = list(understanding(lang, seed, limit=chars))
            known = facts + [q for q in questions if not q["held_out"]]
            ratio = float(config["stages"]["knowledge"].get("corpus_ratio", 0.5))
            corpus = works(lang, "train")[: int(len(known) * ratio / max(1e-9, 1 - ratio))]
            train += known + [{"text": w.text} for w in corpus]
            valid += [q for q in questions if q["held_out"]] + [{"text": w.text} for w in works(lang, "valid")[:200]]
        else:
            max_lines = data_cfg.get("sft_max_lines")
            if not data_cfg.get("examples"):
                exchanges = list(utilisation(works(lang, "train"), seed, max_lines, tables))
                train += exchanges
                if mix:
                    known = set(top_chars(lang, chars))
                    texts = list(memorisation(lang, chars)) + list(word_readings(lang, known, seed=seed))
                    random.Random(f"{seed}-{lang}-mix").shuffle(texts)
                    want = int(len(exchanges) * mix / (1 - mix))
                    train += [texts[i % len(texts)] for i in range(want)]
            valid += list(utilisation(works(lang, "valid")[:200], seed, max_lines, tables))
    if stage == "sft" and data_cfg.get("examples"):  # given exchanges (rejection sampling's kept samples)
        train = _read_examples(Path(data_cfg["examples"]))
    if not train or not valid:
        raise ConfigError(f"no {stage} data for {', '.join(langs)} under {data_dir}: run `tianci data build`")
    return ([encode_example(tokenizer, e, seq_len) for e in train],
            [encode_example(tokenizer, e, seq_len) for e in valid])
