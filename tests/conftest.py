"""Shared fixtures. Tests run on the real libraries and the real assets that `make setup` fetched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real `tianci` command line, in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "lyrics.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=300, check=False)


@pytest.fixture(scope="session")
def cli():
    return run_cli
