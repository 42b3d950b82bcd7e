"""Rejection sampling: a tiny run of 2 rounds with K = 2, killed in the middle of round 1 and resumed."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from transformers import AutoTokenizer

from lyrics.data.expansion import build_imagery_tables, expand_topic
from pipeline.rs.metrics import distinct, eval_metrics
from pipeline.rs.selection import select_samples
from scorer.model import new_scorer

from .conftest import ROOT, run_cli


def rs_config(folder, data_dir, generator_dir, scorer_dir, **extra):
    config = {
        "name": "rs", "seed": 0, "out_dir": str(folder / "run"),
        "model": {"generator": str(generator_dir), "scorer": str(scorer_dir)},
        "data": {"dir": str(data_dir), "langs": ["cmn", "yue"], "stanza_lines": 8},
        "prompts": {"train": 6, "eval": 2, "structures": ["5A 5A", "4 4A 4"]},
        "rounds": 2, "k": 2, "eval_k": 2, "threshold": 1.0,
        "stages": {"sft": {"steps": 2, "batch_size": 2, "seq_len": 256, "lr": 1e-3, "eval_every": 2,
                           "save_every": 1, "log_every": 1, "eval_batches": 1,
                           "lora": {"r": 4, "alpha": 8, "dropout": 0.0}}},
        **extra,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rs.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def lines_of(path):
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_two_rounds_resume_after_a_kill_without_loss_or_duplicates(tmp_path, data_dir, char_generator_dir):
    scorer_dir = tmp_path / "scorer"
    model, tokenizer = new_scorer(char_generator_dir)  # untrained heads: any scorer serves the loop
    model.save_pretrained(scorer_dir, safe_serialization=True)
    tokenizer.save_pretrained(scorer_dir)
    config = rs_config(tmp_path, data_dir, char_generator_dir, scorer_dir)
    run = tmp_path / "run"

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tianci.cli", "rs", "--config", str(config)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples = run / "round_1" / "samples.jsonl"
    deadline = time.time() + 240
    while not (samples.is_file() and samples.read_text("utf-8").strip()) and proc.poll() is None:
        assert time.time() < deadline, "round 1 wrote no samples"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "round_2").exists()
    with samples.open("a", encoding="utf-8") as handle:  # as if killed in the middle of writing a line
        handle.write('{"id": "train-cmn-2", "prompt": {"lang"')

    result = run_cli("rs", "--config", str(config))
    assert result.returncode == 0, result.stderr[-2000:]
    prompts = json.loads((run / "prompts.json").read_text("utf-8"))
    train_ids = sorted(p["id"] for p in prompts["train"])
    eval_ids = sorted(p["id"] for p in prompts["eval"])
    assert len(train_ids) == 6 and len(eval_ids) == 2
    assert not {p["topic"] for p in prompts["train"]} & {p["topic"] for p in prompts["eval"]}
    for r in (1, 2):
        folder = run / f"round_{r}"
        records = lines_of(folder / "samples.jsonl")
        assert sorted(x["id"] for x in records) == train_ids  # every prompt once: none lost, none twice
        assert all(len(x["candidates"]) == 2 for x in records)
        assert all(set(c["scores"]) == {"overall", "language", "relevance", "content"} for x in records
                   for c in x["candidates"])
        kept = json.loads((folder / "selection.json").read_text())
        for x in records:  # best: the passing candidate first by the rule (lines rhyming, then overall score)
            cands = x["candidates"]
            passing = [i for i, c in enumerate(cands) if c["checks"]["ok"] and i in x.get("eligible", range(9))]
            expected = max(passing, key=lambda i, cands=cands: (sum(line["rhyme_ok"] for line in cands[i]["checks"][
                "lines"]), cands[i]["scores"]["overall"], -i), default=None)
            assert x["best"] == expected
        # the kept samples are the selection rule's picks, recomputed from the samples (diversity 1.0)
        picks = select_samples(records, 1.0, 1.0, [x.get("eligible") for x in records])
        assert kept["picks"] == [[records[i]["id"], j] for i, j in picks]
        chosen = {records[i]["id"]: records[i]["candidates"][j]["lyrics"] for i, j in picks}
        assert kept["prompts"] == 6 and kept["kept"] == len(chosen) >= 1
        rows = lines_of(folder / "train.jsonl")
        assert len(rows) == kept["kept"] + kept["replayed"] and kept["replayed"] == kept["kept"]  # replay 1.0
        answers = ["\n".join(line for line in row["messages"][-1]["content"].split("\n") if not line.startswith("〔"))
                   for row in rows]
        assert sorted(a for a in answers if a in chosen.values()) == sorted(chosen.values())
        assert not (folder / "train.yaml").exists()  # the round's config is built in memory
        assert (folder / "sft" / "final" / "adapter_model.safetensors").is_file()
        assert (folder / "model" / "model.safetensors").is_file()
    ppl = []
    for r in (0, 1, 2):
        metrics = json.loads((run / f"round_{r}" / "metrics.json").read_text())
        assert sorted(x["id"] for x in lines_of(run / f"round_{r}" / "eval.jsonl")) == eval_ids
        assert metrics["round"] == r and metrics["candidates"] == 4
        ppl.append(metrics["valid_ppl"])
    vocab = len(AutoTokenizer.from_pretrained(char_generator_dir))
    assert 0.8 * vocab < ppl[0] < 1.2 * vocab  # round 0 is a random model: about uniform over the vocabulary
    assert ppl[1] != ppl[0] and ppl[2] != ppl[1]  # each round's finetune changed the generator
    round2 = json.loads((run / "round_2" / "metrics.json").read_text())
    assert round2["generator"].endswith("round_2/model")
    for r in (1, 2):  # each round's promotion decision is the gate's on its eval against the model it started from
        metrics = json.loads((run / f"round_{r}" / "metrics.json").read_text())
        decision = metrics["promotion"]
        assert decision["by"] == "bootstrap" and decision["reason"]
        assert decision["promoted"] == (decision["interval"][0] > 0 and "below" not in decision["reason"]
                                        and "above" not in decision["reason"])
    report = (run / "report.md").read_text("utf-8")
    assert sum(line.startswith("| ") for line in report.splitlines()) == 4  # header and rounds 0-2
    assert "## Promotion" in report and "The model after 2 rounds" in report
    assert (run / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    again = run_cli("rs", "--config", str(config))  # everything done: nothing redone
    assert again.returncode == 0 and lines_of(run / "round_1" / "samples.jsonl") == lines_of(samples)


def test_metrics_diversity_and_repetition():
    aspects = ("overall", "language", "relevance", "content")
    records = [{"candidates": [
        {"lyrics": "春风\n春风", "checks": {"ok": True}, "scores": dict.fromkeys(aspects, 4.0)},
        {"lyrics": "明月\n清霜", "checks": {"ok": False}, "scores": dict.fromkeys(aspects, 2.0)},
    ], "best": 0}]
    metrics = eval_metrics(records, ppl=7.0)
    assert metrics["repeated_line_rate"] == 0.5 and metrics["pass_rate"] == 0.5
    assert metrics["scores"]["overall"] == 3.0 and metrics["best_overall"] == 4.0
    assert distinct(["春风\n春风"], 1) == 0.5 and distinct(["春风\n春风"], 2) == 0.5
    assert metrics["distinct_1"] == distinct(["春风\n春风", "明月\n清霜"], 1) == 0.75


def test_query_expansion_adds_corpus_imagery(data_dir):
    imagery_tables = build_imagery_tables(data_dir, ["yue"])
    topic = next(t for t in ("春", "月", "山", "秋") if imagery_tables["yue"].imagery(t))
    expanded = expand_topic(topic, "yue", imagery_tables)
    assert expanded.startswith(f"{topic}（意象：") and expanded.endswith("）")
    imagery = expanded[len(topic) + 4:-1].split("、")
    assert 1 <= len(imagery) <= 4 and topic not in imagery
    assert expand_topic("𠀀", "yue", imagery_tables) == "𠀀"  # nothing known: the topic as given


@pytest.mark.parametrize(("extra", "message"), [
    ({"k": 0}, "k must be at least 1"),
    ({"kk": 3}, "kk is not a field"),
    ({"prompts": {"trian": 3}}, "prompts.trian is not a field"),
    ({"threshold": "high"}, "threshold must be a number"),
])
def test_bad_rs_config_is_one_line(tmp_path, data_dir, char_generator_dir, extra, message):
    config = rs_config(tmp_path, data_dir, char_generator_dir, tmp_path / "no-scorer", **extra)
    result = run_cli("rs", "--config", str(config))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
