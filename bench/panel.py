"""A blind rating panel: anonymised sheets mixing systems' lyrics for held-out briefs, ratings, MOS per system.

    python bench/panel.py sheet --out panel/r1 --per-lang 12 --system default=models/tiny [--system new=DIR ...]
                                [--scorer models/scorer-tiny] [--n 8]
    python bench/panel.py pool --take panel/r1:default --take new=panel/r2:default --out panel/r3
    python bench/panel.py record --sheet panel/r1 --ratings RATER.jsonl --rater NAME [--db PATH]
    python bench/panel.py report --sheet panel/r1 [--json]

``sheet`` takes the first ``--per-lang`` briefs per language of the modern corpus's test split (never trained
on), asks each system for that brief's chorus (its syllables, its chorus rhyme group pinned, genre, mood,
register) and keeps its pick (the best of ``--n`` by the pipeline's rule: passing candidates first, then the
scorer's overall score), and adds the corpus's own chorus as the system ``corpus``. Items are shuffled and
named ``item-001`` ...; ``sheet.md`` and ``sheet.jsonl`` show raters the brief and the lyrics only, ``key.json``
(kept from raters) maps items to systems. ``record`` reads a rater's 1-5 ``fluency``, ``topic``, ``quality``
and ``overall`` per item into ``ratings.jsonl`` beside the sheet and into the ratings store (as ``language``,
``relevance``, ``content``, ``overall``, the model being the system), so ``tianci ratings mos`` and the promotion
gate see them. ``report`` prints MOS per system and aspect with a 95% interval. ``pool`` makes a new sheet from
systems of earlier sheets for the same briefs (with the first sheet's corpus items), so systems rated in different
panels are rated again side by side: raters differ in how they use the scale.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lyrics.files import read_jsonl, write_atomic, write_json, write_jsonl  # noqa: E402
from lyrics.modern.check import Song  # noqa: E402
from lyrics.modern.corpus import CORPUS, corpus_songs, split_of  # noqa: E402
from scorer.ratings import RatingsStore, default_ratings_db, mean_interval  # noqa: E402

PANEL_ASPECTS = {"fluency": "language", "topic": "relevance", "quality": "content", "overall": "overall"}
CORPUS_SYSTEM = "corpus"


def held_out(per_lang: int, corpus: Path = CORPUS) -> list[Song]:
    """The first ``per_lang`` test-split songs of each language, in corpus order."""
    songs = [s for s in corpus_songs(corpus) if split_of(s.id) == "test"]
    return [s for lang in ("cmn", "yue") for s in [x for x in songs if x.brief.lang == lang][:per_lang]]


def chorus_of(song: Song) -> list[str]:
    return next(lines for name, lines in song.sections if name == "chorus")


def chorus_spec(song: Song, n: int) -> dict:
    """The request for ``song``'s chorus: its line lengths, its rhyme lines labelled A and pinned to its group."""
    brief = song.brief
    section = next(s for s in brief.form if s.name == "chorus")
    rhymed = set(section.rhyme_positions())
    structure = " ".join(f"{k}{'A' if i in rhymed else ''}" for i, k in enumerate(section.lines))
    spec = {"lang": brief.lang, "topic": brief.topic, "structure": structure, "rhymes": {"A": brief.rhyme},
            "genre": brief.genre, "mood": brief.mood, "n": n, "seed": 0, "id": song.id}
    return spec | ({"register": brief.register} if brief.register else {})


def request_text(spec: dict) -> str:
    parts = [f"主题：{spec['topic']}", f"风格：{spec['genre']}", f"情绪：{spec['mood']}"]
    if spec.get("register"):
        parts.append(f"语体：{'书面语' if spec['register'] == 'written' else '口语'}")
    return "，".join(parts)


