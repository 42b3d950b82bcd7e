"""The ratings store: human ratings of lyrics in one SQLite file (WAL mode), read by the scorer's training.

Two tables: ``ratings`` (a prompt, the lyrics, aspect scores 1-5, the rater, the model, the time) and
``comparisons`` (the demo's blind Compare tab: one prompt through two models, each side rated 1-5).
Every write is one short transaction; WAL lets readers run beside a writer, and a busy timeout makes
concurrent writers wait their turn instead of failing, so none loses a row.
"""

from __future__ import annotations

import csv
import json
import math
import sqlite3
import statistics
from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

from lyrics.data.assets import tianci_home
from lyrics.decoding.spec import clean_text, cleaned
from lyrics.files import json_objects, replacing_file, utf8_lines
from phonetics import TianciError

ASPECTS = ("overall", "language", "relevance", "content")  # 1-5: overall, language quality, topic, substance
FIELDS = ("prompt", "lyrics", *ASPECTS, "rater", "model", "created")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY, prompt TEXT NOT NULL, lyrics TEXT NOT NULL,
    overall REAL, language REAL, relevance REAL, content REAL,
    rater TEXT NOT NULL DEFAULT '', model TEXT NOT NULL DEFAULT '', created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS comparisons (
    id INTEGER PRIMARY KEY, prompt TEXT NOT NULL,
    model_a TEXT NOT NULL, lyrics_a TEXT NOT NULL, score_a REAL NOT NULL,
    model_b TEXT NOT NULL, lyrics_b TEXT NOT NULL, score_b REAL NOT NULL,
    rater TEXT NOT NULL DEFAULT '', created TEXT NOT NULL);
"""



def default_ratings_db() -> Path:
    """``$TIANCI_HOME/ratings.sqlite``: where the demo stores ratings and ``tianci ratings`` reads them."""
    return tianci_home() / "ratings.sqlite"

class RatingsError(TianciError, ValueError):
    """A rating or file that cannot be stored; one line saying what to change."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _score(value, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise RatingsError(f"{name}: {value!r} is not a number; give 1-5") from None
    if not 1 <= score <= 5:
        raise RatingsError(f"{name}: {score:g} is outside 1-5")
    return score


def _text(value, name: str) -> str:
    """A text field of an imported rating: text as it is; a prompt object (as ``tianci score`` writes it) as
    JSON; lyrics as a list of lines joined; anything else a one-line error."""
    if value is None or isinstance(value, str):
        return value or ""
    if name == "prompt" and isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if name == "lyrics" and isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "\n".join(value)
    raise RatingsError(f"{name}: give text, not {type(value).__name__} {json.dumps(value, ensure_ascii=False)[:40]}")


class RatingsStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        if self.path.is_dir() or (self.path.exists() and not self.path.is_file()):
            raise RatingsError(f"--db {self.path}: not a regular file (a folder or device); give a .sqlite file path")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:  # not a database, read-only, cannot open
            raise RatingsError(f"--db {self.path}: cannot use it as the ratings store ({err}); give a writable "
                               "SQLite file (or a new path)") from None
        except OSError as err:
            raise RatingsError(f"--db {self.path}: cannot write there ({err.strerror or err}); give a writable "
                               "path") from None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)  # autocommit; explicit BEGIN below
        db.execute("PRAGMA busy_timeout=60000")
        db.row_factory = sqlite3.Row
        return db

    def add(self, prompt: str, lyrics: str, scores: dict, rater: str = "", model: str = "",
            created: str | None = None) -> int:
        prompt, lyrics, rater, model = (clean_text(str(text)) for text in (prompt, lyrics, rater, model))
        if not prompt.strip() or not lyrics.strip():
            raise RatingsError("a rating needs a prompt and lyrics")
        values = {a: _score(scores.get(a), a) for a in ASPECTS}
        if all(v is None for v in values.values()):
            raise RatingsError(f"give at least one of {', '.join(ASPECTS)} (1-5)")
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            cursor = db.execute(
                f"INSERT INTO ratings ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))})",
                (prompt, lyrics, *values.values(), rater, model, created or _now()))
            db.execute("COMMIT")
            return int(cursor.lastrowid)

    def compare(self, prompt: str, a: tuple[str, str, float], b: tuple[str, str, float], rater: str = "") -> int:
        """A blind comparison: (model, lyrics, score 1-5) for each side."""
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            cursor = db.execute(
                "INSERT INTO comparisons (prompt, model_a, lyrics_a, score_a, model_b, lyrics_b, score_b, rater,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (prompt, a[0], a[1], _score(a[2], "score"), b[0], b[1], _score(b[2], "score"), rater, _now()))
            db.execute("COMMIT")
            return int(cursor.lastrowid)

    def ratings(self) -> list[dict]:
        with closing(self._connect()) as db:
            return [dict(row) for row in db.execute(f"SELECT id, {', '.join(FIELDS)} FROM ratings ORDER BY id")]

    def comparisons(self) -> list[dict]:
        with closing(self._connect()) as db:
            return [dict(row) for row in db.execute("SELECT * FROM comparisons ORDER BY id")]

    # ---- files ------------------------------------------------------------------------------------

    def import_file(self, path: Path) -> int:
        """Rows from JSON Lines or CSV (by suffix), all or none: a bad row stops the import before any write."""
        rows = list(_read_rows(path))
        checked = []
        for number, row in enumerate(rows, 1):
            try:
                scores = {a: _score(row.get(a), a) for a in ASPECTS}
                texts = {name: _text(row.get(name), name) for name in ("prompt", "lyrics", "rater", "model",
                                                                         "created")}
                if not texts["prompt"].strip() or not texts["lyrics"].strip():
                    raise RatingsError("a rating needs a prompt and lyrics")
                if all(v is None for v in scores.values()):
                    raise RatingsError(f"no scores; give at least one of {', '.join(ASPECTS)} (1-5)")
            except RatingsError as err:
                raise RatingsError(f"{path}: row {number}: {err}") from None
            checked.append((texts["prompt"], texts["lyrics"], *scores.values(), texts["rater"], texts["model"],
                            texts["created"] or _now()))
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(f"INSERT INTO ratings ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))})",
                           checked)
            db.execute("COMMIT")
        return len(checked)

    def export_file(self, path: Path) -> int:
        rows = self.ratings()
        with replacing_file(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as handle:
            if path.suffix == ".csv":
                writer = csv.DictWriter(handle, fieldnames=["id", *FIELDS])
                writer.writeheader()
                writer.writerows(rows)
            else:
                handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        return len(rows)


def _read_rows(path: Path) -> Iterator[dict]:
    if not path.is_file():
        raise RatingsError(f"{path}: no such file")
    lines = []
    for number, line in enumerate(utf8_lines(path.read_bytes()), 1):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise RatingsError(f"{path}: line {number} is not UTF-8 (byte {err.start + 1}); save the file as "
                               "UTF-8") from None
    if path.suffix == ".csv":
        try:
            yield from map(cleaned, csv.DictReader(lines))
        except csv.Error as err:
            raise RatingsError(f"{path}: not a CSV file ({err})") from None
        return
    for _, row in json_objects(lines, path, RatingsError):
        yield cleaned(row)  # lone surrogates and control characters, which SQLite cannot store, made safe


Z95 = 1.96  # the normal quantile of a two-sided 95% interval


def mean_interval(values: Iterable[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% interval (normal approximation; t for small samples would be
    wider, so read intervals from fewer than 30 ratings as optimistic)."""
    values = list(values)
    if not values:
        return math.nan, math.nan
    if len(values) == 1:
        return values[0], math.inf
    return statistics.fmean(values), Z95 * statistics.stdev(values) / math.sqrt(len(values))


def rating_mos(ratings: list[dict]) -> dict[str, dict[str, dict]]:
    """Per model (the ``model`` a rating names; "" when none), per aspect: mean opinion score, its 95% interval
    and the count, from single ratings (the demo's Write tab, imports, blind panels).

    >>> report = rating_mos([{"model": "m", "overall": 4.0, "language": None, "relevance": 5.0},
    ...                      {"model": "m", "overall": 2.0, "language": 3.0, "relevance": None}])
    >>> report["m"]["overall"], report["m"]["language"]
    ({'mos': 3.0, 'ci95': 1.96, 'ratings': 2}, {'mos': 3.0, 'ci95': inf, 'ratings': 1})
    """
    by_model: dict[str, dict[str, list[float]]] = {}
    for row in ratings:
        aspects = by_model.setdefault(row.get("model") or "", {})
        for aspect in ASPECTS:
            if row.get(aspect) is not None:
                aspects.setdefault(aspect, []).append(float(row[aspect]))
    return {model: {aspect: {"mos": round(mean, 3), "ci95": round(ci, 3), "ratings": len(values)}
                    for aspect, values in aspects.items() for mean, ci in [mean_interval(values)]}
            for model, aspects in sorted(by_model.items())}


def mos_report(comparisons: list[dict]) -> dict:
    """Per model: mean opinion score with its 95% interval; per pair: how often each side was preferred."""
    scores: dict[str, list[float]] = {}
    pairs: dict[tuple[str, str], list[int]] = {}
    for row in comparisons:
        scores.setdefault(row["model_a"], []).append(row["score_a"])
        scores.setdefault(row["model_b"], []).append(row["score_b"])
        first, second = sorted((row["model_a"], row["model_b"]))
        a_score = row["score_a"] if row["model_a"] == first else row["score_b"]
        b_score = row["score_b"] if row["model_a"] == first else row["score_a"]
        tally = pairs.setdefault((first, second), [0, 0, 0])  # first wins, second wins, ties
        tally[0 if a_score > b_score else 1 if b_score > a_score else 2] += 1
    models = {m: dict(zip(("mos", "ci95"), mean_interval(v), strict=True)) | {"ratings": len(v)}
              for m, v in scores.items()}
    preference = [{"a": a, "b": b, "a_preferred": t[0] / sum(t), "b_preferred": t[1] / sum(t), "ties": t[2] / sum(t),
                   "comparisons": sum(t)} for (a, b), t in pairs.items()]
    return {"models": models, "pairs": preference}
