"""Cost of Tianci's constraint inside vLLM on CPU, in one run: tokens/s of plain and constrained decoding through
one engine (the shipped ``models/tiny``, its ``TianciLogitsProcessor`` loaded), at batch 1, 8 and 32, runs
interleaved, after a warm-up that fills the mask caches; plus the processor's own time per step (its ``apply``).

Constrained rows are ``LyricRequests`` for a 4 x 7 spec (each its own rhyme groups and keyword plan; the keyword pull
at its default, and off); plain rows are the same prompts without a spec, as many tokens each (``ignore_eos``), so
the batches stay equally full. Target (issue 29): constrained / plain throughput >= 0.9 at batch 32.

``--processor-only``: the processor alone, without an engine (steadier on busy cores): ``ConstrainedBatch.apply`` over
the same requests for 92 steps, each step's token the row's best under the mask of seeded random logits; its time per
step with the pull and without (the pull also changes which tokens, so which masks, a row meets).

    .venv-vllm/bin/python bench/vllm_constraints.py [--reps 3] [--batches 1 8 32] [--processor-only] [--memory-mix 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # the engine core in this process: apply() is timed
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

SPEC = {"lang": "cmn", "topic": "月光", "structure": "7A 7A 7B 7A"}
TOPICS = ("月光", "海港", "春雨", "离别", "故乡", "夜车", "秋风", "山城")
TARGET = 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="interleaved runs per setting")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--processor-only", action="store_true", help="time the processor alone, without an engine")
    parser.add_argument("--memory-mix", type=float, default=None,
                        help="the phrase memory's share in the constrained rows (default: the model's; 0: the "
                             "constraint and pull alone)")
    args = parser.parse_args()
    if args.processor_only and args.memory_mix is not None:
        raise SystemExit("--memory-mix applies to the engine's runs, not --processor-only")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    if args.processor_only:
        processor_only(args.batches, args.reps)
        return

    from vllm import LLM, SamplingParams

    from lyrics import vllm_processor
    from lyrics.models import DEFAULT_MODEL
    from lyrics.vllm_processor import MEMORY_KEY, PULL_KEY, LyricRequests, TianciLogitsProcessor

    timing = {"seconds": 0.0, "calls": 0}
    inner = vllm_processor.ConstrainedBatch.apply

    def timed(self, logits):
        began = time.perf_counter()
        out = inner(self, logits)
        if self.rows:
            timing["seconds"] += time.perf_counter() - began
            timing["calls"] += 1
        return out

    vllm_processor.ConstrainedBatch.apply = timed
    llm = LLM(model=str(DEFAULT_MODEL), logits_processors=[TianciLogitsProcessor], dtype="float32",
              max_model_len=512, max_num_seqs=max(args.batches), enforce_eager=True, seed=0)
    requests = LyricRequests.for_model(DEFAULT_MODEL)

    def constrained(batch: int, rep: int, pull: bool) -> list:
        rows = []
        for k in range(batch):
            row = requests.build({**SPEC, "topic": TOPICS[k % len(TOPICS)]}, n=1, seed=1000 * rep + k)[0]
            if not pull:
                row.params.extra_args[PULL_KEY] = 0.0
            if args.memory_mix is not None:
                row.params.extra_args[MEMORY_KEY] = args.memory_mix
            rows.append(row)
        return rows

    def run(prompts: list[str], params: list) -> tuple[float, int, float, int]:
        timing.update(seconds=0.0, calls=0)
        began = time.perf_counter()
        outputs = llm.generate(prompts, params, use_tqdm=False)
        seconds = time.perf_counter() - began
        return seconds, sum(len(o.outputs[0].token_ids) for o in outputs), timing["seconds"], timing["calls"]

    warm = constrained(max(args.batches), 99, True)  # fills the token table, compiled specs and mask caches
    out = llm.generate([r.prompt for r in warm], [r.params for r in warm], use_tqdm=False)
    length = int(statistics.median(len(o.outputs[0].token_ids) for o in out))
    for row, o in zip(warm, out, strict=True):
        assert requests.candidate(row, o.outputs[0].token_ids).checks.ok
    print(f"cpus {os.cpu_count()}, torch threads {torch.get_num_threads()}, {DEFAULT_MODEL.name}, spec "
          f"{SPEC['structure']}, {length} tokens a row", flush=True)

    results = {}
    for batch in args.batches:
        totals = {kind: [0.0, 0, 0.0, 0] for kind in ("plain", "constrained", "no pull")}
        for rep in range(args.reps):  # interleaved: plain, constrained, constrained without the pull, ...
            rows = constrained(batch, rep, True)
            prompts = [row.prompt for row in rows]
            settings = {
                "plain": [SamplingParams(max_tokens=length, ignore_eos=True, temperature=0.9, top_p=0.95,
                                         seed=1000 * rep + k) for k in range(batch)],
                "constrained": [row.params for row in rows],
                "no pull": [row.params for row in constrained(batch, rep, False)],
            }
            for kind, params in settings.items():
                for i, value in enumerate(run(prompts, params)):
                    totals[kind][i] += value
        rate = {kind: t[1] / t[0] for kind, t in totals.items()}
        step = {kind: (t[2] / t[3] if t[3] else 0.0) for kind, t in totals.items()}
        results[batch] = (rate, step)
        print(f"batch {batch:>2}: plain {rate['plain']:7.1f} tokens/s, constrained {rate['constrained']:7.1f} "
              f"(processor {step['constrained'] * 1e3:.2f} ms/step), without the keyword pull "
              f"{rate['no pull']:7.1f} (processor {step['no pull'] * 1e3:.2f} ms/step)", flush=True)
    print()
    for batch, (rate, _) in results.items():
        ratio, bare = rate["constrained"] / rate["plain"], rate["no pull"] / rate["plain"]
        print(f"headline batch {batch}: vLLM constrained/plain throughput {ratio:.3f} (without the pull {bare:.3f})"
              + (f"; target >= {TARGET}: {'met' if ratio >= TARGET else 'MISSED'}" if batch == 32 else ""))


def processor_only(batches: list[int], reps: int, steps: int = 92) -> None:
    """``ConstrainedBatch.apply``'s time per step without an engine, with the keyword pull and without: the median
    of ``reps`` runs after a warm-up run that fills the caches."""
    from lyrics.models import DEFAULT_MODEL
    from lyrics.vllm_processor import PULL_KEY, ConstrainedBatch, LyricRequests

    torch.set_num_threads(1)  # the processor's ops are small: a second thread on busy cores only waits
    requests = LyricRequests.for_model(DEFAULT_MODEL)
    vocab = requests.compiler.decoder.table.vocab_size

    def run(batch: int, pull: bool, rep: int) -> float:
        rows, written = ConstrainedBatch(requests.compiler), []
        for k in range(batch):
            request = requests.build({**SPEC, "topic": TOPICS[k % len(TOPICS)]}, n=1, seed=1000 * rep + k)[0]
            if not pull:
                request.params.extra_args[PULL_KEY] = 0.0
            written.append([])
            rows.rows[k] = rows._new_row(request.params, None, written[k])  # as vLLM adds a request
        generator, seconds = torch.Generator().manual_seed(rep), 0.0
        for _ in range(steps):
            logits = torch.randn(batch, vocab, generator=generator)
            began = time.perf_counter()
            rows.apply(logits)
            seconds += time.perf_counter() - began
            for ids, token in zip(written, logits.argmax(1).tolist(), strict=True):
                ids.append(token)
        return seconds / steps

    print(f"processor alone, {DEFAULT_MODEL.name}, spec {SPEC['structure']}, {steps} steps", flush=True)
    for batch in batches:
        step = {pull: statistics.median([run(batch, pull, rep) for rep in range(reps + 1)][1:])  # run 0: warm-up
                for pull in (True, False)}
        print(f"batch {batch:>2}: processor {step[True] * 1e3:.2f} ms/step, without the keyword pull "
              f"{step[False] * 1e3:.2f} ms/step", flush=True)


if __name__ == "__main__":
    main()
