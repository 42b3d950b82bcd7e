"""Does the generator write to the topic, and how well? Per arm (a model folder) and language, on held-out
prompts:

- **topic lift**, with the shipped decoding (keyword pull on) and without the pull: share of candidates
  holding at least 2 characters of their own topic's association list
  (``bench/data/topics.json``: 43 modern topics with hand-written lists, never drawn from the corpus) minus
  the same share against another topic's list (a contrastive control: a model that ignores its topic
  scores 0);
- **same-seed overlap**: share of positions where the first candidates of two different topics at one seed
  coincide (the seed alone drives sampling; the topic changes only the prompt); every other figure is on
  candidates drawn at a seed of each topic's own;
- held-out **perplexity** of the lyric exchanges (the arm's own brief format; hint lines included);
- **distinct-1/2**, the share of candidates with a repeated line, the commonest character's share;
- **identical rhymes** (two lines of one label ending on one character);
- **hints only** (no processor): syllable, rhyme and tone rates by line on 30 held-out 4-line stanzas;
- **removed mass**: the mean probability mass the processor takes away at the positions where it leaves a
  choice (how far the constraint bends the model; lower: the model already writes to the form).

    python bench/quality.py                                       # the shipped model (and the knowledge-mix arm)
    python bench/quality.py --arm new=runs/tiny/sft/final --arm old=models/tiny
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from tqdm import tqdm
from transformers import LogitsProcessor, LogitsProcessorList

from lyrics.data.assets import tianci_home
from lyrics.data.keywords import KEYWORD_PULL
from lyrics.data.works import sample_works
from lyrics.decoding.prompt import build_prompt
from lyrics.decoding.spec import LyricSpec
from lyrics.generation import Decoder
from lyrics.models import DEFAULT_MODEL, load_model
from lyrics.training.examples import IGNORE, encode_example
from lyrics.training.knowledge import spec_of_record, stanzas, utilisation
from phonetics import to_lang_script
from pipeline.rs.metrics import distinct
from tianci.cli import add_renamed_flag

ROOT = Path(__file__).resolve().parent.parent
TOPICS = json.loads((ROOT / "bench" / "data" / "topics.json").read_text("utf-8"))["topics"]
LANGS = ("cmn", "yue")
STRUCTURE = "7A 7A 7B 7A"
DEFAULT_ARMS = {"default (models/tiny)": DEFAULT_MODEL,
                "knowledge mix": ROOT / "runs/ablation-knowledge-mix/sft/final"}  # when make bench-quality trained it


def topic_rows(model, tokenizer, lang: str, n: int, seed: int, keyword_pull: float) -> list[dict]:
    """Per topic, ``n`` candidates at its own seed (``seed`` + its index), and a first candidate at ``seed``
    itself, the same for every topic (for the same-seed overlap); ``keyword_pull``: the keyword pull."""
    rows = []
    decoder = Decoder(model, tokenizer)  # one for every call: its masks and phrase memory are built once
    for i, item in enumerate(tqdm(TOPICS, desc=f"topics {lang}", file=sys.stderr, leave=False)):
        topic = to_lang_script(item["topic"], lang)
        spec = {"lang": lang, "topic": topic, "structure": STRUCTURE}
        candidates = decoder.generate(spec, n=n, seed=seed + i, keyword_pull=keyword_pull)
        first = decoder.generate(spec, n=1, seed=seed, keyword_pull=keyword_pull)[0]
        rows.append({"topic": topic, "assoc": set(to_lang_script(item["assoc"], lang)), "first": first.lyrics,
                     "lyrics": [c.lyrics for c in candidates], "checks": [c.checks for c in candidates]})
    return rows


def lift(rows: list[dict]) -> tuple[float, float, float]:
    """(own share, control share, lift); the control list is the topic's half a list away."""
    own = control = total = 0
    for i, row in enumerate(rows):
        other = rows[(i + len(rows) // 2) % len(rows)]["assoc"]
        for text in row["lyrics"]:
            total += 1
            own += len(set(text) & row["assoc"]) >= 2
            control += len(set(text) & other) >= 2
    return own / total, control / total, (own - control) / total


def same_seed_overlap(rows: list[dict]) -> float:
    firsts = [row["first"].replace("\n", "") for row in rows]
    same = positions = 0
    for a, b in combinations(firsts, 2):
        positions += min(len(a), len(b))
        same += sum(x == y for x, y in zip(a, b, strict=False))
    return same / max(1, positions)


def diversity(rows: list[dict]) -> dict:
    texts = [t for row in rows for t in row["lyrics"]]
    chars = [c for t in texts for c in t if c != "\n"]
    repeated = sum(len(set(t.split("\n"))) < len(t.split("\n")) for t in texts)
    identical = sum(any(line.identical_rhyme for line in checks.lines) for row in rows for checks in row["checks"])
    top, count = Counter(chars).most_common(1)[0]
    return {"distinct1": distinct(texts, 1), "distinct2": distinct(texts, 2),
            "repeated_line": repeated / len(texts), "top_char": top, "top_share": count / len(chars),
            "identical_rhyme": identical / len(texts), "all_checks": sum(
                c.ok for row in rows for c in row["checks"]) / len(texts)}


@torch.no_grad()
def exchange_perplexity(model, tokenizer, examples) -> float:
    """Perplexity of the answers of chat exchanges (hint lines included), the prompts given."""
    loss_sum = count = 0.0
    for example in examples:
        ids, labels = encode_example(tokenizer, example, 512)
        logits = model(input_ids=torch.tensor([ids])).logits[0, :-1]
        target = torch.tensor(labels[1:])
        keep = target != IGNORE
        loss_sum += torch.nn.functional.cross_entropy(logits[keep], target[keep], reduction="sum").item()
        count += int(keep.sum())
    return math.exp(loss_sum / count)


def perplexity(model, tokenizer, data_dir: Path, lang: str, works: int) -> float:
    records = sample_works(data_dir, lang, "valid", works, 0)
    return exchange_perplexity(model, tokenizer, utilisation(records, 0, 8, getattr(model, "tianci_keywords", None)))


def held_out_specs(model, data_dir: Path, lang: str, count: int, seed: int) -> list[LyricSpec]:
    """4-line stanzas of test-split works with 5- or 7-syllable lines, as the specs they satisfy (with the
    arm's own keyword plan when it was trained with plans)."""
    rng = random.Random(seed)
    table = (getattr(model, "tianci_keywords", None) or {}).get(lang)
    specs = []
    for record in sample_works(data_dir, lang, "test", None, seed):
        for piece in stanzas(record, 4):
            if len(piece.lines) == 4 and {len(x) for x in piece.lines} <= {5, 7}:
                spec = spec_of_record(piece, rng, table)
                if spec.labels:
                    specs.append(spec)
                break
        if len(specs) >= count:
            break
    return specs


def hints_only(model, tokenizer, specs: list[LyricSpec], n: int, seed: int) -> dict:
    lines = rhymed = rhymed_ok = toned = toned_ok = syllables_ok = 0
    decoder = Decoder(model, tokenizer)
    for i, spec in enumerate(specs):
        for cand in decoder.generate(spec, n=n, seed=seed + i, hints=True, constrained=False):
            for line, line_spec in zip(cand.checks.lines, spec.lines, strict=True):
                lines += 1
                syllables_ok += line.structure_ok
                if line_spec.label:
                    rhymed += 1
                    rhymed_ok += line.rhyme_ok
                if line_spec.tones:
                    toned += 1
                    toned_ok += line.tone_ok
    return {"syllables": syllables_ok / lines, "rhyme": rhymed_ok / max(1, rhymed), "tone": toned_ok / max(1, toned)}


class RemovedMass(LogitsProcessor):
    """Wraps the constraint's processor and records, at each row and step where it leaves more than one
    token, the probability mass (softmax of the scores it is given) of the tokens it forbids."""

    def __init__(self, inner: LogitsProcessor):
        self.inner, self.removed = inner, []

    def __call__(self, input_ids, scores):
        before = torch.softmax(scores.float(), dim=-1)
        out = self.inner(input_ids, scores)
        allowed = torch.isfinite(out)
        for row in range(out.shape[0]):
            if int(allowed[row].sum()) > 1:
                self.removed.append(1.0 - float(before[row][allowed[row]].sum()))
        return out


def removed_mass(model, tokenizer, lang: str, n: int, seed: int) -> float:
    hints = bool(getattr(model.config, "tianci_hints", False))
    values = []
    decoder = Decoder(model, tokenizer)
    for item in TOPICS[:12]:
        spec = LyricSpec.from_dict({"lang": lang, "topic": to_lang_script(item["topic"], lang), "structure": STRUCTURE})
        spec = decoder.plan_keywords(spec)
        spec = decoder.pin_rhymes(spec, seed) if hints else spec
        constraint = decoder.compile(spec, hints)
        probe = RemovedMass(constraint.processor())
        inputs = tokenizer([build_prompt(spec, tokenizer)], return_tensors="pt", add_special_tokens=False)
        torch.manual_seed(seed)
        with torch.inference_mode():
            model.generate(**inputs, logits_processor=LogitsProcessorList([probe]), max_new_tokens=160,
                           num_return_sequences=n, do_sample=True, temperature=0.9, top_p=0.95,
                           eos_token_id=constraint.eos_ids, pad_token_id=tokenizer.pad_token_id)
        values += probe.removed
    return sum(values) / max(1, len(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arm", action="append", default=[], metavar="NAME=PATH",
                        help="a model to measure (repeatable); default: the shipped model and the trained arms")
    parser.add_argument("-n", type=int, default=4, help="candidates per topic")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keyword-pull", type=float, default=KEYWORD_PULL,
                        help="the keyword pull of the shipped decoding (every arm is also measured without it)")
    add_renamed_flag(parser, "--keyword-bias", "--keyword-pull", float)
    parser.add_argument("--specs", type=int, default=30, help="held-out specs per language for hints only")
    parser.add_argument("--ppl-works", type=int, default=100, help="validation works per language")
    parser.add_argument("--json", type=Path, default=ROOT / "runs" / "bench" / "quality.json")
    args = parser.parse_args()
    arms = dict(a.split("=", 1) for a in args.arm) if args.arm else {
        name: str(path) for name, path in DEFAULT_ARMS.items() if Path(path).is_dir()}
    data_dir = tianci_home() / "data"
    results = []
    for arm, path in arms.items():
        model, tokenizer = load_model(path, device="cpu")
        for lang in LANGS:
            alone = topic_rows(model, tokenizer, lang, args.n, args.seed, 0.0)  # the model and its plan only
            rows = topic_rows(model, tokenizer, lang, args.n, args.seed, args.keyword_pull)
            own, control, gain = lift(rows)
            specs = held_out_specs(model, data_dir, lang, args.specs, args.seed)
            results.append({
                "arm": arm, "path": str(path), "lang": lang, "lift": gain, "own": own, "control": control,
                "lift_alone": lift(alone)[2], "overlap_alone": same_seed_overlap(alone),
                "distinct2_alone": diversity(alone)["distinct2"], "overlap": same_seed_overlap(rows), **diversity(rows),
                "perplexity": perplexity(model, tokenizer, data_dir, lang, args.ppl_works),
                "hints_only": hints_only(model, tokenizer, specs, args.n, args.seed),
                "removed_mass": removed_mass(model, tokenizer, lang, args.n, args.seed),
                "samples": {row["topic"]: row["lyrics"][0] for row in rows[:6]}})
            print(json.dumps({k: v for k, v in results[-1].items() if k != "samples"}, ensure_ascii=False),
                  file=sys.stderr)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print(f"{len(TOPICS)} topics x {args.n} candidates ({STRUCTURE}, seed {args.seed}) per language; "
          f"hints only on {args.specs} held-out stanzas; perplexity on {args.ppl_works} validation works; "
          f"keyword pull {args.keyword_pull} (figures without it in brackets)\n")
    print("| arm | lang | lift (own − control) [no pull] | same-seed overlap [no pull] | ppl | distinct-1 | "
          "distinct-2 [no pull] | repeated line | top char | identical rhyme | hints-only syl / rhyme / tone | "
          "removed mass |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        h = r["hints_only"]
        print(f"| {r['arm']} | {r['lang']} | {r['lift']:.2f} ({r['own']:.2f} − {r['control']:.2f}) "
              f"[{r['lift_alone']:.2f}] | {r['overlap']:.1%} [{r['overlap_alone']:.1%}] | {r['perplexity']:.2f} | "
              f"{r['distinct1']:.3f} | {r['distinct2']:.3f} [{r['distinct2_alone']:.3f}] | "
              f"{r['repeated_line']:.1%} | {r['top_char']} {r['top_share']:.1%} | {r['identical_rhyme']:.1%} | "
              f"{h['syllables']:.0%} / {h['rhyme']:.0%} / {h['tone']:.0%} | {r['removed_mass']:.2f} |")
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()
