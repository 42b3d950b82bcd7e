"""Errors of what a user gave (text, a spec, a config, a file, a model path), under one base class.

Every layer raises a subclass of :class:`TianciError` for input it cannot use, with a message of one line
that says what to change; the command line and the demo each catch ``TianciError`` once, at their boundary.
"""


class TianciError(Exception):
    """Bad input somewhere in Tianci; the message is the whole one-line explanation."""


class PhoneticsError(TianciError, ValueError):
    """Text, a language or a rhyme scheme that phonetics cannot read."""
