"""Hostile input to the command line, as a new user or an attacker would type it: every case must end in a clear
one-line error (exit 2) or a result (exit 0), never a traceback, and destroy nothing. Prints a line per case that
fails that, then the counts (cases, tracebacks, multi-line errors, other exit codes, damaged files).

    python bench/hostile_inputs.py [--only SUBSTRING]

Cases cover the issue that asked for them: devices, folders and other people's files as OUT; lone surrogates,
control characters and markup in every text; numbers out of range; truncated and absurd melodies and MIDI files;
malformed, binary, UTF-16 and GBK spec, record and ratings files; stores that are not SQLite files; model paths
that are not models; Ray addresses that are not clusters.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIANCI = [sys.executable, "-m", "tianci.cli"]
SPEC = {"id": "a", "lang": "cmn", "topic": "月光", "structure": "5A 5A"}


def files(tmp: Path) -> dict[str, Path]:
    """The inputs the cases read, and the files they must not damage."""
    out: dict[str, Path] = {}

    def put(name: str, data: bytes | str) -> None:
        out[name] = tmp / name
        out[name].write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)

    put("specs.jsonl", json.dumps(SPEC) + "\n")
    put("specs-utf16.jsonl", (json.dumps(SPEC) + "\n").encode("utf-16"))
    put("specs-bom.jsonl", (json.dumps(SPEC) + "\n").encode("utf-8-sig"))
    put("specs-gbk.jsonl", json.dumps(SPEC, ensure_ascii=False).encode("gbk") + b"\n")
    put("specs-binary.jsonl", bytes(range(256)) * 4)
    put("specs-mixed.jsonl", "\n".join([json.dumps(SPEC), "{not json", "[1, 2]", json.dumps({**SPEC, "id": "b",
            "topic": "\ud800"}), json.dumps({**SPEC, "id": "a"}), json.dumps({**SPEC, "id": "c", "lang": "xx"})]))
    put("records.jsonl", json.dumps({"lang": "cmn", "topic": "月", "lyrics": "床前明月光"}) + "\n")
    put("records-bad.jsonl", "\n".join([json.dumps({"lang": "xx", "lyrics": "月"}), json.dumps({"lyrics": ""}),
                                        "garbage", json.dumps({"better": {"lyrics": "月", "lang": "xx"}})]) + "\n")
    put("records-gbk.jsonl", json.dumps({"topic": "月", "lyrics": "床前明月光"}, ensure_ascii=False).encode("gbk"))
    put("ratings-dict.jsonl", json.dumps({"prompt": {"topic": "月"}, "lyrics": ["床前", "明月"], "overall": 4}))
    put("ratings-rater.jsonl", json.dumps({"prompt": "月", "lyrics": "床", "overall": 4, "rater": {"a": 1}}))
    put("ratings-noscore.jsonl", json.dumps({"prompt": "月", "lyrics": "床"}))
    put("ratings-surrogate.jsonl", '{"prompt": "\\ud800", "lyrics": "\\udfff", "overall": 3}\n')
    put("ratings-gbk.csv", "prompt,lyrics,overall\n月,床前,4\n".encode("gbk"))
    put("ratings-binary.jsonl", b"\x00\xff\xfe" * 30)
    put("notes.sqlite", b"my notes, not a database" * 10)
    put("Makefile.copy", b"all:\n\techo hi\n")
    put("binary.out", b"\x7fELF\x02\x01\x01" * 20)
    put("truncated.mid", b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01")
    put("empty.mid", b"")
    out["folder"] = tmp / "folder"
    out["folder"].mkdir()
    out["device"] = tmp / "full"
    os.mknod(out["device"], stat.S_IFCHR | 0o666, os.makedev(1, 7))
    return out


def cases(f: dict[str, Path]) -> list[tuple[str, list[str]]]:
    g = ["generate", "--topic", "月", "-n", "1"]
    return [
        ("analyze backslash markup", ["analyze", "月光\\照我[bold]"]),
        ("analyze empty", ["analyze", ""]),
        ("analyze lone surrogate", ["analyze", "\udc80月"]),
        ("analyze control characters", ["analyze", "月\x07\x1b[31m光"]),
        ("analyze 40k characters", ["analyze", "月" * 40_000]),  # a longer argument is refused by the OS
        ("generate surrogate topic", ["generate", "--topic", "\udcff月", "-n", "1"]),
        ("generate 40k genre", [*g, "--genre", "长" * 40_000]),
        ("generate temperature 1e308", [*g, "--temperature", "1e308"]),
        ("generate temperature nan", [*g, "--temperature", "nan"]),
        ("generate top-p 5", [*g, "--top-p", "5"]),
        ("generate seed 2^70", [*g, "--seed", str(2**70)]),
        ("generate seed -3", [*g, "--seed", "-3"]),
        ("generate n 0", ["generate", "--topic", "月", "-n", "0"]),
        ("generate empty structure", [*g, "--structure", ""]),
        ("generate 64 x 30 structure", [*g, "--structure", " ".join(["30A"] * 64)]),
        ("generate unknown rhyme", [*g, "--rhymes", "A=xyz"]),
        ("generate bad tones", [*g, "--structure", "5A", "--tones", "平平平"]),
        ("generate melody absurd octave", [*g, "--melody", "1''''''''' 2 3 4 5"]),
        ("generate melody garbage", [*g, "--melody", "hello"]),
        ("generate truncated midi", [*g, "--midi", str(f["truncated.mid"])]),
        ("generate empty midi", [*g, "--midi", str(f["empty.mid"])]),
        ("generate midi is a folder", [*g, "--midi", str(f["folder"])]),
        ("generate scorer as generator", [*g, "--model", "models/scorer-tiny"]),
        ("generate missing model path", [*g, "--model", "./no/such/model"]),
        ("generate export to a device", [*g, "--export", str(f["device"])]),
        ("generate register for Mandarin", [*g, "--register", "colloquial"]),
        ("batch OUT a device", ["batch", str(f["specs.jsonl"]), str(f["device"])]),
        ("batch OUT a folder", ["batch", str(f["specs.jsonl"]), str(f["folder"])]),
        ("batch OUT a Makefile", ["batch", str(f["specs.jsonl"]), str(f["Makefile.copy"])]),
        ("batch OUT a binary", ["batch", str(f["specs.jsonl"]), str(f["binary.out"])]),
        ("batch OUT = SPECS", ["batch", str(f["specs.jsonl"]), str(f["specs.jsonl"])]),
        ("batch SPECS missing", ["batch", str(f["folder"] / "none.jsonl"), str(f["folder"] / "o1.jsonl")]),
        ("batch seed -3", ["batch", str(f["specs.jsonl"]), str(f["folder"] / "o2.jsonl"), "--seed", "-3"]),
        ("batch UTF-16 specs", ["batch", str(f["specs-utf16.jsonl"]), str(f["folder"] / "o3.jsonl"), "-n", "1"]),
        ("batch BOM specs", ["batch", str(f["specs-bom.jsonl"]), str(f["folder"] / "o4.jsonl"), "-n", "1"]),
        ("batch GBK specs", ["batch", str(f["specs-gbk.jsonl"]), str(f["folder"] / "o5.jsonl"), "-n", "1"]),
        ("batch binary specs", ["batch", str(f["specs-binary.jsonl"]), str(f["folder"] / "o6.jsonl"), "-n", "1"]),
        ("batch mixed bad lines", ["batch", str(f["specs-mixed.jsonl"]), str(f["folder"] / "o7.jsonl"), "-n", "1"]),
        ("batch ray bad address", ["batch", str(f["specs.jsonl"]), str(f["folder"] / "o8.jsonl"), "--engine", "ray",
                                   "--address", "256.1.1.1:99999"]),
        ("batch ray dead address", ["batch", str(f["specs.jsonl"]), str(f["folder"] / "o9.jsonl"), "--engine", "ray",
                                    "--address", "127.0.0.1:1"]),
        ("score OUT a device", ["score", str(f["records.jsonl"]), str(f["device"])]),
        ("score OUT a folder", ["score", str(f["records.jsonl"]), str(f["folder"])]),
        ("score bad records", ["score", str(f["records-bad.jsonl"]), str(f["folder"] / "s1.jsonl")]),
        ("score GBK records", ["score", str(f["records-gbk.jsonl"]), str(f["folder"] / "s2.jsonl")]),
        ("score missing scorer", ["score", str(f["records.jsonl"]), str(f["folder"] / "s3.jsonl"), "--scorer",
                                  "/nonexistent"]),
        ("ratings import dict prompt", ["ratings", "import", str(f["ratings-dict.jsonl"]), "--db",
                                        str(f["folder"] / "r.sqlite")]),
        ("ratings import object rater", ["ratings", "import", str(f["ratings-rater.jsonl"]), "--db",
                                         str(f["folder"] / "r.sqlite")]),
        ("ratings import no scores", ["ratings", "import", str(f["ratings-noscore.jsonl"]), "--db",
                                      str(f["folder"] / "r.sqlite")]),
        ("ratings import surrogates", ["ratings", "import", str(f["ratings-surrogate.jsonl"]), "--db",
                                       str(f["folder"] / "r.sqlite")]),
        ("ratings import GBK CSV", ["ratings", "import", str(f["ratings-gbk.csv"]), "--db",
                                    str(f["folder"] / "r.sqlite")]),
        ("ratings import binary", ["ratings", "import", str(f["ratings-binary.jsonl"]), "--db",
                                   str(f["folder"] / "r.sqlite")]),
        ("ratings --db a folder", ["ratings", "mos", "--db", str(f["folder"])]),
        ("ratings --db a device", ["ratings", "mos", "--db", str(f["device"])]),
        ("ratings --db not SQLite", ["ratings", "mos", "--db", str(f["notes.sqlite"])]),
        ("ratings --db unwritable", ["ratings", "mos", "--db", str(f["notes.sqlite"] / "r.sqlite")]),
        ("ratings export a device", ["ratings", "export", str(f["device"]), "--db", str(f["folder"] / "r.sqlite")]),
        ("ratings mos", ["ratings", "mos", "--db", str(f["folder"] / "r.sqlite")]),
        ("corpus check missing", ["corpus", "check", str(f["folder"] / "none.jsonl")]),
        ("data build bad source", ["data", "build", "--sources", "nope", "--out", str(f["folder"] / "d")]),
        ("unknown command", ["frobnicate"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="run the cases whose name holds this")
    args = parser.parse_args()
    tracebacks = multi_line = other_exit = damaged = run = 0
    with tempfile.TemporaryDirectory() as folder:
        f = files(Path(folder))
        kept = {name: path.read_bytes() for name, path in f.items() if path.is_file()}
        for name, argv in cases(f):
            if args.only not in name:
                continue
            run += 1
            env = {**os.environ, "PYTHONIOENCODING": "utf-8:surrogateescape"}
            done = subprocess.run([*TIANCI, *argv], cwd=ROOT, capture_output=True, timeout=300, env=env)
            err = done.stderr.decode("utf-8", "replace")
            problems = []
            if "Traceback" in err:
                tracebacks += 1
                problems.append("traceback")
            if done.returncode == 2 and err.strip().count("\n"):
                multi_line += 1
                problems.append("error of several lines")
            if done.returncode not in (0, 2):
                other_exit += 1
                problems.append(f"exit {done.returncode}")
            for path_name, data in kept.items():
                if not f[path_name].is_file() or f[path_name].read_bytes() != data:
                    damaged += 1
                    problems.append(f"{path_name} changed")
                    kept[path_name] = f[path_name].read_bytes() if f[path_name].is_file() else b""
            if not stat.S_ISCHR(os.stat(f["device"]).st_mode):
                damaged += 1
                problems.append("the device was replaced")
            last = (err.strip().splitlines() or [""])[-1][:150]
            print(f"{'FAIL' if problems else 'ok  '} {name}: exit {done.returncode} {'; '.join(problems)} | {last}")
    print(f"\n{run} cases: {tracebacks} tracebacks, {multi_line} errors of several lines, {other_exit} other exit "
          f"codes, {damaged} files damaged")


if __name__ == "__main__":
    main()
