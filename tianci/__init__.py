"""Tianci's entry points: the command line (``tianci``)."""

import os as _os
import sys as _sys

# ``tianci analyze`` runs numpy on small matrices only (the Mandarin context model: a 64x256 product a step), where
# OpenBLAS's threads cost more in hand-offs than they save, and far more on a busy machine (100k characters: 4.9 s of
# CPU against 3.0 on one thread, the same readings). Set before numpy loads; the user's own setting wins.
if _sys.argv[1:2] == ["analyze"]:
    _os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
