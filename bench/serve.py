"""`tianci serve` against a cold `tianci generate` on this machine, in one run: the cold command's wall time
(a fresh interpreter: imports, model load, decoding), then a warm server (`tianci serve`, its own process, the
shipped models/tiny with its scorer) answering `POST /v1/lyrics` (4 x 7 syllables, n = 4, no seed, topics in
turn) under 1, 8 and 32 concurrent clients: latency p50/p95 and aggregate candidates/s. The targets (issue 29):
a warm request at least 5x faster than the cold command; 8 clients at least 3x one client's candidates/s.
``--engine vllm`` serves on vLLM (continuous batching) instead of the Hugging Face engine's micro-batches.

Then, where vLLM is installed (the .venv-vllm venv), the decoding engines side by side in this process
(``Writer.load(..., engine="hf" | "vllm")``, no scorer): tokens/s and candidates/s of Hugging Face vs vLLM,
plain vs constrained, at 1, 8 and 32 candidate rows a call (1 spec x 1, 2 x 4, 8 x 4), with the ratios vLLM/HF
and constrained/plain (issue 29's target: vLLM constrained/plain >= 0.9 at 32). Constrained: ``Writer.write``
end to end (the tokens are the candidates' decoded tokens, hint lines included); plain: the same prompts decoded
without any processor, every row as many tokens as the constrained rows took on average (end tokens ignored), so
the ratio is the constraint's cost per token; a plain "candidate" is an unchecked row. The two modes alternate,
one warm-up round and then ``--repeats`` timed rounds; each cell is the median.

    python bench/serve.py [--requests 8] [--cold 3] [--max-batch 16]
    .venv-vllm/bin/python bench/serve.py --engine vllm  # the server on vLLM, then the engine table
    .venv-vllm/bin/python bench/serve.py --engines-only [--repeats 2]     # only the engine table
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the repository's packages, not bench/phonetics.py (the engine table imports them)
TOPICS = ("月光", "海港", "春雨", "离别", "故乡", "夜车", "秋风", "山城")
STRUCTURE = "7A 7A 7B 7A"
N = 4
COLD_TARGET, CONCURRENCY_TARGET = 5.0, 3.0


def cold_generate() -> float:
    """Seconds for one `tianci generate` in a fresh interpreter, as a user runs it."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tianci.cli", "generate", "--topic", "月光", "--structure", STRUCTURE,
                    "-n", str(N), "--json"], check=True, capture_output=True, cwd=ROOT, timeout=600)
    return time.perf_counter() - began


def start_server(max_batch: int, engine: str) -> tuple[subprocess.Popen, str, int]:
    """`tianci serve` on a free loopback port; (process, host, port) once it listens."""
    process = subprocess.Popen([sys.executable, "-m", "tianci.cli", "serve", "--port", "0", "--max-batch",
                                str(max_batch), "--engine", engine], stderr=subprocess.PIPE, text=True, cwd=ROOT)
    line = process.stderr.readline()
    while engine == "vllm" and line and not line.startswith("tianci serve: http://"):  # vLLM logs as it starts
        line = process.stderr.readline()
    if not line.startswith("tianci serve: http://"):
        process.kill()
        raise SystemExit(f"the server did not start: {line}{process.stderr.read()}")
    host, port = line.split()[2].removeprefix("http://").rsplit(":", 1)
    # keep reading what the server logs, so a full pipe never blocks it
    threading.Thread(target=lambda: all(True for _ in process.stderr), daemon=True).start()
    return process, host, int(port)


def client(host: str, port: int, requests: int, first: int, latencies: list[float], failures: list[str]) -> None:
    """``requests`` POSTs one after another on one keep-alive connection."""
    connection = http.client.HTTPConnection(host, port, timeout=600)
    for k in range(requests):
        body = json.dumps({"lang": "cmn", "topic": TOPICS[(first + k) % len(TOPICS)], "structure": STRUCTURE,
                           "n": N}, ensure_ascii=False).encode("utf-8")
        began = time.perf_counter()
        connection.request("POST", "/v1/lyrics", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read())
        latencies.append(time.perf_counter() - began)
        if response.status != 200 or len(answer["candidates"]) != N:
            failures.append(f"{response.status} {answer.get('error', '')}")
    connection.close()


