"""The held-out figures that choose the default generator on modern lyrics, per arm (a model folder) and language:

- **modern test perplexity**: hinted exchanges of the modern corpus's test split (never trained on), in the
  brief format the new models train on (topic, genre, mood, register; no keyword plan);
- on the test split's briefs (each song's chorus: its line lengths, its rhyme group pinned, genre, mood, register),
  ``--n`` candidates each: **all checks** (structure, rhyme, tone, no identical rhyme), **copied lines** (lines
  found verbatim in the corpus's training songs), **distinct-2** over the batch, and for Cantonese the share of
  candidates with a colloquial character under each register;
- **topic lift with the pull off** and **same-seed overlap** across topics (``bench/quality.py``'s measures on its
  43 modern topics with hand-written association lists);
- **rhyme groups per call**: distinct groups of label A among the n = 4 candidates of ``7A 7A 7B 7A`` with
  nothing pinned.

    python bench/modern_quality.py --arm old=models/tiny --arm warm=runs/modern-warm/sft/final [--briefs 30]

Headline table last; ``--json FILE`` also writes every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from panel import chorus_of, chorus_spec  # noqa: E402
from quality import exchange_perplexity, lift, same_seed_overlap, topic_rows  # noqa: E402

from lyrics.data.works import modern_source  # noqa: E402
from lyrics.decoding.spec import LyricSpec  # noqa: E402
from lyrics.files import write_json  # noqa: E402
from lyrics.generation import Decoder  # noqa: E402
from lyrics.models import load_model  # noqa: E402
from lyrics.modern.briefs import BriefSampler  # noqa: E402
from lyrics.modern.corpus import corpus_songs, split_of  # noqa: E402
from lyrics.training.knowledge import utilisation  # noqa: E402
from pipeline.rs.metrics import distinct  # noqa: E402

LANGS = ("cmn", "yue")


def modern_perplexity(model, tokenizer, lang: str) -> float:
    records = [r for r in modern_source() if r and r.lang == lang and r.split == "test"]
    return exchange_perplexity(model, tokenizer, utilisation(records, 0, 8, getattr(model, "tianci_keywords", None)))


def brief_figures(model, tokenizer, lang: str, count: int, n: int, train_lines: set[str]) -> dict:
    songs = [s for s in corpus_songs() if s.brief.lang == lang and split_of(s.id) == "test"][:count]
    specs = [LyricSpec.from_dict({**chorus_spec(s, n), "seed": i}) for i, s in enumerate(songs)]
    decoder = Decoder(model, tokenizer)
    groups = decoder.generate_many([decoder.plan_keywords(s) for s in specs], n, seed=0, keyword_pull=0.0)
    texts = [c.lyrics for group in groups for c in group]
    lines = [line for text in texts for line in text.split("\n") if line]
    markers = set(BriefSampler().tables["colloquial_markers_yue"])
    by_register: dict[str, list[bool]] = {}
    for song, group in zip(songs, groups, strict=True):
        if song.brief.register:
            by_register.setdefault(song.brief.register, []).extend(any(c in markers for c in x.lyrics) for x in group)
    return {"briefs": len(songs), "all_checks": sum(c.checks.ok for g in groups for c in g) / len(texts),
            "copied_lines": sum(line in train_lines for line in lines) / len(lines),
            "distinct2": distinct(texts, 2),
            "marker_share": {reg: sum(v) / len(v) for reg, v in by_register.items()},
            "corpus_distinct2": distinct(["\n".join(chorus_of(s)) for s in songs], 2),
            "samples": texts[: 2 * n : n]}


def rhyme_groups_per_call(model, tokenizer, lang: str, calls: int = 12) -> float:
    topics = [s.brief.topic for s in corpus_songs() if s.brief.lang == lang and split_of(s.id) == "test"][:calls]
    counts = []
    decoder = Decoder(model, tokenizer)
    for i, topic in enumerate(topics):
        candidates = decoder.generate({"lang": lang, "topic": topic, "structure": "7A 7A 7B 7A"}, n=4, seed=i,
                                      keyword_pull=0.0)
        counts.append(len({c.checks.lines[0].rhyme for c in candidates}))
    return statistics.fmean(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arm", action="append", default=[], metavar="NAME=MODEL_DIR", required=True)
    parser.add_argument("--briefs", type=int, default=30, help="test-split briefs per language")
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    train_lines = {line for s in corpus_songs() if split_of(s.id) == "train" for line in s.lines}
    rows = []
    for arm in args.arm:
        name, path = arm.split("=", 1)
        model, tokenizer = load_model(path)
        for lang in LANGS:
            topics = topic_rows(model, tokenizer, lang, 4, 100, 0.0)
            row = {"arm": name, "path": path, "lang": lang, "ppl": modern_perplexity(model, tokenizer, lang),
                   **brief_figures(model, tokenizer, lang, args.briefs, args.n, train_lines),
                   "lift_no_pull": lift(topics)[2], "overlap_no_pull": same_seed_overlap(topics),
                   "rhyme_groups_per_call": rhyme_groups_per_call(model, tokenizer, lang)}
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    if args.json:
        write_json(args.json, rows)
    print("\n| arm | lang | modern test ppl | all checks | copied lines | distinct-2 (corpus) | colloquial markers "
          "(colloquial / written) | topic lift, no pull | same-seed overlap | rhyme groups per call (n=4) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        marks = r["marker_share"]
        marker = f"{marks.get('colloquial', 0):.0%} / {marks.get('written', 0):.0%}" if marks else "-"
        print(f"| {r['arm']} | {r['lang']} | {r['ppl']:.2f} | {r['all_checks']:.0%} | {r['copied_lines']:.1%} | "
              f"{r['distinct2']:.3f} ({r['corpus_distinct2']:.3f}) | {marker} | {r['lift_no_pull']:.2f} | "
              f"{r['overlap_no_pull']:.1%} | {r['rhyme_groups_per_call']:.2f} |")


if __name__ == "__main__":
    main()
