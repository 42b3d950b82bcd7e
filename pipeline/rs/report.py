"""``report.md`` and ``metrics.png`` of a rejection-sampling run."""

from __future__ import annotations

import json
from pathlib import Path

from lyrics.files import save_figure, write_atomic

from ..config import RSConfig


def write_report(cfg: RSConfig) -> Path:
    """``report.md`` (a table of every finished round) and ``metrics.png``."""
    rows = [json.loads(p.read_text("utf-8")) for p in sorted(cfg.run_dir.glob("round_*/metrics.json"),
                                                              key=lambda p: int(p.parent.name.split("_")[1]))]
    lines = [f"# Rejection sampling: {cfg.name}", "",
             f"{cfg.prompts.train} training prompts x K = {cfg.k}; threshold {cfg.threshold} (overall, 1-5) after "
             f"the checks' gate, diversity {cfg.diversity} (selection: overall minus it times the bigram overlap "
             f"with samples kept before); replay {cfg.replay} per kept sample; KL anchor "
             f"{cfg.sft.kl_weight}; {cfg.prompts.eval} held-out prompts x "
             f"{cfg.eval_k} for evaluation; query expansion {'on' if cfg.prompts.expand else 'off'}; repetition gate "
             f"{'on' if cfg.repetition_gate else 'off'}.", "",
             "| round | kept | overall | language | relevance | content | best overall | distinct-1 | distinct-2 "
             "| line repeated | commonest characters | checks pass | valid ppl | promoted |", "|" + "---|" * 14]
    for m in rows:
        s, sel = m["scores"], m.get("selection")
        kept = f"{sel['kept']}/{sel['prompts']}" if sel else "-"
        lines.append(f"| {m['round']} | {kept} | {s['overall']:.3f} | {s['language']:.3f} | {s['relevance']:.3f} | "
                     f"{s['content']:.3f} | {m['best_overall'] or 0:.3f} | {m['distinct_1']:.3f} | "
                     f"{m['distinct_2']:.3f} | {m['repeated_line_rate']:.1%} | "
                     + " ".join(f"{c['char']} {c['share']:.1%}" for c in m.get("commonest", []))
                     + f" | {m['pass_rate']:.1%} | {m['valid_ppl']:.2f} | "
                     + ("-" if "promotion" not in m else "yes" if m["promotion"]["promoted"] else "no") + " |")
    current = 0
    decisions = []
    for m in rows[1:]:
        decision = m["promotion"]
        decisions.append(f"- round {m['round']} ({decision['by']}): "
                         + ("promoted" if decision["promoted"] else "not promoted, the current model stays")
                         + f" — {decision['reason']}.")
        current = m["round"] if decision["promoted"] else current
    if decisions:
        lines += ["", "## Promotion", "", *decisions, "",
                  f"**The model after {rows[-1]['round']} rounds: "
                  + (f"round {current}'s, `{rows[current]['generator']}`" if current else
                     f"the starting generator, `{rows[0]['generator']}`") + "**."]
    plain = rows[0].get("without_expansion") if rows else None
    if plain:
        lines += ["", "Query expansion, round 0 (same generator and prompts): "
                  + ", ".join(f"{a} {plain['scores'][a]:.3f} -> {rows[0]['scores'][a]:.3f}"
                              for a in ("relevance", "content", "overall")) + "."]
    report = cfg.run_dir / "report.md"
    write_atomic(report, "\n".join(lines) + "\n")
    if rows:
        plot_rounds(rows, cfg.run_dir / "metrics.png", cfg.name)
    return report


def plot_rounds(rows: list[dict], png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = [m["round"] for m in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    for aspect in ("overall", "language", "relevance", "content"):
        left.plot(rounds, [m["scores"][aspect] for m in rows], "o-", label=aspect)
    left.set(xlabel="round", ylabel="mean score (1-5), held-out prompts", title="scorer")
    for key, label in (("distinct_1", "distinct-1"), ("distinct_2", "distinct-2"), ("pass_rate", "checks pass"),
                       ("repeated_line_rate", "line repeated")):
        right.plot(rounds, [m[key] for m in rows], "o-", label=label)
    right.set(xlabel="round", ylabel="share", title="diversity and checks")
    for ax in (left, right):
        ax.set_xticks(rounds)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, png)
    plt.close(fig)
