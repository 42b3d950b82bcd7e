"""Tianci's entry points: the command line (``tianci``)."""
