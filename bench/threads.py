"""Generation under load: the whole ``tianci generate`` command on a quiet machine and beside one busy
process (a pure-Python loop taking a core), in one run, for the thread policy of ``lyrics.models``
(``TIANCI_THREADS`` unset) and for torch's default of one thread per core (``TIANCI_THREADS=all``).

    python bench/threads.py [--reps N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [sys.executable, "-m", "tianci.cli", "generate", "--lang", "cmn", "--topic", "月光", "-n", "4", "--seed", "1"]
BUSY = [sys.executable, "-c", "import time\nend = time.time() + 600\nwhile time.time() < end: pass"]


def wall(env: dict, reps: int) -> float:
    runs = []
    for _ in range(reps):
        start = time.perf_counter()
        out = subprocess.run(COMMAND, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stderr
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "TIANCI_THREADS")}
    policies = {"Tianci's policy": base, "one thread per core": {**base, "TIANCI_THREADS": "all"}}
    results = {}
    for name, env in policies.items():
        quiet = wall(env, args.reps)
        neighbour = subprocess.Popen(BUSY)
        try:
            busy = wall(env, args.reps)
        finally:
            neighbour.kill()
            neighbour.wait()
        results[name] = (quiet, busy)
        print(f"{name}: quiet {quiet:.2f} s, one busy neighbour {busy:.2f} s, x{busy / quiet:.2f}")
    print("\nheadline: " + "; ".join(f"{name} x{busy / quiet:.2f} under load ({quiet:.2f} -> {busy:.2f} s)"
                                    for name, (quiet, busy) in results.items()))


if __name__ == "__main__":
    main()
