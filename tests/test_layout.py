"""Layering: phonetics never imports torch (everything, including light tools, reads it)."""

import subprocess
import sys


def test_phonetics_imports_no_torch():
    code = ("import sys, phonetics; phonetics.analyze('月光', 'yue'); "
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
