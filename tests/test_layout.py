"""Layering: phonetics never imports torch (everything, including light tools, reads it)."""

import subprocess
import sys


def test_phonetics_imports_no_torch():
    code = ("import sys, phonetics; phonetics.analyze('月光', 'yue'); "
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_cli_analyses_without_importing_torch():
    """`tianci analyze` starts fast: the command line reaches torch only when a model is loaded."""
    code = ("import sys; from tianci.cli import main; main(['analyze', '--json', '月光']); "
            "print([m for m in ('torch', 'transformers') if m in sys.modules], file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip() == "[]" and '"rhyme"' in out.stdout
