"""Cost of constrained decoding on CPU: a tiny random Qwen3 with the full 151,669-token Qwen3 vocabulary.

Measures, in one run:
- the token table: built cold (no cache) and loaded warm;
- tokens per second with and without the lyrics processor, same seeds, runs interleaved, at batch 1
  and batch 8 (``num_return_sequences``), after one warm-up run that fills the mask cache; each plain run
  writes exactly as many tokens as the constrained run before it (a constrained run stops at its last line,
  a plain one would run to its budget, and the prefill's cost per token would differ by length alone);
- the processor's own time per decoding step (its ``__call__``), at batch 1 and batch 8.

Targets: constrained/plain time per token ≤ 1.10; processor ≤ 1 ms per step. Headline figures last.

    python bench/constraints.py [--reps N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from transformers import AutoTokenizer, LogitsProcessor, LogitsProcessorList, Qwen3Config, Qwen3ForCausalLM

from lyrics.data.assets import asset_dir
from lyrics.decoding.prompt import build_prompt
from lyrics.decoding.spec import LyricSpec
from lyrics.decoding.tokentable import TokenTable
from lyrics.generation import Decoder

SPEC = {"lang": "cmn", "topic": "月光", "structure": "7A 7A 7B 7A", "rhymes": {"A": "光"},
        "tones": ["平平仄仄仄平平", "仄仄平平仄仄平"]}


class Timed(LogitsProcessor):
    """Wraps the lyrics processor and adds up the time spent in it, apart for the steps that found every
    mask cached (warm) and those that had to compute one (a state seen for the first time)."""

    def __init__(self, inner: LogitsProcessor):
        self.inner, self.seconds, self.calls = inner, 0.0, 0
        self.warm_seconds, self.warm_calls = 0.0, 0

    def __call__(self, input_ids, scores):
        built = self.inner.constraint.masks_built
        start = time.perf_counter()
        out = self.inner(input_ids, scores)
        seconds = time.perf_counter() - start
        self.seconds, self.calls = self.seconds + seconds, self.calls + 1
        if self.inner.constraint.masks_built == built:
            self.warm_seconds, self.warm_calls = self.warm_seconds + seconds, self.warm_calls + 1
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="interleaved runs per setting")
    args = parser.parse_args()
    torch.set_num_threads(2)

    tokenizer = AutoTokenizer.from_pretrained(asset_dir("qwen3-tokenizer"))
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        TokenTable.for_tokenizer(tokenizer, cache_dir=Path(cache))
        cold = time.perf_counter() - start
        start = time.perf_counter()
        TokenTable.for_tokenizer(tokenizer, cache_dir=Path(cache))
        warm = time.perf_counter() - start
    print(f"token table, {len(tokenizer):,} tokens: built cold in {cold:.2f} s, loaded warm in {warm:.2f} s")

    torch.manual_seed(0)
    config = Qwen3Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=2048,
                         tie_word_embeddings=True)
    model = Qwen3ForCausalLM(config).eval()
    spec = LyricSpec.from_dict(SPEC)
    start = time.perf_counter()
    constraint = Decoder(None, tokenizer).compile(spec)
    compile_s = time.perf_counter() - start
    inputs = tokenizer(build_prompt(spec, tokenizer), return_tensors="pt")
    budget = 4 * sum(line.syllables for line in spec.lines) + len(spec.lines) + 1
    common = {"do_sample": True, "temperature": 0.9, "top_k": 50, "max_new_tokens": budget,
              "eos_token_id": constraint.eos_ids, "pad_token_id": tokenizer.pad_token_id}

    def run(batch: int, seed: int, constrained: bool, steps: int | None = None) -> tuple[float, int, Timed | None]:
        """One generation; ``steps``: exactly that many new tokens (a plain run as long as its constrained twin,
        so the prefill and the call's fixed costs are spread over as many tokens in both)."""
        timed = Timed(constraint.processor()) if constrained else None
        length = {"min_new_tokens": steps, "max_new_tokens": steps} if steps else {}
        torch.manual_seed(seed)
        start = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**inputs, num_return_sequences=batch,
                                 logits_processor=LogitsProcessorList([timed] if timed else []), **{**common, **length})
        seconds = time.perf_counter() - start
        steps = out.shape[1] - inputs["input_ids"].shape[1]
        return seconds, steps, timed

    start = time.perf_counter()
    run(1, 0, True)  # warm-up: fills the mask cache for this spec
    first_call = time.perf_counter() - start
    print(f"spec compiled in {compile_s:.2f} s; first constrained generation (cold mask cache) {first_call:.2f} s")

    results = {}
    for batch in (1, 8):
        plain_s = plain_steps = cons_s = cons_steps = proc_s = proc_calls = warm_s = warm_calls = 0.0
        for rep in range(args.reps):  # interleaved: constrained, then plain for as many tokens, ...
            s, n, timed = run(batch, rep, True)
            cons_s, cons_steps = cons_s + s, cons_steps + n
            s, n, _ = run(batch, rep, False, steps=n)
            plain_s, plain_steps = plain_s + s, plain_steps + n
            proc_s, proc_calls = proc_s + timed.seconds, proc_calls + timed.calls
            warm_s, warm_calls = warm_s + timed.warm_seconds, warm_calls + timed.warm_calls
        plain_step, cons_step = plain_s / plain_steps, cons_s / cons_steps
        results[batch] = (plain_step, cons_step, proc_s / proc_calls, warm_s / max(warm_calls, 1))
        print(f"batch {batch}: plain {batch / plain_step:,.0f} tokens/s ({plain_step * 1e3:.2f} ms/step), "
              f"constrained {batch / cons_step:,.0f} tokens/s ({cons_step * 1e3:.2f} ms/step); processor "
              f"{proc_s / proc_calls * 1e3:.3f} ms/step over all {int(proc_calls)} steps, "
              f"{warm_s / max(warm_calls, 1) * 1e3:.3f} ms/step over the {int(warm_calls)} with every mask cached")
    inside = sum(1 for key in constraint._masks if isinstance(key[-1], bytes) and key[-1])
    print(f"distinct masks computed for the spec: {len(constraint._masks)} ({inside} inside a byte-split character); "
          f"used-character overlays on them (no 重韵): {constraint.overlays_built}")
    print()
    for batch, (plain_step, cons_step, proc, warm) in results.items():
        ratio = cons_step / plain_step
        print(f"headline batch {batch}: constrained/plain time per token {ratio:.3f} (target <= 1.10: "
              f"{'met' if ratio <= 1.10 else 'MISSED'}); processor {proc * 1e3:.3f} ms/step all steps, "
              f"{warm * 1e3:.3f} ms/step warm (target <= 1 ms: {'met' if proc <= 1e-3 else 'MISSED'} / "
              f"{'met' if warm <= 1e-3 else 'MISSED'})")


if __name__ == "__main__":
    main()
