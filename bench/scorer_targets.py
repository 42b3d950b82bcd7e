"""Does a scorer know a lyric from word salad? The issue's targets for a scorer, per scorer folder (``--scorer
name=DIR``, several to compare), on the modern corpus's test split (never trained on by generator or scorer):

- **corpus beats best-of-n**: each held-out song's chorus against the default generator's best of ``--n``
  candidates for the same request (its line lengths, rhyme, genre, mood, register), the best picked by the
  pipeline's rule with this scorer; share of pairs where the corpus chorus scores higher overall;
- **word salad below 2.5**: the classical default's constrained sample for each request (``--salad``, the
  generator the modern default replaced) and the new default's; share scoring overall < 2.5;
- **modern check set**: pairwise accuracy on ``scorer/data/modern_check.jsonl`` (hand-written stanzas over their
  damages and a generator's samples);
- **the issue's probes**: a plain 失恋 stanza without the characters 失恋, 春眠不觉晓 under 失恋, and the
  default's own best candidate about 加班.

    python bench/scorer_targets.py --scorer v2=models/scorer-tiny --scorer v3=runs/scorer-tiny/final \\
        --salad runs/earlier-default [--per-lang 48] [--n 8] [--json FILE]

The candidates are drawn once (seed 0) and scored by every scorer, so the scorers see the same texts.
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

from panel import chorus_of, chorus_spec, held_out  # noqa: E402
from tqdm import tqdm  # noqa: E402

from lyrics.decoding.checks import check_lyrics  # noqa: E402
from lyrics.decoding.spec import LyricSpec  # noqa: E402
from lyrics.files import write_json, write_jsonl  # noqa: E402
from lyrics.generation import Candidate  # noqa: E402
from lyrics.models import DEFAULT_MODEL  # noqa: E402
from pipeline.candidates import best, score_all  # noqa: E402
from pipeline.writer import Writer  # noqa: E402
from scorer.checkset import CHECK_SET  # noqa: E402
from scorer.model import Scorer, scorer_prompt  # noqa: E402
from scorer.scoring import pair_accuracy, read_records, score_records  # noqa: E402

SALAD_BELOW = 2.5
PROBES = [  # (topic, lyrics, what a good scorer does with it)
    ("失恋", "你把钥匙放回桌上\n说这次不用送了\n门关上的那一刻\n我还站着等你回头",
     "high: on topic without its characters"),
    ("失恋", "春眠不觉晓\n处处闻啼鸟\n夜来风雨声\n花落知多少", "low relevance: a spring poem, not a breakup"),
]


def candidates(model_dir: str, specs: list[LyricSpec], n: int) -> list[list]:
    writer = Writer.load(model_dir)
    groups = []
    for spec in tqdm(specs, desc=f"{Path(model_dir).name}: {n} a request", unit="request", file=sys.stderr):
        found = writer.write([writer.plan(spec)], n, seed=0)
        groups.append([item.candidate for item in found[0]])
    return groups


def figures(scorer: Scorer, specs: list[LyricSpec], corpus: list[str], default: list[list], salad: list[list]) -> dict:
    scored = score_all(scorer, specs, default)
    picks = [group[i if (i := best(group)) is not None else 0] for group in scored]
    real = scorer.score([(scorer_prompt(spec), text) for spec, text in zip(specs, corpus, strict=True)])
    wins = [r["overall"] > p.scores["overall"] for r, p in zip(real, picks, strict=True)]
    salad_scores = [s.scores["overall"] for group in score_all(scorer, specs, salad) for s in group]
    default_firsts = [group[0].scores["overall"] for group in scored]
    records = read_records(CHECK_SET)
    score_records(scorer, records)
    probes = scorer.score([({"topic": topic, "lang": "cmn"}, text) for topic, text, _ in PROBES])
    overtime = next((i for i, spec in enumerate(specs) if "加班" in spec.topic), None)
    return {
        "corpus_beats_best_of_n": round(statistics.fmean(wins), 3),
        "pairs": len(wins),
        "corpus_overall_mean": round(statistics.fmean(r["overall"] for r in real), 3),
        "default_best_overall_mean": round(statistics.fmean(p.scores["overall"] for p in picks), 3),
        "salad_below_2_5": round(statistics.fmean(s < SALAD_BELOW for s in salad_scores), 3),
        "salad_overall_mean": round(statistics.fmean(salad_scores), 3),
        "default_sample_below_2_5": round(statistics.fmean(s < SALAD_BELOW for s in default_firsts), 3),
        "check_set": pair_accuracy(records),
        "probes": [{"topic": topic, "lyrics": text, "expect": expect, "scores": score}
                   for (topic, text, expect), score in zip(PROBES, probes, strict=True)],
        "overtime_pick": None if overtime is None else {"lyrics": picks[overtime].lyrics,
                                                        "scores": picks[overtime].scores},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scorer", action="append", required=True, metavar="NAME=DIR")
    parser.add_argument("--generator", default=str(DEFAULT_MODEL))
    parser.add_argument("--salad", required=True, help="the generator whose samples are word salad")
    parser.add_argument("--per-lang", type=int, default=48)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--candidates", type=Path, default=None,
                        help="keep the drawn candidates here and read them back when it exists (score new scorers "
                             "on the same texts without drawing again)")
    parser.add_argument("--pairs-out", type=Path, default=None,
                        help="also write each held-out chorus over the salad sample for its request, as a check set "
                             "`tianci score` reads (scorer/data/salad_pairs.jsonl)")
    args = parser.parse_args()

    songs = held_out(args.per_lang)
    specs = [LyricSpec.from_dict(chorus_spec(song, args.n)) for song in songs]
    corpus = ["\n".join(chorus_of(song)) for song in songs]
    if args.candidates and args.candidates.is_file():
        kept = json.loads(args.candidates.read_text("utf-8"))
        default, salad = ([[Candidate(text, check_lyrics(text, spec), 0) for text in group]
                           for spec, group in zip(specs, kept[part], strict=True)] for part in ("default", "salad"))
    else:
        default = candidates(args.generator, specs, args.n)
        salad = candidates(args.salad, specs, 1)
        if args.candidates:
            write_json(args.candidates, {part: [[c.lyrics for c in group] for group in groups]
                                         for part, groups in (("default", default), ("salad", salad))})
    if args.pairs_out:
        write_jsonl(args.pairs_out, [
            {"id": spec.id, "lang": spec.lang, "kind": "earlier_model",
             "better": {"prompt": scorer_prompt(spec), "lyrics": real},
             "worse": {"prompt": scorer_prompt(spec), "lyrics": group[0].lyrics}}
            for spec, real, group in zip(specs, corpus, salad, strict=True)])
    results = {}
    for item in args.scorer:
        name, path = item.split("=", 1)
        results[name] = figures(Scorer.load(path), specs, corpus, default, salad)
    if args.json:
        write_json(args.json, {"songs": len(songs), "n": args.n, "generator": args.generator, "salad": args.salad,
                               "scorers": dict(a.split("=", 1) for a in args.scorer), "results": results})
    print(f"\n{len(songs)} held-out songs (test split), best of {args.n} from {args.generator}")
    print("| scorer | corpus beats best-of-n (>= 0.90) | salad < 2.5 (>= 0.90) | check set (>= 0.85) | "
          "default sample < 2.5 | corpus / pick / salad mean | 失恋 plain: relevance | 春眠 under 失恋: relevance |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        plain, spring = (p["scores"]["relevance"] for p in r["probes"])
        print(f"| {name} | {r['corpus_beats_best_of_n']:.3f} | {r['salad_below_2_5']:.3f} | "
              f"{r['check_set']['accuracy']:.3f} | {r['default_sample_below_2_5']:.3f} | "
              f"{r['corpus_overall_mean']:.2f} / {r['default_best_overall_mean']:.2f} / "
              f"{r['salad_overall_mean']:.2f} | "
              f"{plain:.2f} | {spring:.2f} |")


if __name__ == "__main__":
    main()
