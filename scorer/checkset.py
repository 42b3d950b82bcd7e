"""The modern-lyrics check set: stanzas the scorer never trains on, each paired with its own damage.

``scorer/data/modern_stanzas.json`` holds 24 stanzas per language written for Tianci by its developers (CC0),
in modern register about everyday topics (加班, 地铁, 失恋 … 放工, 茶餐廳, 叮叮 …), where the training corpus is
classical verse. :func:`check_pairs` damages every stanza as ``scorer.bootstrap`` damages training works (every
kind, real over 25% substituted, the stanza under another stanza's topic) and, with a generator, pairs it with
the generator's sample for its spec. ``python -m scorer.checkset build`` writes ``scorer/data/modern_check.jsonl``
(with the default generator ``models/tiny``; ``make scorer`` runs it); ``tianci score
scorer/data/modern_check.jsonl OUT.jsonl`` prints a scorer's accuracy on it per kind, and ``python -m
scorer.checkset report SCORER_DIR`` writes it beside the scorer (``check.json``, ``accuracy.png``) next to
its held-out in-domain figures.

>>> stanzas = load_stanzas()
>>> {lang: len(rows) for lang, rows in stanzas.items()}
{'cmn': 24, 'yue': 24}
>>> sorted({row["kind"] for row in check_pairs(stanzas["cmn"][:4], "cmn", seed=0)})[:3]
['chars_shuffled', 'identical_rhyme', 'line_repeated']
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from lyrics.data.works import Record
from lyrics.files import read_jsonl, save_figure, write_json, write_jsonl
from lyrics.models import DEFAULT_MODEL, load_model

from .bootstrap import LINE_DAMAGES, SUBSTITUTION, damaged, model_pairs, ratings, side, substituted, work_prompt
from .model import Scorer
from .scoring import pair_accuracy, score_records

HERE = Path(__file__).resolve().parent / "data"
STANZAS = HERE / "modern_stanzas.json"
CHECK_SET = HERE / "modern_check.jsonl"
SEED = 20261201


def load_stanzas(path: Path = STANZAS) -> dict[str, list[dict]]:
    """``{lang: [{"topic", "lines"}, ...]}``."""
    data = json.loads(Path(path).read_text("utf-8"))
    return {lang: rows for lang, rows in data.items() if isinstance(rows, list)}


def records(rows: list[dict], lang: str) -> list[Record]:
    return [Record(id=f"modern-{lang}-{i}", source="modern-check", lang=lang, title=row["topic"], author="",
                   lines=tuple(row["lines"]), split="check") for i, row in enumerate(rows)]


def check_pairs(rows: list[dict], lang: str, seed: int = SEED, generator=None) -> list[dict]:
    """Every stanza of one language over each of its damages (and over a ``(model, tokenizer)``'s sample)."""
    rng = random.Random(f"{seed}-{lang}")
    works = records(rows, lang)
    pool = "".join("".join(w.lines) for w in works)
    share, level = 0.25, SUBSTITUTION[0.25]
    pairs = []
    for index, work in enumerate(works):
        prompt, lines = work_prompt(work), list(work.lines)
        real = side(prompt, work.text, ratings(None))
        for kind in LINE_DAMAGES:
            out = damaged(kind, lines, rng)
            if out is not None:
                pairs.append({"kind": kind, "better": real, "worse": side(prompt, "\n".join(out), ratings(kind))})
        pairs.append({"kind": "substituted", "better": real,
                      "worse": side(prompt, "\n".join(substituted(lines, share, rng, pool)),
                                     ratings("substituted", level))})
        other = works[(index + 1 + rng.randrange(len(works) - 1)) % len(works)]
        pairs.append({"kind": "wrong_topic", "better": real,
                      "worse": side(work_prompt(other), work.text, ratings("wrong_topic"))})
    if generator is not None:
        pairs += [{"kind": p["kind"], "better": p["better"], "worse": p["worse"]}
                  for p in model_pairs(works, *generator, seed, progress=False)]
    return pairs


def build(out: Path = CHECK_SET, generator_path: str | None = None) -> Path:
    generator = load_model(str(generator_path or DEFAULT_MODEL), device="cpu")
    stanzas = load_stanzas()
    write_jsonl(out, [{"id": f"{lang}-{i}", "lang": lang, **pair} for lang, rows in stanzas.items()
                      for i, pair in enumerate(check_pairs(rows, lang, generator=generator))])
    return out


def report(scorer_dir: Path, check_set: Path = CHECK_SET) -> dict:
    """The scorer's accuracy per kind on the check set beside its held-out in-domain figures (its
    ``eval.json``): ``check.json`` and ``accuracy.png`` written into ``scorer_dir``."""
    scorer = Scorer.load(scorer_dir)
    rows = read_jsonl(check_set)
    score_records(scorer, rows)
    modern = {lang: pair_accuracy([r for r in rows if r["lang"] == lang]) for lang in sorted({r["lang"] for r in rows})}
    modern["all"] = pair_accuracy(rows)
    in_domain = json.loads((Path(scorer_dir) / "eval.json").read_text("utf-8"))
    result = {"modern": modern, "in_domain": {"accuracy": in_domain["pairwise_accuracy"],
                                              "by_kind": in_domain["by_kind"]}}
    write_json(Path(scorer_dir) / "check.json", result)
    plot_accuracy(result, Path(scorer_dir) / "accuracy.png", Path(scorer_dir).name)
    return result


def plot_accuracy(result: dict, png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted(set(result["in_domain"]["by_kind"]) | set(result["modern"]["all"]["by_kind"]))
    series = [("in-domain (held-out works)", result["in_domain"]["by_kind"])] + [
        (f"modern check set, {lang}", result["modern"][lang]["by_kind"]) for lang in result["modern"] if lang != "all"]
    fig, ax = plt.subplots(figsize=(11, 4), dpi=120)
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series):
        ax.bar([k + i * width for k in range(len(kinds))], [values.get(kind, 0) for kind in kinds], width,
               label=label)
    ax.axhline(0.75, color="grey", linestyle=":", linewidth=1)
    ax.axhline(0.85, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(kinds))], kinds, rotation=25, ha="right", fontsize=8)
    ax.set(ylim=(0, 1), ylabel="pairwise accuracy (overall head)", title=f"{title}: real over damaged, per kind")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_figure(fig, png)
    plt.close(fig)


if __name__ == "__main__":
    command, *rest = sys.argv[1:] or ["build"]
    if command == "build":
        print(f"check set: {build(generator_path=rest[0] if rest else None)}")
    elif command == "report" and rest:
        found = report(Path(rest[0]))
        print(f"{rest[0]}: modern check set {found['modern']['all']['accuracy']:.3f}, "
              f"in-domain {found['in_domain']['accuracy']:.3f}; check.json and accuracy.png beside it")
    else:
        sys.exit("usage: python -m scorer.checkset build [GENERATOR] | report SCORER_DIR")
