"""Tianci's Gradio demo: write, analyze, compare and rate lyrics (the page itself is ``tianci/demo.py``).

    python app.py [--host 127.0.0.1] [--port 7860] [--auth USER:PASS] [--models DIR ...] [--db FILE]

Bound to 127.0.0.1 unless ``--host`` says otherwise. API endpoints: ``/generate`` (the spec's fields) and
``/analyze`` (``text``, ``lang``); see the README for a ``gradio_client`` example.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Tianci's Gradio demo")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--auth", default=None, help="USER:PASS to require a login")
    parser.add_argument("--models", nargs="+", default=None, metavar="DIR",
                        help="the model folders the page offers, by folder name (default: the shipped models/tiny)")
    parser.add_argument("--db", type=Path, default=None, help="ratings store (default $TIANCI_HOME/ratings.sqlite)")
    parser.add_argument("--concurrency", type=int, default=2, help="requests served at once (default 2)")
    parser.add_argument("--scorer", default=None,
                        help="scorer ranking the candidates (default: the shipped models/scorer-tiny; 'none': off)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    # gradio, torch and the models load only now: --help and a mistyped flag answer at once
    from tianci.demo import serve

    serve(args)


if __name__ == "__main__":
    main()
