"""The path a GPU user takes, end to end on CPU: a "pretrained" base (a random-weight Qwen3 saved with the real
Qwen3 tokenizer, its byte-level BPE and chat template) → knowledge stage (LoRA) → sft stage (LoRA) → export →
hinted generation → a scorer on that backbone → one rejection-sampling round → batch; and zero-shot use of the
base without Tianci training."""

import json

import pytest
import yaml

from lyrics.data.works import read_split
from lyrics.decoding.prompt import build_prompt, spec_hints
from lyrics.decoding.spec import LyricSpec
from lyrics.generation import Decoder
from lyrics.models import load_model
from lyrics.training.config import GeneratorConfig, from_mapping
from lyrics.training.examples import encode_example
from lyrics.training.generator import train
from lyrics.training.knowledge import utilisation
from pipeline.config import RSConfig
from pipeline.rs.rounds import run_rounds
from scorer.config import ScorerConfig
from scorer.model import Scorer
from scorer.train import train_scorer

from .conftest import run_cli, tiny_qwen3

LORA = {"r": 4, "alpha": 8, "dropout": 0.0}
STAGE = {"steps": 2, "batch_size": 2, "seq_len": 256, "lr": 1e-3, "eval_every": 2, "save_every": 10, "log_every": 1,
         "eval_batches": 1, "lora": LORA}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, qwen_tokenizer):
    folder = tmp_path_factory.mktemp("qwen3-pretrained")
    tiny_qwen3(len(qwen_tokenizer), seed=1).save_pretrained(folder, safe_serialization=True)
    qwen_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def exported(tmp_path_factory, pretrained, data_dir):
    """knowledge (LoRA, merged at its end) → sft (LoRA) → `tianci export`."""
    folder = tmp_path_factory.mktemp("pretrained-run")
    raw = {"name": "qwen-tiny", "seed": 0, "out_dir": str(folder / "run"), "model": {"base": str(pretrained)},
           "data": {"dir": str(data_dir), "max_works": 30, "knowledge_chars": 40, "stanza_lines": 4},
           "stages": {"knowledge": STAGE, "sft": {**STAGE, "grad_accum": 2, "gradient_checkpointing": True}}}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    config = from_mapping(GeneratorConfig, raw)
    knowledge = train(config, "knowledge", progress=False)
    assert (knowledge / "model.safetensors").is_file() and not (knowledge / "adapter_config.json").exists()
    sft = train(config, "sft", progress=False)
    assert (sft / "adapter_config.json").is_file()  # LoRA on the knowledge stage's merged weights
    out = run_cli("export", "--config", str(path), "--out", str(folder / "model"))
    assert out.returncode == 0, out.stderr
    return folder / "model", config


def test_hint_lines_tokenize_in_training_as_the_decoder_forces_them(exported, data_dir):
    model_dir, config = exported
    model, tokenizer = load_model(str(model_dir), device="cpu")
    assert model.config.tianci_hints and tokenizer.chat_template  # the base's BPE and chat template kept
    works = list(read_split(data_dir, "cmn", "train"))[:20]
    for example in list(utilisation(works, 0, config.data.stanza_lines))[:10]:
        ids, _ = encode_example(tokenizer, example, 1024)
        answer = example["messages"][-1]["content"].split("\n")
        spec_lines = answer[0::2]  # the hint lines, each before its lyric line
        for hint_line in spec_lines:
            forced = tokenizer.encode(hint_line + "\n", add_special_tokens=False)
            assert any(ids[i:i + len(forced)] == forced for i in range(len(ids))), hint_line
    decoder = Decoder(None, tokenizer)
    spec = decoder.pin_rhymes(LyricSpec.from_dict({"lang": "cmn", "topic": "月光", "structure": "7A 7A 7B 7A"}), 0)
    constraint = decoder.compile(spec, hints=True)
    assert constraint.hints == [tokenizer.encode(h + "\n", add_special_tokens=False) for h in spec_hints(spec)]


def test_generate_with_hints_then_score_then_one_rs_round_then_batch(exported, data_dir, tmp_path):
    model_dir, _ = exported
    out = run_cli("generate", "--model", str(model_dir), "--topic", "月光", "--structure", "5A 5A 5B 5A", "-n", "2",
                  "--seed", "1", "--json")
    assert out.returncode == 0, out.stderr
    assert all(c["checks"]["ok"] for c in json.loads(out.stdout)["candidates"])

    scorer_config = from_mapping(ScorerConfig, {
        "name": "scorer", "seed": 0, "out_dir": str(tmp_path / "scorer"),
        "model": {"base": str(model_dir), "generator": str(model_dir)},
        "data": {"dir": str(data_dir), "train_works": 8, "eval_works": 4, "model_samples": 1, "eval_model_samples": 1},
        "stages": {"scorer": {"steps": 2, "batch_size": 2, "seq_len": 128, "lr": 1e-3, "eval_every": 2,
                              "save_every": 10, "log_every": 1}}})
    scorer_dir = train_scorer(scorer_config, progress=False)
    scorer = Scorer.load(scorer_dir, device="cpu")
    assert scorer.model.config.vocab_size == len(scorer.tokenizer) > 150_000  # the Qwen backbone

    rs_config = from_mapping(RSConfig, {
        "name": "rs", "seed": 0, "out_dir": str(tmp_path / "rs"),
        "model": {"generator": str(model_dir), "scorer": str(scorer_dir)},
        "data": {"dir": str(data_dir), "stanza_lines": 4},
        "prompts": {"train": 2, "eval": 2, "structures": ["5A 5A"]}, "rounds": 1, "k": 2, "eval_k": 1,
        "threshold": 1.0, "stages": {"sft": STAGE}})
    report = run_rounds(rs_config)
    metrics = json.loads((tmp_path / "rs" / "round_1" / "metrics.json").read_text("utf-8"))
    assert report.is_file() and metrics["generator"].endswith("round_1/model") and metrics["pass_rate"] == 1.0

    specs = tmp_path / "specs.jsonl"
    specs.write_text(json.dumps({"id": "a", "lang": "yue", "topic": "海港", "structure": "5A 5A"},
                                ensure_ascii=False) + "\n", encoding="utf-8")
    out = run_cli("batch", str(specs), str(tmp_path / "out.jsonl"), "--model", str(tmp_path / "rs" / "round_1" /
                  "model"), "--scorer", str(scorer_dir), "-n", "2", "--seed", "0")
    assert out.returncode == 0, out.stderr
    [row] = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]
    assert row["id"] == "a" and all(c["checks"]["ok"] and set(c["scores"]) >= {"overall"} for c in row["candidates"])


def test_zero_shot_an_instruct_folder_writes_through_its_chat_template(pretrained, qwen_tokenizer):
    """No tianci.json: no hints; the prompt is the tokenizer's chat template; every check still holds."""
    spec = LyricSpec.from_dict({"lang": "cmn", "topic": "月光", "structure": "5A 5A"})
    assert build_prompt(spec, qwen_tokenizer).startswith("<|im_start|>user\n")
    out = run_cli("generate", "--model", str(pretrained), "--topic", "月光", "--structure", "5A 5A", "-n", "2",
                  "--seed", "3", "--json")
    assert out.returncode == 0, out.stderr
    candidates = json.loads(out.stdout)["candidates"]
    assert len(candidates) == 2 and all(c["checks"]["ok"] for c in candidates)
    assert all("〔" not in c["lyrics"] for c in candidates)
