"""Does phonetic knowledge injection help? Two generators trained with equal compute, each decoded without
the logits processor (hints only) and with it, on held-out specs:

- ``KI+SFT``: ``configs/tiny.yaml`` (knowledge stage, then LoRA sft): the shipped ``models/tiny``.
- ``SFT only``: ``configs/ablation-sft-only.yaml`` (the same model trained from scratch on the hinted lyric
  exchanges alone, all parameters, as many training tokens as tiny's two stages).

Measured per language: syllable-count, rhyme and tone-pattern accuracy (by line, by ``lyrics.checks``), the
share of candidates that pass every check, validation perplexity on held-out hinted lyrics, and accuracy on
the held-out stage-2 questions (characters never asked about in training).

    python bench/knowledge_injection.py                       # both arms, the default paths
    python bench/knowledge_injection.py --specs 10 --n 2      # quicker
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from tqdm import tqdm

from lyrics.assets import tianci_home
from lyrics.data import read_split
from lyrics.generation import generate
from lyrics.knowledge import spec_of_record, stanzas, understanding, utilisation
from lyrics.models import DEFAULT_MODEL, load_model
from lyrics.train import IGNORE, encode_example
from phonetics import annotate

ROOT = Path(__file__).resolve().parent.parent
ARMS = {"KI+SFT": str(DEFAULT_MODEL), "SFT only": str(ROOT / "runs" / "ablation-sft-only" / "sft" / "final")}
LANGS = ("cmn", "yue")


def held_out_specs(data_dir: Path, lang: str, count: int, seed: int):
    """4-line stanzas of test-split works with 5- or 7-syllable lines, as the specs they satisfy."""
    rng = random.Random(seed)
    specs = []
    for record in read_split(data_dir, lang, "test"):
        for piece in stanzas(record, 4):
            if len(piece.lines) == 4 and {len(x) for x in piece.lines} <= {5, 7}:
                spec, _ = spec_of_record(piece, rng)
                if spec.labels:
                    specs.append(spec)
                break
        if len(specs) >= count:
            break
    return specs


def decoding_scores(model, tokenizer, specs, n: int, constrained: bool, seed: int) -> dict:
    lines = rhymed = rhymed_ok = toned = toned_ok = syllables_ok = passed = total = 0
    for i, spec in enumerate(specs):
        for cand in generate(model, tokenizer, spec, n=n, seed=seed + i, hints=True, constrained=constrained):
            total += 1
            passed += cand.checks.ok
            for line, line_spec in zip(cand.checks.lines, spec.lines, strict=True):
                lines += 1
                syllables_ok += line.structure_ok
                if line_spec.label:
                    rhymed += 1
                    rhymed_ok += line.rhyme_ok
                if line_spec.tones:
                    toned += 1
                    toned_ok += line.tone_ok
    return {"syllables": syllables_ok / lines, "rhyme": rhymed_ok / max(1, rhymed),
            "tone": toned_ok / max(1, toned), "all_checks": passed / total, "candidates": total}


@torch.no_grad()
def perplexity(model, tokenizer, data_dir: Path, lang: str, works: int) -> float:
    records = list(itertools.islice(read_split(data_dir, lang, "valid"), works))
    loss_sum = count = 0.0
    for example in utilisation(records, 0, 8):
        ids, labels = encode_example(tokenizer, example, 512)
        logits = model(input_ids=torch.tensor([ids])).logits[0, :-1]
        target = torch.tensor(labels[1:])
        keep = target != IGNORE
        loss_sum += torch.nn.functional.cross_entropy(logits[keep], target[keep], reduction="sum").item()
        count += int(keep.sum())
    return math.exp(loss_sum / count)


def _head(text: str) -> str:
    for i, ch in enumerate(text):
        if ch in "。，（\n":
            return text[:i]
    return text


def question_accuracy(model, tokenizer, lang: str, questions: int, seed: int) -> float:
    """Greedy answers to held-out stage-2 questions: the verdict, the character, or the reading must match;
    for 'three characters that rhyme' any three distinct rhyming characters count."""
    held = [q for q in understanding(lang, seed) if q["held_out"]]
    held = random.Random(seed).sample(held, min(questions, len(held)))
    right = 0
    for q in held:
        ask, answer = q["messages"]
        text = tokenizer.apply_chat_template([ask], tokenize=False, add_generation_prompt=True,
                                             enable_thinking=False)
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        out = model.generate(**ids, max_new_tokens=24, do_sample=False, eos_token_id=tokenizer.eos_token_id,
                             pad_token_id=tokenizer.pad_token_id)
        got = _head(tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
        if ask["content"].startswith("给出三个"):
            char = ask["content"].split("「")[1][0]
            group = annotate(char, lang)[0].rhyme
            named = [c for c in got.split("、") if len(c) == 1]
            right += (len(set(named)) == 3 and char not in named
                      and all(annotate(c, lang)[0].rhyme == group for c in named))
        else:
            right += got == _head(answer["content"])
    return right / len(held)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ki", default=ARMS["KI+SFT"], help="the knowledge-injection + sft model")
    parser.add_argument("--sft-only", default=ARMS["SFT only"], help="the sft-only model")
    parser.add_argument("--knowledge-stage", default=str(ROOT / "runs" / "tiny" / "knowledge" / "final"),
                        help="KI+SFT before its sft stage: its stage-2 accuracy is reported too, if it is there")
    parser.add_argument("--specs", type=int, default=30, help="held-out specs per language")
    parser.add_argument("-n", type=int, default=4, help="candidates per spec")
    parser.add_argument("--questions", type=int, default=200, help="held-out questions per language")
    parser.add_argument("--ppl-works", type=int, default=100, help="validation works per language")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=ROOT / "runs" / "bench" / "knowledge_injection.json")
    args = parser.parse_args()
    data_dir = tianci_home() / "data"
    specs = {lang: held_out_specs(data_dir, lang, args.specs, args.seed) for lang in LANGS}
    results = []
    for arm, path in (("KI+SFT", args.ki), ("SFT only", args.sft_only)):
        model, tokenizer = load_model(path, device="cpu")
        for lang in LANGS:
            began = time.perf_counter()
            row = {"arm": arm, "lang": lang, "perplexity": perplexity(model, tokenizer, data_dir, lang, args.ppl_works),
                   "questions": question_accuracy(model, tokenizer, lang, args.questions, args.seed)}
            for constrained in (False, True):
                scores = decoding_scores(model, tokenizer, tqdm(specs[lang], desc=f"{arm} {lang}", file=sys.stderr),
                                         args.n, constrained, args.seed)
                row["processors" if constrained else "hints_only"] = scores
            row["seconds"] = round(time.perf_counter() - began, 1)
            results.append(row)
    before_sft = {}
    if Path(args.knowledge_stage).is_dir():
        model, tokenizer = load_model(args.knowledge_stage, device="cpu")
        before_sft = {lang: question_accuracy(model, tokenizer, lang, args.questions, args.seed) for lang in LANGS}
        results.append({"arm": "KI, knowledge stage only", "questions": before_sft})
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print(f"{args.specs} held-out 4-line specs per language x {args.n} candidates; "
          f"{args.questions} held-out questions per language\n")
    print("| arm | lang | decoding | syllables | rhyme | tone | all checks | val ppl | stage-2 QA |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in results:
        if "perplexity" not in row:
            continue
        for mode, label in (("hints_only", "hints only"), ("processors", "processors")):
            s = row[mode]
            print(f"| {row['arm']} | {row['lang']} | {label} | {s['syllables']:.1%} | {s['rhyme']:.1%} | "
                  f"{s['tone']:.1%} | {s['all_checks']:.1%} | {row['perplexity']:.2f} | {row['questions']:.1%} |")
    if before_sft:
        print(f"\nstage-2 QA of KI+SFT before its sft stage ({args.knowledge_stage}): "
              + ", ".join(f"{lang} {acc:.1%}" for lang, acc in before_sft.items()))
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()
