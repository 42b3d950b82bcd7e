"""The shipped corpus file and the writing workflow around it.

Writers answer a batch of briefs (``corpus/briefs/BATCH.jsonl``) with one ``{"id", "lyrics"}`` object a line
(``corpus/raw/BATCH.jsonl``). :func:`check_files` reads such answers (or corpus records, which carry their
brief) and says what fails; :func:`add_to_corpus` adds the songs that pass, and are no near-duplicate of
a song already there, to the corpus folder ``corpus/songs/``: JSON Lines files of at most :data:`SHARD_SONGS`
songs of one language each (``cmn-00.jsonl`` holds Mandarin briefs 0-1999), so no file grows past a few MB.
A song's split (train / valid / test) is a hash of its id.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lyrics.files import json_objects, write_atomic, write_jsonl
from lyrics.modern.briefs import Brief
from lyrics.modern.check import CorpusCheck, Song, normalise
from phonetics import TianciError

CORPUS_DIR = Path(__file__).resolve().parents[2] / "corpus"
CORPUS = CORPUS_DIR / "songs"
SHARD_SONGS = 2000  # songs a corpus file holds: about 2 MB
TEST_SHARE, VALID_SHARE = 0.06, 0.04  # of songs, by a hash of the id: the test split is never trained on


class CorpusError(TianciError, ValueError):
    """Unreadable corpus input; the message names the file and line."""


def split_of(song_id: str) -> str:
    """train / valid / test, fixed by the song id alone.

    >>> split_of("cmn-s1-00000") in {"train", "valid", "test"}
    True
    """
    bucket = int(hashlib.sha256(song_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if bucket < TEST_SHARE else "valid" if bucket < TEST_SHARE + VALID_SHARE else "train"


def corpus_files(corpus: Path) -> list[Path]:
    """The JSON Lines files of a corpus: a folder's ``*.jsonl`` in order, or a single file (none if absent)."""
    corpus = Path(corpus)
    if corpus.is_dir():
        return sorted(corpus.glob("*.jsonl"))
    return [corpus] if corpus.is_file() else []


def shard_of(song: Song) -> str:
    """The corpus file a song belongs in: its language and the thousands of its brief number.

    >>> from lyrics.modern.briefs import BriefSampler
    >>> brief = BriefSampler().brief("yue", 1, 2345)
    >>> shard_of(Song(brief.id, "yue-b058", brief, "..."))
    'yue-01.jsonl'
    """
    number = re.search(r"(\d+)$", song.id)
    part = f"{int(number.group(1)) // SHARD_SONGS:02d}" if number else "other"
    return f"{song.brief.lang}-{part}.jsonl"


def _objects(path: Path) -> Iterator[tuple[int, dict]]:
    try:
        text = Path(path).read_text("utf-8")
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file; give a JSON Lines file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise CorpusError(f"{path}: cannot read it as UTF-8 text ({err.__class__.__name__})") from None
    yield from json_objects(text.splitlines(), path, CorpusError)


def load_briefs(paths: Iterable[Path]) -> dict[str, Brief]:
    briefs = {}
    for path in paths:
        for number, data in _objects(path):
            try:
                brief = Brief.from_dict(data)
            except (KeyError, TypeError) as err:
                raise CorpusError(f"{path}:{number}: not a brief ({err})") from None
            briefs[brief.id] = brief
    return briefs


def read_songs(path: Path, briefs: dict[str, Brief] | None = None) -> Iterator[Song | str]:
    """The songs of ``path`` (corpus records, or writers' answers matched to ``briefs``), or for an unusable
    line the reason, starting with its location."""
    batch = Path(path).stem
    for number, data in _objects(path):
        where = f"{path}:{number}"
        lyrics, song_id = data.get("lyrics"), data.get("id")
        if not isinstance(lyrics, str) or not isinstance(song_id, str):
            yield f"{where}: needs a string 'id' and a string 'lyrics'"
            continue
        if "brief" in data:
            try:
                song = Song.from_dict(data)
            except (KeyError, TypeError) as err:
                yield f"{where}: malformed corpus record ({err})"
                continue
        elif briefs is not None and song_id in briefs:
            song = Song(song_id, batch, briefs[song_id], lyrics)
        else:
            yield f"{where}: no brief with id {song_id!r} (give the batch's --briefs file)"
            continue
        yield Song(song.id, song.batch, song.brief, normalise(song.lyrics, song.brief.lang))


@dataclass
class CheckResult:
    kept: list[Song] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (song id or location, reason)
    already: int = 0  # songs the corpus already holds as they are (a batch file added again as it grows)
    revised: list[str] = field(default_factory=list)  # ids of kept songs that replace an older version


def check_files(paths: Iterable[Path], briefs: dict[str, Brief] | None = None,
                against: Path | None = CORPUS, progress=None) -> CheckResult:
    """Check every song of ``paths`` (files, or corpus folders); near-duplicates are sought among the songs of
    ``against`` too."""
    check = CorpusCheck()
    for known in corpus_files(against) if against is not None else []:
        for song in read_songs(known):
            if isinstance(song, Song):
                check.remember(song)
    result = CheckResult()
    in_corpus = {song.id: song.lyrics for song in check.kept}
    for path in (part for given in paths for part in (corpus_files(given) if Path(given).is_dir() else [given])):
        for song in read_songs(path, briefs):
            if progress is not None:
                progress.update()
            if isinstance(song, str):
                result.rejected.append((song.split(": ")[0], song.split(": ", 1)[1]))
                continue
            if in_corpus.get(song.id) == song.lyrics:
                result.already += 1
                continue
            revision = song.id in in_corpus
            problems = check.add(song, revision=revision)
            if problems:
                result.rejected += [(song.id, problem) for problem in problems]
            else:
                result.kept.append(song)
                if revision:
                    result.revised.append(song.id)
    return result


def add_to_corpus(result: CheckResult, corpus: Path = CORPUS) -> int:
    """Add the kept songs to ``corpus`` (a folder of shards, see :func:`shard_of`, or a single file; each file
    written whole, atomically) and the rejections to ``rejections.jsonl`` beside it; the number added. A revised
    song takes its old version's place."""
    corpus = Path(corpus)
    log = corpus.parent / "rejections.jsonl"
    old = log.read_text("utf-8") if log.is_file() else ""
    write_atomic(log, old + "".join(json.dumps({"id": where, "reason": reason}, ensure_ascii=False) + "\n"
                                    for where, reason in result.rejected))
    files = {path.name: [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
             for path in corpus_files(corpus)}
    newer = {song.id: song for song in result.kept}
    for rows in files.values():
        rows[:] = [newer.pop(row["id"]).to_dict() if row["id"] in newer else row for row in rows]
    single = corpus.suffix == ".jsonl"  # a file given by the user: everything goes in it
    for song in newer.values():
        files.setdefault(corpus.name if single else shard_of(song), []).append(song.to_dict())
    for name, rows in files.items():
        write_jsonl(corpus if single else corpus / name, rows)
    return len(result.kept) - len(result.revised)


def corpus_songs(corpus: Path = CORPUS) -> list[Song]:
    """The songs of the corpus (a folder or a file; none when it does not exist)."""
    songs = [song for path in corpus_files(corpus) for song in read_songs(path)]
    if bad := [s for s in songs if isinstance(s, str)]:
        raise CorpusError(bad[0])
    return songs  # type: ignore[return-value]