def system_picks(name_and_path: str, specs: list[dict], scorer_path: str | None, n: int) -> list[str]:
    """Each spec's pick from one model: the best of ``n`` candidates by the pipeline's rule."""
    from lyrics.decoding.constraints import UnsatisfiableSpec
    from pipeline.candidates import best
    from pipeline.writer import Writer

    _, path = name_and_path.split("=", 1)
    writer = Writer.load(path, scorer=scorer_path)
    picks = []
    for spec in specs:
        try:
            groups = writer.write([writer.plan(spec)], n, seed=0)
        except UnsatisfiableSpec as err:
            raise SystemExit(f"{name_and_path}: {spec['id']}: {err}") from None
        index = best(groups[0])
        picks.append(groups[0][index if index is not None else 0].lyrics)
    return picks


def cmd_sheet(args: argparse.Namespace) -> None:
    songs = held_out(args.per_lang)
    specs = [chorus_spec(s, args.n) for s in songs]
    entries = [(CORPUS_SYSTEM, spec, "\n".join(chorus_of(song))) for spec, song in zip(specs, songs, strict=True)]
    for system in args.system:
        picks = system_picks(system, specs, args.scorer, args.n)
        entries += [(system.split("=", 1)[0], spec, lyrics) for spec, lyrics in zip(specs, picks, strict=True)]
    write_sheet(Path(args.out), [(system, spec["id"], {"lang": spec["lang"], "request": request_text(spec),
                                                       "lyrics": lyrics}) for system, spec, lyrics in entries],
                args.seed, f"{len(songs)} briefs x {1 + len(args.system)} systems")


def write_sheet(out: Path, entries: list[tuple[str, str, dict]], seed: int, shape: str) -> None:
    """``entries`` (system, spec id, the item's lang, request and lyrics) shuffled by ``seed`` and named item-001 ...:
    ``sheet.md`` and ``sheet.jsonl`` for raters, ``key.json`` (items to systems) kept from them."""
    entries = entries[:]
    random.Random(seed).shuffle(entries)
    items, key = [], {}
    for i, (system, spec, shown) in enumerate(entries, 1):
        item = f"item-{i:03d}"
        key[item] = {"system": system, "spec": spec}
        items.append({"item": item, "lang": shown["lang"], "request": shown["request"], "lyrics": shown["lyrics"]})
    write_jsonl(out / "sheet.jsonl", items)
    write_json(out / "key.json", key)
    write_atomic(out / "sheet.md", sheet_markdown(items))
    print(f"{len(items)} items ({shape}) in {out}/sheet.md; the key is {out}/key.json (keep it from raters)")


def cmd_pool(args: argparse.Namespace) -> None:
    """A new sheet of systems' items from earlier sheets (``SHEET:SYSTEM``, renamed ``NAME=SHEET:SYSTEM``), for the
    same briefs, with the first sheet's corpus items: systems rated in different panels, rated side by side by the
    same raters."""
    entries, briefs = [], None
    for n, source in enumerate(args.take):
        name, _, where = source.rpartition("=")
        folder, _, system = where.rpartition(":")
        if not folder or not system:
            raise SystemExit(f"--take {source}: give SHEET:SYSTEM or NAME=SHEET:SYSTEM")
        key = json.loads((Path(folder) / "key.json").read_text("utf-8"))
        rows = read_jsonl(Path(folder) / "sheet.jsonl")
        wanted = (system, CORPUS_SYSTEM) if n == 0 else (system,)
        picked = [(key[row["item"]]["system"], key[row["item"]]["spec"], row) for row in rows
                  if key[row["item"]]["system"] in wanted]
        specs = {spec for found, spec, _ in picked if found == system}
        if not specs:
            raise SystemExit(f"--take {source}: {folder} has no items of system {system!r}")
        if briefs is not None and specs != briefs:
            raise SystemExit(f"--take {source}: its briefs differ from the first sheet's")
        briefs = specs
        entries += [(found if found == CORPUS_SYSTEM else (name or system), spec, row) for found, spec, row in picked]
    write_sheet(Path(args.out), entries, args.seed, f"{len(briefs)} briefs x {len(args.take) + 1} systems")


