"""The corpus report: volume, diversity and distributions per language, as Markdown and a PNG.

>>> from lyrics.modern.briefs import BriefSampler
>>> brief = BriefSampler().brief("cmn", seed=1, index=0)
>>> song = Song(brief.id, "doc", brief, "[verse]\\n我们一起走\\n我们一起走")
>>> stats = corpus_report([song]).langs["cmn"]
>>> stats.songs, stats.lines, stats.distinct_lines, round(stats.distinct_2, 2)
(1, 2, 1, 0.5)
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lyrics.files import save_figure, write_atomic
from lyrics.modern.briefs import DATA, BriefSampler
from lyrics.modern.check import CorpusCheck, Song
from lyrics.modern.corpus import CORPUS_DIR, split_of

REJECTIONS = CORPUS_DIR / "rejections.jsonl"
TOP = 30
OVERUSED = 3  # a line in more songs than this is flagged


@dataclass
class LangStats:
    songs: int = 0
    chars: int = 0
    lines: int = 0
    distinct_lines: int = 0
    bigrams: int = 0
    distinct_bigrams: int = 0
    common_lines: list[tuple[str, int]] = field(default_factory=list)
    common_chars: list[tuple[str, int]] = field(default_factory=list)
    areas: Counter[str] = field(default_factory=Counter)
    rhymes: Counter[str] = field(default_factory=Counter)
    splits: Counter[str] = field(default_factory=Counter)
    rare_chars: Counter[str] = field(default_factory=Counter)  # outside the common-character list
    marker_songs: Counter[str] = field(default_factory=Counter)  # register → songs with a colloquial character
    registers: Counter[str] = field(default_factory=Counter)
    overused_lines: dict[str, int] = field(default_factory=dict)
    line_lengths: Counter[int] = field(default_factory=Counter)

    @property
    def distinct_2(self) -> float:
        return self.distinct_bigrams / self.bigrams if self.bigrams else 0.0


@dataclass
class Report:
    langs: dict[str, LangStats]
    rejections: list[dict]

    def summary_line(self) -> str:
        return "; ".join(f"{lang}: {s.songs:,} songs, {s.chars:,} characters, distinct-2 {s.distinct_2:.3f}"
                         for lang, s in self.langs.items())


def corpus_report(songs: list[Song], rejections: Path = REJECTIONS) -> Report:
    sampler = BriefSampler()
    markers = set(sampler.tables["colloquial_markers_yue"])
    langs: dict[str, LangStats] = {}
    for lang in sampler.inventory:  # the languages briefs are drawn for
        mine = [s for s in songs if s.brief.lang == lang]
        stats = langs[lang] = LangStats()
        common = set((DATA / f"common_chars_{lang}.txt").read_text("utf-8").split())
        lines: Counter[str] = Counter()
        chars: Counter[str] = Counter()
        bigrams: Counter[str] = Counter()
        check = CorpusCheck(sampler)
        for song in mine:
            check.remember(song)
            stats.songs += 1
            stats.areas[song.brief.area] += 1
            stats.rhymes[song.brief.rhyme] += 1
            stats.splits[split_of(song.id)] += 1
            for line in song.lines:
                lines[line] += 1
                chars.update(line)
                bigrams.update(line[i:i + 2] for i in range(len(line) - 1))
                stats.line_lengths[len(line)] += 1
            if song.brief.register:
                stats.registers[song.brief.register] += 1
                stats.marker_songs[song.brief.register] += any(c in markers for c in "".join(song.lines))
        stats.chars, stats.lines, stats.distinct_lines = sum(chars.values()), sum(lines.values()), len(lines)
        stats.bigrams, stats.distinct_bigrams = sum(bigrams.values()), len(bigrams)
        stats.common_lines, stats.common_chars = lines.most_common(TOP), chars.most_common(TOP)
        stats.rare_chars = Counter({c: n for c, n in chars.items() if c not in common})
        stats.overused_lines = check.overused_lines(OVERUSED)
    kept = {s.id for s in songs}
    rows = [json.loads(line) for line in rejections.read_text("utf-8").splitlines() if line.strip()] \
        if rejections.is_file() else []
    return Report(langs, [r for r in rows if r["id"] not in kept])


def _table(rows: list[tuple], header: tuple[str, ...]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def to_markdown(report: Report) -> str:
    parts = ["# The modern lyrics corpus: report", "",
             "Made by `tianci corpus report` from `corpus/songs/`; every song in it passed `tianci corpus check`.",
             ""]
    rows = []
    for lang, s in report.langs.items():
        rate = ", ".join(f"{reg} {s.marker_songs[reg] / n:.0%}" for reg, n in sorted(s.registers.items())) or "-"
        rows.append((lang, f"{s.songs:,}", f"{s.chars:,}", f"{s.lines:,}", f"{s.distinct_lines:,}",
                     f"{s.distinct_2:.3f}", " / ".join(f"{s.splits[k]:,}" for k in ("train", "valid", "test")),
                     f"{sum(s.rare_chars.values()):,} ({len(s.rare_chars)} distinct)", rate))
    parts += [_table(rows, ("lang", "songs", "characters", "lines", "distinct lines", "distinct-2",
                            "train / valid / test", "characters outside the common list",
                            "songs with a colloquial marker, per register")), ""]
    for lang, s in report.langs.items():
        parts += [f"## {lang}", "",
                  "Topic areas: " + ", ".join(f"{a} {n}" for a, n in s.areas.most_common()), "",
                  "Chorus rhyme groups: " + ", ".join(f"{g} {n}" for g, n in s.rhymes.most_common()), "",
                  "Commonest lines: " + ", ".join(f"{line} ({n})" for line, n in s.common_lines), "",
                  "Commonest characters: " + " ".join(f"{c}{n}" for c, n in s.common_chars), "",
                  "Characters outside the common list: "
                  + (" ".join(f"{c}{n}" for c, n in s.rare_chars.most_common(TOP)) or "none"), "",
                  f"Lines in more than {OVERUSED} songs: "
                  + (", ".join(f"{line} ({n})" for line, n in sorted(s.overused_lines.items(), key=lambda kv: -kv[1]))
                     or "none"), ""]
    parts += ["## Rejected", "",
              f"{len({r['id'] for r in report.rejections})} songs were rejected by the check and not rewritten "
              "into the corpus; none ships. Their reasons:", ""]
    parts += [f"- `{r['id']}`: {r['reason']}" for r in report.rejections[:200]]
    if len(report.rejections) > 200:
        parts.append(f"- ... and {len(report.rejections) - 200} more in `corpus/rejections.jsonl`")
    return "\n".join(parts) + "\n"


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    for font in font_manager.fontManager.ttflist:
        if "CJK" in font.name or font.name in {"Noto Sans SC", "WenQuanYi Zen Hei", "AR PL UMing CN"}:
            return font.name
    return None


def plot(report: Report, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if font := _cjk_font():
        plt.rcParams["font.family"] = [font]
    fig, axes = plt.subplots(2, 2, figsize=(15, 9))
    langs = list(report.langs)
    areas = sorted({a for s in report.langs.values() for a in s.areas})
    width = 0.4
    for k, lang in enumerate(langs):
        s = report.langs[lang]
        axes[0, 0].bar([i + k * width for i in range(len(areas))], [s.areas[a] for a in areas], width, label=lang)
        lengths = sorted(s.line_lengths)
        axes[0, 1].plot(lengths, [s.line_lengths[n] for n in lengths], marker="o", label=lang)
        groups = s.rhymes.most_common()
        labels = [g if font or g.isascii() else str(i) for i, (g, _) in enumerate(groups)]
        axes[1, k].bar(labels, [n for _, n in groups])
        axes[1, k].set_title(f"{lang}: chorus rhyme groups ({s.songs:,} songs)")
        axes[1, k].tick_params(axis="x", rotation=90)
    axes[0, 0].set_xticks([i + width / 2 for i in range(len(areas))], areas, rotation=70)
    axes[0, 0].set_title("songs per topic area")
    axes[0, 0].legend()
    axes[0, 1].set_title("lines per syllable count")
    axes[0, 1].set_xlabel("syllables")
    axes[0, 1].legend()
    fig.tight_layout()
    save_figure(fig, png)
    plt.close(fig)


def write_report(report: Report, out: Path) -> tuple[Path, Path]:
    md, png = Path(out) / "report.md", Path(out) / "report.png"
    write_atomic(md, to_markdown(report))
    plot(report, png)
    return md, png
