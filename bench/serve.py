"""`tianci serve` against a cold `tianci generate` on this machine, in one run: the cold command's wall time
(a fresh interpreter: imports, model load, decoding), then a warm server (`tianci serve`, its own process, the
shipped models/tiny with its scorer) answering `POST /v1/lyrics` (4 x 7 syllables, n = 4, no seed, topics in
turn) under 1, 8 and 32 concurrent clients: latency p50/p95 and aggregate candidates/s. The targets (issue 29):
a warm request at least 5x faster than the cold command; 8 clients at least 3x one client's candidates/s.

    python bench/serve.py [--requests 8] [--cold 3] [--max-batch 16]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def start_server(max_batch: int) -> tuple[subprocess.Popen, str, int]:
    """`tianci serve` on a free loopback port; (process, host, port) once it listens."""
    process = subprocess.Popen([sys.executable, "-m", "tianci.cli", "serve", "--port", "0", "--max-batch",
                                str(max_batch)], stderr=subprocess.PIPE, text=True, cwd=ROOT)
    line = process.stderr.readline()
    if not line.startswith("tianci serve: http://"):
        process.kill()
        raise SystemExit(f"the server did not start: {line}{process.stderr.read()}")
    host, port = line.split()[2].removeprefix("http://").rsplit(":", 1)
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
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}, "
          f"spec {STRUCTURE} n={N}, models/tiny + models/scorer-tiny", flush=True)
    colds = [cold_generate() for _ in range(args.cold)]
    cold = statistics.median(colds)
    print(f"cold tianci generate: {', '.join(f'{s:.2f}' for s in colds)} s (median {cold:.2f} s)", flush=True)
    process, host, port = start_server(args.max_batch)
    try:
        load(host, port, 2, 2)  # warm-up: first calls compile constraints and fill caches
        rows = [load(host, port, clients, max(2, args.requests // max(1, clients // 4)))
                for clients in (1, 8, 32)]
        health = json.loads(_get(host, port, "/health"))
    finally:
        process.terminate()
        process.wait(30)
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


def _get(host: str, port: int, path: str) -> bytes:
    connection = http.client.HTTPConnection(host, port, timeout=60)
    connection.request("GET", path)
    data = connection.getresponse().read()
    connection.close()
    return data


if __name__ == "__main__":
    main()
