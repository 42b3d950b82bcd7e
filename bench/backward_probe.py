"""Can a language model that reads right to left tell the held-out corpus choruses from the default's candidates?

The scorer's fluency evidence is the likelihood of the text under its backbone, a left-to-right model like the
generator whose samples it judges; the phrase memory's picks are stitched so that each character is likely after
the ones before it. Read backwards, the joins are not. This probe trains a backward character LM on the modern
corpus's training songs (from ``--init``'s weights, one thread) and compares, per held-out brief of
``bench/scorer_targets.py`` (its ``--candidates`` file: the default's 8 candidates and the classical default's
salad for the first 48 test-split songs a language), the per-character loss of the corpus chorus with the
candidates' and the salad's, under the backward LM and under ``--init`` read forwards:

    python bench/backward_probe.py --candidates runs/targets-cands.jsonl [--steps 600] [--out runs/backward-lm]

A measurement for the next scorer's features, not a component: nothing in the pipeline reads the backward LM.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

import torch  # noqa: E402
from panel import chorus_of, held_out  # noqa: E402
from tqdm import tqdm  # noqa: E402

from lyrics.models import DEFAULT_MODEL, load_model  # noqa: E402
from lyrics.modern.corpus import corpus_songs, split_of  # noqa: E402

SEQ_LEN, BATCH, LR = 256, 16, 1e-3


def train_backward(init: str, out: Path, steps: int, seed: int = 0) -> None:
    """A copy of ``init`` trained on the training songs read right to left (random windows of the token stream)."""
    torch.manual_seed(seed)
    model, tokenizer = load_model(init, device="cpu")
    texts = ["\n".join(s.lines)[::-1] for s in corpus_songs() if split_of(s.id) == "train"]
    stream = [i for t in texts for i in tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]]
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, total_steps=steps, pct_start=0.05)
    rng = random.Random(seed)
    model.train()
    for _ in tqdm(range(steps), desc="backward LM", unit="step", file=sys.stderr):
        starts = [rng.randrange(len(stream) - SEQ_LEN - 1) for _ in range(BATCH)]
        batch = torch.tensor([stream[s:s + SEQ_LEN] for s in starts])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def losses(folder: str, texts: list[str], backward: bool) -> list[float]:
    """Each text's mean loss per token under the model at ``folder`` (read right to left when ``backward``)."""
    model, tokenizer = load_model(folder, device="cpu")
    model.eval()
    found = []
    for text in texts:
        text = text[::-1] if backward else text
        ids = torch.tensor([[tokenizer.eos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            found.append(model(input_ids=ids, labels=ids).loss.item())
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=Path, required=True, help="bench/scorer_targets.py's --candidates file")
    parser.add_argument("--init", default=str(DEFAULT_MODEL))
    parser.add_argument("--out", type=Path, default=Path("runs/backward-lm"))
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not (args.out / "model.safetensors").is_file():
        started = time.time()
        train_backward(args.init, args.out, args.steps)
        print(f"trained {args.out} in {time.time() - started:.0f} s")
    kept = json.loads(args.candidates.read_text("utf-8"))
    corpus = ["\n".join(chorus_of(song)) for song in held_out(len(kept["default"]) // 2)]
    flat = [text for group in kept["default"] for text in group]
    salad = [group[0] for group in kept["salad"]]
    print("| reader | loss: corpus / default / salad | corpus beats the reader's best of 8 | corpus beats a candidate "
          "| corpus beats the salad |")
    print("|---|---|---|---|---|")
    for name, folder, backward in (("forward (" + Path(args.init).name + ")", args.init, False),
                                   ("backward", str(args.out), True)):
        real, fake, bad = (losses(folder, texts, backward) for texts in (corpus, flat, salad))
        groups = [fake[i:i + len(g)] for i, g in zip(range(0, len(fake), 8), kept["default"], strict=True)]
        print(f"| {name} | {statistics.fmean(real):.2f} / {statistics.fmean(fake):.2f} / {statistics.fmean(bad):.2f} "
              f"| {statistics.fmean(r < min(g) for r, g in zip(real, groups, strict=True)):.3f} "
              f"| {statistics.fmean(r < x for r, g in zip(real, groups, strict=True) for x in g):.3f} "
              f"| {statistics.fmean(r < s for r, s in zip(real, bad, strict=True)):.3f} |")


if __name__ == "__main__":
    main()
