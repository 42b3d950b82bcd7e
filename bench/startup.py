"""Start-up: whole commands as a user runs them, median wall time of N runs each, against the targets of
issues 15 and 27, beside the floor that importing torch and transformers' Qwen3 model sets on this machine.

    python bench/startup.py [--reps N]

The first run of each command warms the disk caches (token tables, the Cantonese lexicon); the median is of
the runs after it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIANCI = [sys.executable, "-m", "tianci.cli"]
COMMANDS = {  # name: (command, target seconds)
    "python (nothing imported)": ([sys.executable, "-c", "pass"], None),
    "import torch": ([sys.executable, "-c", "import torch"], None),
    "import the Qwen3 model (the floor)": ([sys.executable, "-c", "import transformers.models.qwen3.modeling_qwen3"],
                                           None),
    "tianci --help": ([*TIANCI, "--help"], 1.5),
    "app.py --help": ([sys.executable, "app.py", "--help"], 1.5),
    "tianci analyze --lang cmn": ([*TIANCI, "analyze", "--lang", "cmn", "床前明月光"], None),
    "tianci analyze --lang yue": ([*TIANCI, "analyze", "--lang", "yue", "月光照海港"], 1.5),
    "tianci generate (cmn)": ([*TIANCI, "generate", "--lang", "cmn", "--topic", "月光", "-n", "4", "--seed", "1"], 3.0),
    "tianci generate (yue)": ([*TIANCI, "generate", "--lang", "yue", "--topic", "海港", "-n", "4", "--seed", "1"], 3.0),
}


def wall(command: list[str], reps: int) -> float:
    runs = []
    for _ in range(reps + 1):
        start = time.perf_counter()
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stderr
        runs.append(time.perf_counter() - start)
    return statistics.median(runs[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    floor = None
    print(f"{'command':40} {'median s':>9} {'target':>7}  met")
    for name, (command, target) in COMMANDS.items():
        seconds = wall(command, args.reps)
        floor = seconds if name.startswith("import the Qwen3") else floor
        verdict = "" if target is None else ("yes" if seconds <= target else "no")
        print(f"{name:40} {seconds:9.2f} {target or '':>7}  {verdict}")
    print(f"\nthe Qwen3 import alone takes {floor:.2f} s here: a generate command cannot start faster than that")


if __name__ == "__main__":
    main()