def sheet_markdown(items: list[dict]) -> str:
    parts = ["# Rating sheet", "",
             "Rate each item 1-5 (5 best) on fluency (natural, grammatical modern language), topic (about the "
             "request), quality (a good lyric: images, feeling, rhyme that sounds natural) and overall. Answer "
             'one JSON object a line: {"item": "item-001", "fluency": 4, "topic": 3, "quality": 3, "overall": 3}.',
             ""]
    for item in items:
        lang = "Mandarin" if item["lang"] == "cmn" else "Cantonese"
        parts += [f"## {item['item']} ({lang})", "", f"Request: {item['request']}", "", "```", item["lyrics"], "```",
                  ""]
    return "\n".join(parts)


def cmd_record(args: argparse.Namespace) -> None:
    sheet = Path(args.sheet)
    key = json.loads((sheet / "key.json").read_text("utf-8"))
    items = {row["item"]: row for row in read_jsonl(sheet / "sheet.jsonl")}
    store = RatingsStore(args.db or default_ratings_db())
    kept = read_jsonl(sheet / "ratings.jsonl")
    added = 0
    for number, row in enumerate(read_jsonl(Path(args.ratings)), 1):
        item = row.get("item")
        if item not in key:
            raise SystemExit(f"{args.ratings}:{number}: unknown item {item!r}")
        scores = {}
        for aspect in PANEL_ASPECTS:
            value = row.get(aspect)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 1 <= value <= 5:
                raise SystemExit(f"{args.ratings}:{number}: {aspect} must be a number from 1 to 5")
            scores[aspect] = float(value)
        kept.append({"item": item, "rater": args.rater, **scores})
        store.add(items[item]["request"], items[item]["lyrics"],
                  {PANEL_ASPECTS[a]: v for a, v in scores.items()}, rater=args.rater, model=key[item]["system"])
        added += 1
    write_jsonl(sheet / "ratings.jsonl", kept)
    print(f"recorded {added} ratings by {args.rater}")


def mos(sheet: Path) -> dict[str, dict[str, dict[str, float]]]:
    """System → aspect → {"mos", "ci95", "n"}, from the sheet's ratings and key; per language too
    (``system/cmn``)."""
    key = json.loads((sheet / "key.json").read_text("utf-8"))
    langs = {row["item"]: row["lang"] for row in read_jsonl(sheet / "sheet.jsonl")}
    values: defaultdict[str, defaultdict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in read_jsonl(sheet / "ratings.jsonl"):
        system = key[row["item"]]["system"]
        for group in (system, f"{system}/{langs[row['item']]}"):
            for aspect in PANEL_ASPECTS:
                values[group][aspect].append(row[aspect])
    out: dict[str, dict[str, dict[str, float]]] = {}
    for group, aspects in sorted(values.items()):
        out[group] = {}
        for aspect, xs in aspects.items():
            mean, half = mean_interval(xs) if len(xs) > 1 else (xs[0], float("nan"))
            out[group][aspect] = {"mos": round(mean, 3), "ci95": round(half, 3), "n": len(xs)}
    return out


def cmd_report(args: argparse.Namespace) -> None:
    table = mos(Path(args.sheet))
    if args.json:
        print(json.dumps(table, ensure_ascii=False, indent=1))
        return
    print("| system | " + " | ".join(PANEL_ASPECTS) + " |")
    print("|---|" + "---|" * len(PANEL_ASPECTS))
    for group, aspects in table.items():
        cells = [f"{aspects[a]['mos']:.2f} ± {aspects[a]['ci95']:.2f} (n={aspects[a]['n']})" for a in PANEL_ASPECTS]
        print(f"| {group} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("sheet")
    p.add_argument("--out", required=True)
    p.add_argument("--per-lang", type=int, default=12)
    p.add_argument("--system", action="append", default=[], metavar="NAME=MODEL_DIR")
    p.add_argument("--scorer", default=None)
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_sheet)
    p = commands.add_parser("pool")
    p.add_argument("--take", action="append", required=True, metavar="[NAME=]SHEET:SYSTEM")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_pool)
    p = commands.add_parser("record")
    p.add_argument("--sheet", required=True)
    p.add_argument("--ratings", required=True)
    p.add_argument("--rater", required=True)
    p.add_argument("--db", default=None)
    p.set_defaults(run=cmd_record)
    p = commands.add_parser("report")
    p.add_argument("--sheet", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_report)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
