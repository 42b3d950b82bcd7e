"""The model a training stage starts from: a checkpoint when resuming, else the stage's starting point (sft:
the knowledge stage's result when there is one; else ``model.base``; else a Qwen3 from scratch with a
character tokenizer), LoRA-wrapped when the stage asks."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import torch

from lyrics.data.rhymebook import rhyme_dictionary
from lyrics.data.works import read_split
from lyrics.files import replacing_dir
from lyrics.modern.briefs import DATA as MODERN_DATA

from .chartok import build_char_tokenizer
from .config import ConfigError, GeneratorConfig, LoraConfig, StageConfig
from .knowledge import memorisation, understanding, utilisation


def tokenizer_dir(run: Path) -> Path:
    """Where a run keeps its tokenizer, so every stage and every resume reads the same one."""
    return run / "tokenizer"


def save_tokenizer(tokenizer, folder: Path) -> None:
    """Write the run's tokenizer whole or not at all: a kill mid-write must not leave a folder that a resume
    would take for a tokenizer."""
    with replacing_dir(folder) as tmp:
        tokenizer.save_pretrained(tmp)


def build_or_load(config: GeneratorConfig, stage: str, cfg: StageConfig, checkpoint: Path | None):
    """(model, tokenizer) ready to train ``stage``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy: only when a model is built

    run, quantization = config.run_dir, config.model.quantization
    if quantization is not None and not torch.cuda.is_available():
        raise ConfigError(f"{config.source}: model.quantization {quantization} needs CUDA and bitsandbytes; "
                          "set it to null to train in full precision on this machine")
    knowledge_final = run / "knowledge" / "final"
    start = knowledge_final if stage == "sft" and knowledge_final.is_dir() else config.model.base
    full_checkpoint = checkpoint is not None and not cfg.lora
    if full_checkpoint:
        start = checkpoint / "model"
    if start is None:
        model, tokenizer = from_scratch(config)
        save_tokenizer(tokenizer, tokenizer_dir(run))
    else:
        kwargs = {"trust_remote_code": False, "use_safetensors": True}
        if quantization:
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=quantization == "4bit", load_in_8bit=quantization == "8bit",
                bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_quant_type="nf4")
        try:
            model = AutoModelForCausalLM.from_pretrained(start, **kwargs)
            source = tokenizer_dir(run) if tokenizer_dir(run).is_dir() else start
            tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        except OSError as err:
            reason = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
            raise ConfigError(f"{config.source}: cannot load model {str(start)!r} ({reason})") from None
        if config.model.extend_vocab and not tokenizer_dir(run).is_dir():
            tokenizer = extended_char_tokenizer(tokenizer, data_chars(config))
        if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
            model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
            model.config.vocab_size = len(tokenizer)
        if not tokenizer_dir(run).is_dir():
            save_tokenizer(tokenizer, tokenizer_dir(run))
        if quantization:
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model)
    if cfg.lora and not full_checkpoint:
        model = with_lora(model, cfg.lora, checkpoint)
    return model, tokenizer


def data_chars(config: GeneratorConfig) -> list[str]:
    """The characters of the modern corpus's training songs and the common-character lists, commonest first:
    what a lyric model of everyday language must be able to write."""
    counts: Counter[str] = Counter()
    for lang in config.data.langs:
        for record in read_split(config.data.works_dir, lang, "train"):
            if record.source == "modern":
                counts.update(c for line in record.lines for c in line)
    ranked = [c for c, _ in counts.most_common()]
    for lang in config.data.langs:
        ranked += (MODERN_DATA / f"common_chars_{lang}.txt").read_text("utf-8").split()
    return list(dict.fromkeys(ranked))


def extended_char_tokenizer(tokenizer, chars: list[str]):
    """A character tokenizer keeping every id of ``tokenizer`` and adding the ``chars`` it lacks after them."""
    vocab = tokenizer.get_vocab()
    if any(len(token) > 1 and token not in tokenizer.all_special_tokens for token in vocab):
        raise ConfigError("model.extend_vocab needs a character-level base (a Tianci model), not a BPE tokenizer")
    old = sorted(vocab, key=vocab.get)
    extended = build_char_tokenizer([*old, *(c for c in chars if c not in vocab)])
    assert all(extended.get_vocab()[token] == i for token, i in vocab.items()), "ids must not move"
    return extended


def from_scratch(config: GeneratorConfig):
    """A Qwen3 of the configured size with a character tokenizer over the corpus's commonest characters."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    data = config.data
    # Every character the knowledge texts and the prompts are written with, then the corpus's commonest
    # characters, taken from the languages in turn until the vocabulary is full.
    chars: dict[str, None] = {}
    for lang in data.langs:
        texts = [e["text"] for e in memorisation(lang, data.knowledge_chars)]
        texts += [m["content"] for q in understanding(lang, limit=200) for m in q["messages"]]
        texts += [m["content"] for e in utilisation(itertools.islice(read_split(data.works_dir, lang, "train"), 200))
                  for m in e["messages"]]
        chars.update(dict.fromkeys(c for text in texts for c in text if not c.isspace()))
    chars.update(dict.fromkeys(data_chars(config)[: config.model.vocab_chars // 2]))  # modern words first
    ranked = []
    for lang in data.langs:
        counts = rhyme_dictionary(lang).counts
        ranked.append(sorted(counts, key=lambda c: -sum(counts[c].values())))
    for row in itertools.zip_longest(*ranked):
        if len(chars) >= config.model.vocab_chars:
            break
        chars.update(dict.fromkeys(c for c in row if c))
    tokenizer = build_char_tokenizer(chars)
    try:
        arch = Qwen3Config(vocab_size=len(tokenizer), tie_word_embeddings=True,
                           bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                           pad_token_id=tokenizer.pad_token_id, **config.model.architecture)
    except TypeError as err:
        raise ConfigError(f"{config.source}: model.architecture: {err}") from None
    return Qwen3ForCausalLM(arch), tokenizer


def with_lora(model, lora: LoraConfig, checkpoint: Path | None):
    from peft import LoraConfig as PeftLoraConfig
    from peft import PeftModel, get_peft_model

    if checkpoint is not None:
        return PeftModel.from_pretrained(model, checkpoint / "model", is_trainable=True)
    return get_peft_model(model, PeftLoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                                target_modules=list(lora.targets), task_type="CAUSAL_LM"))
