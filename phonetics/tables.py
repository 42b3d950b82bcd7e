"""Loads the linguistic tables in ``phonetics/data`` (kept as data, apart from the code that reads them)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load_table(name: str) -> dict[str, Any]:
    """The JSON table ``phonetics/data/<name>.json``."""
    return json.loads(resources.files("phonetics").joinpath("data", f"{name}.json").read_text("utf-8"))
