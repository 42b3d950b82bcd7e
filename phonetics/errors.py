"""Errors of what a user gave (text, a spec, a config, a file, a model path), under one base class.

Every layer raises a subclass of :class:`TianciError` for input it cannot use, with a message of one line
that says what to change; the command line and the demo each catch ``TianciError`` once, at their boundary.
"""

import sys


class TianciError(Exception):
    """Bad input somewhere in Tianci; the message is the whole one-line explanation."""


class PhoneticsError(TianciError, ValueError):
    """Text, a language or a rhyme scheme that phonetics cannot read."""


def warn_renamed(old: str, new: str) -> None:
    """A user gave a name that has been renamed (a flag, a config key, a request key): it still works, and one
    line on standard error says what replaced it.

    >>> import contextlib, io, sys
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     warn_renamed("--keyword-bias", "--keyword-pull")
    >>> err.getvalue()
    'warning: --keyword-bias is deprecated; use --keyword-pull\\n'
    """
    print(f"warning: {old} is deprecated; use {new}", file=sys.stderr, flush=True)