def load(host: str, port: int, clients: int, requests: int) -> dict:
    """``clients`` threads, ``requests`` each: latency percentiles and aggregate candidates/s."""
    latencies: list[float] = []
    failures: list[str] = []
    threads = [threading.Thread(target=client, args=(host, port, requests, i, latencies, failures))
               for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    ordered = sorted(latencies)
    return {"clients": clients, "requests": len(latencies), "failures": len(failures),
            "p50": statistics.median(ordered), "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
            "rate": len(latencies) * N / wall, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=8, help="requests per client at 1 client (fewer with more)")
    parser.add_argument("--cold", type=int, default=3, help="cold `tianci generate` runs (the median is used)")
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--engine", choices=("hf", "vllm"), default="hf",
                        help="the server's engine (vllm: run from .venv-vllm)")
    parser.add_argument("--engines-only", action="store_true", help="only the HF vs vLLM engine table")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per engine-table cell (the median kept)")
    args = parser.parse_args()
    has_vllm = importlib.util.find_spec("vllm") is not None
    if (args.engines_only or args.engine == "vllm") and not has_vllm:
        raise SystemExit("bench/serve.py --engines-only / --engine vllm need vLLM: make vllm, then run it with "
                         ".venv-vllm/bin/python")
    if args.engines_only:
        engine_table(args.repeats)
        return
    print(f"cpus {os.cpu_count()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}, "
          f"spec {STRUCTURE} n={N}, models/tiny + models/scorer-tiny, server engine {args.engine}", flush=True)
    colds = [cold_generate() for _ in range(args.cold)]
    cold = statistics.median(colds)
    print(f"cold tianci generate: {', '.join(f'{s:.2f}' for s in colds)} s (median {cold:.2f} s)", flush=True)
    process, host, port = start_server(args.max_batch, args.engine)
    try:
        load(host, port, 2, 2)  # warm-up: first calls compile constraints and fill caches
        rows = [load(host, port, clients, max(2, args.requests // max(1, clients // 4)))
                for clients in (1, 8, 32)]
        health = json.loads(_get(host, port, "/health"))
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:  # vLLM's engine core can take longer to stop: the figures are kept
            process.kill()
            process.wait()
    print(f"\n{'clients':>7} {'requests':>8} {'fail':>4} {'p50 s':>7} {'p95 s':>7} {'cand/s':>7} {'wall s':>7}")
    for row in rows:
        print(f"{row['clients']:>7} {row['requests']:>8} {row['failures']:>4} {row['p50']:>7.2f} {row['p95']:>7.2f} "
              f"{row['rate']:>7.2f} {row['wall']:>7.1f}")
    print(f"server: {health['writes']} write calls for {health['served']} requests, largest round {health['largest']}")
    warm = rows[0]["p50"]
    speedup, scale = cold / warm, rows[1]["rate"] / rows[0]["rate"]
    print(f"\nheadline: warm POST p50 {warm:.2f} s vs cold tianci generate {cold:.2f} s: x{speedup:.1f} "
          f"(target x{COLD_TARGET:.0f}: {'met' if speedup >= COLD_TARGET else 'NOT met'}); 8 clients "
          f"{rows[1]['rate']:.2f} cand/s vs 1 client {rows[0]['rate']:.2f}: x{scale:.1f} (target "
          f"x{CONCURRENCY_TARGET:.0f}: {'met' if scale >= CONCURRENCY_TARGET else 'NOT met'}); 32 clients "
          f"x{rows[2]['rate'] / rows[0]['rate']:.1f}")
    if has_vllm:
        engine_table(args.repeats)
    else:
        print("\n(engine table skipped: vLLM is not installed here; run .venv-vllm/bin/python bench/serve.py "
              "--engines-only)")


ENGINE_BATCHES = ((1, 1), (2, 4), (8, 4))  # (specs, candidates each): 1, 8 and 32 rows a call


def engine_rows(engine: str, repeats: int) -> list[dict]:
    """One engine's cells: for each batch, constrained (``Writer.write``: plan, decode under the constraint, read
    and check the candidates) and plain (the same prompts decoded without any processor, each row exactly as many
    tokens as the constrained rows took on average, end tokens ignored), alternating: the median of ``repeats``."""
    import torch

    from lyrics.decoding.prompt import build_prompt
    from lyrics.decoding.spec import LyricSpec
    from lyrics.models import DEFAULT_MODEL
    from pipeline.writer import Writer

    writer = Writer.load(str(DEFAULT_MODEL), engine=engine)
    threads = torch.get_num_threads()

    def plain(texts: list[str], length: int, seed: int) -> None:
        if engine == "vllm":
            from vllm import SamplingParams

            params = [SamplingParams(max_tokens=length, min_tokens=length, ignore_eos=True, temperature=0.9,
                                     top_p=0.95, seed=seed + k) for k in range(len(texts))]
            writer.decoder.llm.generate(texts, params, use_tqdm=False)
            return
        tokenizer, model = writer.tokenizer, writer.model
        inputs = tokenizer(texts, return_tensors="pt", add_special_tokens=False, padding=True, padding_side="left")
        torch.manual_seed(seed)
        with torch.inference_mode():
            model.generate(**inputs, do_sample=True, temperature=0.9, top_p=0.95, max_new_tokens=length,
                           min_new_tokens=length, pad_token_id=tokenizer.pad_token_id)

    rows = []
    for specs_count, n in ENGINE_BATCHES:
        specs = [writer.plan(LyricSpec.from_dict({"lang": "cmn", "topic": TOPICS[i], "structure": STRUCTURE}))
                 for i in range(specs_count)]
        texts = [build_prompt(spec, writer.tokenizer) for spec in specs for _ in range(n)]
        walls: dict[str, list[float]] = {"constrained": [], "plain": []}
        tokens = passed = 0
        for attempt in range(repeats + 1):  # the modes in turn, so both see the same load; the first call warms up
            began = time.perf_counter()
            candidates = [item.candidate for group in writer.write(specs, n, seed=attempt) for item in group]
            wall = time.perf_counter() - began
            tokens, passed = sum(c.tokens for c in candidates), sum(c.checks.ok for c in candidates)
            length = max(1, round(tokens / len(candidates)))
            began = time.perf_counter()
            plain(texts, length, attempt)
            if attempt:
                walls["constrained"].append(wall)
                walls["plain"].append(time.perf_counter() - began)
        for mode, times in walls.items():
            wall = statistics.median(times)
            count = tokens if mode == "constrained" else length * len(texts)
            rows.append({"engine": engine, "rows": len(texts), "mode": mode, "threads": threads, "wall": wall,
                         "tokens": count, "candidates": len(texts), "passed": passed if mode == "constrained" else None,
                         "tok_s": count / wall, "cand_s": len(texts) / wall})
            print(f"  {engine} {mode:>11} x{len(texts):<2} " + " ".join(f"{t:.2f}" for t in times) + " s", flush=True)
    writer.close()
    return rows


def engine_table(repeats: int) -> None:
    """Hugging Face vs vLLM, plain vs constrained, at 1, 8 and 32 rows: the table and its ratios."""
    print("\nengines in this process (models/tiny, no scorer; Hugging Face first, then vLLM):", flush=True)
    cells = {(r["engine"], r["rows"], r["mode"]): r for e in ("hf", "vllm") for r in engine_rows(e, repeats)}
    print(f"\n{'engine':>6} {'rows':>4} {'mode':>11} {'thr':>3} {'tokens':>6} {'wall s':>7} {'tok/s':>7} "
          f"{'cand/s':>7} {'pass':>5}")
    for row in cells.values():
        print(f"{row['engine']:>6} {row['rows']:>4} {row['mode']:>11} {row['threads']:>3} {row['tokens']:>6} "
              f"{row['wall']:>7.2f} {row['tok_s']:>7.0f} {row['cand_s']:>7.2f} "
              + (f"{row['passed']:>2}/{row['candidates']:<2}" if row["passed"] is not None else "    -"))
    print(f"\n{'rows':>4} {'vLLM/HF plain':>14} {'vLLM/HF constr':>15} {'HF constr/plain':>16} "
          f"{'vLLM constr/plain':>18}   (tokens/s ratios)")
    for specs_count, n in ENGINE_BATCHES:
        k = specs_count * n
        hf_p, hf_c = cells["hf", k, "plain"]["tok_s"], cells["hf", k, "constrained"]["tok_s"]
        vl_p, vl_c = cells["vllm", k, "plain"]["tok_s"], cells["vllm", k, "constrained"]["tok_s"]
        print(f"{k:>4} {vl_p / hf_p:>14.2f} {vl_c / hf_c:>15.2f} {hf_c / hf_p:>16.2f} {vl_c / vl_p:>18.2f}")
    ratio = cells["vllm", 32, "constrained"]["tok_s"] / cells["vllm", 32, "plain"]["tok_s"]
    print(f"\nheadline: vLLM constrained/plain tokens/s at 32 rows x{ratio:.2f} (target x0.9: "
          f"{'met' if ratio >= 0.9 else 'NOT met'})")


def _get(host: str, port: int, path: str) -> bytes:
    connection = http.client.HTTPConnection(host, port, timeout=60)
    connection.request("GET", path)
    data = connection.getresponse().read()
    connection.close()
    return data


if __name__ == "__main__":
    main()
