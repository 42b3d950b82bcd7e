"""``tianci``: the command line.

    tianci analyze [--lang cmn|yue] [--scheme S] [--register literary|written|colloquial] [--json] [TEXT | -]
    tianci rhymes CHAR [--lang cmn|yue] [--scheme S] [--limit N] [--json]
    tianci generate --topic T [--lang] [--structure S] [--rhymes A=光] [--tones P,P] [--keep 1=...] [-n N] [--json]
                    [--engine hf|vllm]
    tianci batch SPECS.jsonl OUT.jsonl [--model PATH] [-n N] [--batch-size N] [--scorer DIR|none]
                 [--engine local|ray|vllm] [--decoder hf|vllm]
    tianci score IN.jsonl OUT.jsonl [--scorer DIR]
    tianci serve [--model PATH] [--scorer DIR|none] [--host 127.0.0.1] [--port 8808] [--max-batch 16] [--queue 64]
                 [--engine hf|vllm]
    tianci train --config configs/NAME.yaml --stage knowledge|sft [--resume]
    tianci export --config configs/NAME.yaml --out DIR
    tianci scorer train --config configs/scorer_tiny.yaml [--resume]
    tianci rs --config configs/rs_tiny.yaml
    tianci ratings import|export FILE [--db PATH];  tianci ratings mos [--db PATH] [--json]
    tianci corpus briefs --lang cmn|yue --seed S --start I --count N [--out FILE]
    tianci corpus check FILE... [--briefs FILE...] [--json];  tianci corpus add FILE... --briefs FILE...
    tianci corpus report [--out DIR]
    tianci data fetch
    tianci data build [--sources songci,tang,...] [--input FILE ...] [--lang cmn|yue] [--out DIR]

Bad input ends with one line on standard error (``tianci: error: ...``) and exit status 2: every domain error
is a ``TianciError``, caught once, in :func:`main`. The commands that decode, train or score import those
modules (and with them torch) inside themselves, so ``tianci analyze`` starts without torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from tqdm import tqdm

from lyrics.data.assets import fetch_all, tianci_home
from lyrics.data.keywords import KEYWORD_PULL
from lyrics.data.rhymebook import rhyme_dictionary
from lyrics.data.works import DEFAULT_SOURCES, SOURCE_LANGS, build, builtin_sources, user_source
from lyrics.decoding.melody import MELODY_PULL, melody_fit, parse_numbered, read_midi, with_melody
from lyrics.decoding.spec import DEFAULT_STRUCTURE, LyricSpec, parse_rhymes_option
from lyrics.export import export_candidates
from lyrics.files import write_atomic
from lyrics.models import DEFAULT_MODEL, check_local, export_model, looks_local
from lyrics.modern.briefs import BriefSampler
from lyrics.modern.corpus import CORPUS, CORPUS_DIR, CheckResult, add_to_corpus, check_files, corpus_songs, load_briefs
from lyrics.modern.report import corpus_report, write_report
from lyrics.training.config import STAGES, GeneratorConfig, load_config
from phonetics import Analysis, TianciError, analyze, language, language_codes, languages, warn_renamed
from pipeline.config import DECODERS, DEFAULT_HOST, DEFAULT_PORT, MAX_BATCH, QUEUE_SIZE, EngineConfig, RSConfig
from scorer.config import ScorerConfig
from scorer.ratings import RatingsStore, default_ratings_db, mos_report, rating_mos

MAX_TEMPERATURE = 10.0  # beyond it sampling is uniform noise, and 1e308 overflows the softmax


class UsageError(TianciError):
    """Bad command-line input; the message is the whole one-line explanation."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class _Renamed(argparse.Action):
    """A flag's old name: its value goes where the new name's does, and one line on standard error says so."""

    def __init__(self, option_strings, dest, new: str, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        warn_renamed(option_string, self.new)
        setattr(namespace, self.dest, values)


def add_renamed_flag(parser: argparse.ArgumentParser, old: str, new: str, kind: type) -> None:
    """``old`` still accepted for the flag ``new`` (added before, typed ``kind``), hidden from ``--help``."""
    parser.add_argument(old, dest=new.lstrip("-").replace("-", "_"), type=kind, action=_Renamed, new=new,
                        default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _add_lang_scheme(parser: argparse.ArgumentParser) -> None:
    """--lang and --scheme, their choices those of the registered languages when the parser is built."""
    parser.add_argument("--lang", default="cmn", choices=language_codes(),
                        help=", ".join(f"{spoken.code}: {spoken.name}" for spoken in languages()))
    parser.add_argument(
        "--scheme", default=None, choices=sorted({name for spoken in languages() for name in spoken.schemes}),
        help="rhyme scheme: " + "; ".join(f"{spoken.code}: {'|'.join(spoken.schemes)} "
                                          f"(default {spoken.default_scheme})" for spoken in languages()),
    )


def _union(groups: Iterable[Iterable[str]]) -> tuple[str, ...]:
    """The names in ``groups``, each once, in order of first appearance."""
    return tuple(dict.fromkeys(name for group in groups for name in group))


def _add_melody(parser: argparse.ArgumentParser, what: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--melody", default=None, help=f"numbered notation, e.g. \"3 5 6 1' | 6 5 3 -\": {what}")
    group.add_argument("--midi", type=Path, default=None, help="a MIDI file's melody track, as --melody")


def _melody(args: argparse.Namespace, counts: list[int] | None = None):

    if args.midi is not None:
        if not args.midi.is_file():
            raise UsageError(f"--midi {args.midi}: {'a folder' if args.midi.is_dir() else 'no such file'}; "
                             "give a .mid file")
        return read_midi(args.midi, counts)
    return parse_numbered(args.melody, counts)


def _add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="a local model folder or hub id (safetensors weights; default: the shipped models/tiny)")
    parser.add_argument("--adapter", default=None, help="a LoRA adapter directory to merge into --model")


def _add_engine(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", default=DECODERS[0], choices=DECODERS,
                        help="decoding backend: hf (Hugging Face transformers, the default) or vllm (a vLLM engine "
                             "in this process; needs the .venv-vllm venv: make vllm)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tianci", description="Controllable Mandarin and Cantonese lyrics.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = commands.add_parser("analyze", help="romanization, rhyme and tones of lyrics, line by line")
    _add_lang_scheme(p)
    p.add_argument("--register", choices=_union(spoken.registers for spoken in languages()), default=None,
                   help="Cantonese: read in this register (default: colloquial if the text has colloquial words "
                        "such as 嘅 咗 佢 唔, literary if it is verse-like, else written)")
    p.add_argument("--json", action="store_true", help="JSON Lines, one object per input")
    _add_melody(p, "also report how well the lyrics follow this melody (Cantonese 0243 levels, Mandarin tones)")
    p.add_argument("text", nargs="?", help="lyrics (lines end at newlines, / or clause punctuation); "
                                            "- reads standard input, one analysis per input line")
    p.set_defaults(run=cmd_analyze)

    p = commands.add_parser("rhymes", help="characters that rhyme with CHAR, commonest first")
    _add_lang_scheme(p)
    p.add_argument("char", help="one Chinese character")
    p.add_argument("--limit", type=int, default=40, help="at most N characters per reading (default 40)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(run=cmd_rhymes)

    p = commands.add_parser("generate", help="write lyrics to a spec with a causal LM, constrained")
    p.add_argument("--topic", required=True, help="what the lyrics are about")
    _add_lang_scheme(p)
    p.add_argument("--structure", default=None, help=f'lines as <syllables><label?> (default "{DEFAULT_STRUCTURE}"; '
                                                     "with a melody, its lines, all rhyming)")
    p.add_argument("--rhymes", default="", help="pinned rhymes, e.g. A=光,B=江阳")
    p.add_argument("--tones", default="", help="tone patterns per line, comma-separated, e.g. 平平仄仄平,*****")
    p.add_argument("--keep", default="",
                   help="lines to keep as given, the rest written around them, e.g. 1=床前明月光,3=举头望明月")
    p.add_argument("--keywords", default="",
                   help="the keyword plan's first words, e.g. 海浪,夏天 (default: planned from the topic)")
    p.add_argument("--keyword-pull", type=float, default=KEYWORD_PULL,
                   help=f"pull towards the plan's keywords while decoding (default {KEYWORD_PULL}; 0: off)")
    add_renamed_flag(p, "--keyword-bias", "--keyword-pull", float)
    p.add_argument("--memory-mix", type=float, default=None,
                   help="share of the corpus's phrase memory in each step, 0 to 1 (default: the model's own "
                        "setting; 0: off)")
    p.add_argument("--genre", default="", help="style, e.g. 城市民谣")
    p.add_argument("--mood", default="", help="feeling, e.g. 温柔")
    p.add_argument("--register", choices=_union(spoken.lyric_registers for spoken in languages()), default=None,
                   help="Cantonese: written lyric Chinese (as Cantopop mostly sings) or spoken colloquial Cantonese")
    _add_melody(p, "one syllable per note; Cantonese lines follow its contour in 0243 levels, Mandarin tones are "
                   "pulled towards it (--melody-pull)")
    p.add_argument("--melody-pull", type=float, default=MELODY_PULL,
                   help=f"Mandarin: pull towards tones that suit the melody (default {MELODY_PULL}; 0: off)")
    add_renamed_flag(p, "--melody-bias", "--melody-pull", float)
    p.add_argument("-n", type=int, default=4, help="candidates (default 4)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--temperature", type=float, default=0.9)
    p.add_argument("--top-p", type=float, default=0.95)
    _add_model(p)
    _add_engine(p)
    p.add_argument("--hints", action=argparse.BooleanOptionalAction, default=None,
                   help="write a hint line before each lyric line (default: as the model was trained, tianci.json)")
    p.add_argument("--json", action="store_true", help='one JSON object {"spec": ..., "candidates": [...]}')
    p.add_argument("--export", type=Path, default=None, metavar="DIR",
                   help="also write each candidate to DIR: JSON and LRC text, and with a melody MIDI (a lyric event "
                        "per note) and MusicXML (syllables under the notes)")
    p.set_defaults(run=cmd_generate)

    p = commands.add_parser("batch", help="many specs (JSON Lines) to candidates (JSON Lines), resumable")
    p.add_argument("specs", type=Path, help="one spec a line: the spec contract plus id")
    p.add_argument("out", type=Path, help="one result a line; ids already there are skipped")
    _add_model(p)
    p.add_argument("-n", type=int, default=4, help="candidates per spec without its own n (default 4)")
    p.add_argument("--batch-size", type=int, default=16, help="specs per model call (default 16)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--scorer", default=None,
                   help="scorer giving each candidate scores (default: the shipped models/scorer-tiny; 'none': off)")
    add_config_flags(p, EngineConfig)
    p.set_defaults(run=cmd_batch)

    p = commands.add_parser("serve", help="a resident lyrics server: POST /v1/lyrics, GET /health, GET /v1/models")
    _add_model(p)
    p.add_argument("--scorer", default=None,
                   help="scorer giving each candidate scores (default: the shipped models/scorer-tiny; 'none': off)")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free one)")
    p.add_argument("--max-batch", type=int, default=MAX_BATCH,
                   help=f"requests written together at most (default {MAX_BATCH})")
    p.add_argument("--queue", type=int, default=QUEUE_SIZE,
                   help=f"requests waiting at most; more are answered 503 (default {QUEUE_SIZE})")
    p.add_argument("--log", action="store_true", help="a line on standard error per request")
    _add_engine(p)
    p.set_defaults(run=cmd_serve)

    ratings = commands.add_parser("ratings", help="the SQLite ratings store: import, export, MOS report")
    ratings_commands = ratings.add_subparsers(dest="ratings_command", required=True, parser_class=_Parser)
    for name, helptext in (("import", "add ratings from JSON Lines or CSV (by suffix)"),
                           ("export", "write all ratings as JSON Lines or CSV (by suffix)")):
        p = ratings_commands.add_parser(name, help=helptext)
        p.add_argument("file", type=Path)
        p.add_argument("--db", type=Path, default=None, help="default $TIANCI_HOME/ratings.sqlite")
        p.set_defaults(run=cmd_ratings)
    p = ratings_commands.add_parser("mos", help="mean opinion score per model (95%% interval), A/B preference")
    p.add_argument("--db", type=Path, default=None, help="default $TIANCI_HOME/ratings.sqlite")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_ratings)

    scorer = commands.add_parser("scorer", help="the quality scorer: train it from a YAML config")
    scorer_commands = scorer.add_subparsers(dest="scorer_command", required=True, parser_class=_Parser)
    p = scorer_commands.add_parser("train", help="bootstrap pairs (and human ratings), pairwise + pointwise loss")
    p.add_argument("--config", required=True, type=Path, help="e.g. configs/scorer_tiny.yaml")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.set_defaults(run=cmd_scorer_train)

    p = commands.add_parser("score", help="add aspect scores (1-5) to each record of a JSON Lines file")
    p.add_argument("input", type=Path, help='records with "lyrics" (or "candidates") and topic/lang/genre or "prompt"')
    p.add_argument("out", type=Path, help="the records with \"scores\" added, written whole then renamed")
    p.add_argument("--scorer", default=None, help="a scorer folder (default: the shipped models/scorer-tiny)")
    p.set_defaults(run=cmd_score)

    p = commands.add_parser("rs", help="rejection-sampling rounds: sample K, keep the best by the scorer, finetune")
    p.add_argument("--config", required=True, type=Path, help="e.g. configs/rs_tiny.yaml")
    p.set_defaults(run=cmd_rs)

    p = commands.add_parser("export", help="merge a trained run's sft adapter into its base: one model folder")
    p.add_argument("--config", required=True, type=Path, help="the run's config, e.g. configs/tiny.yaml")
    p.add_argument("--out", required=True, type=Path, help="the folder to write, e.g. models/tiny")
    p.set_defaults(run=cmd_export)

    p = commands.add_parser("train", help="train one stage of a generator from a YAML config")
    p.add_argument("--config", required=True, type=Path, help="e.g. configs/tiny.yaml")
    p.add_argument("--stage", required=True, choices=STAGES)
    p.add_argument("--resume", action="store_true", help="continue from the stage's last checkpoint")
    p.set_defaults(run=cmd_train)

    corpus = commands.add_parser("corpus", help="the modern lyrics corpus: briefs, checks, report")
    corpus_commands = corpus.add_subparsers(dest="corpus_command", required=True, parser_class=_Parser)
    p = corpus_commands.add_parser("briefs", help="seeded song briefs as JSON Lines (brief I of seed S is fixed)")
    p.add_argument("--lang", required=True, choices=language_codes())
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--start", type=_non_negative, default=0, help="index of the first brief")
    p.add_argument("--count", type=_non_negative, default=10)
    p.add_argument("--out", type=Path, help="write here (default: standard output)")
    p.set_defaults(run=cmd_corpus_briefs)
    p = corpus_commands.add_parser("check", help="check songs against their briefs; one line per rejection")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="writers' answers or corpus records")
    p.add_argument("--briefs", nargs="*", type=Path, default=[], metavar="FILE", help="the briefs answered")
    p.add_argument("--json", action="store_true", help="rejections as JSON Lines")
    p.set_defaults(run=cmd_corpus_check)
    p = corpus_commands.add_parser("add", help="add the songs that pass the check to the corpus (corpus/songs/)")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--briefs", nargs="+", type=Path, required=True, metavar="FILE")
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.set_defaults(run=cmd_corpus_add)
    p = corpus_commands.add_parser("report", help="corpus statistics as Markdown and PNG")
    p.add_argument("--corpus", type=Path, default=CORPUS)
    p.add_argument("--out", type=Path, default=CORPUS_DIR, help="folder for report.md and report.png")
    p.set_defaults(run=cmd_corpus_report)

    data = commands.add_parser("data", help="fetch corpora and build training datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    p = data_commands.add_parser("fetch", help="fetch the offline corpora (what `make setup` does)")
    p.set_defaults(run=cmd_data_fetch)
    p = data_commands.add_parser("build", help="normalised, deduplicated datasets split by work")
    p.add_argument("--sources", default=",".join(DEFAULT_SOURCES),
                   help=f"built-in sources, comma-separated, '' for none (default {','.join(DEFAULT_SOURCES)}; "
                        f"all: {','.join(SOURCE_LANGS)})")
    p.add_argument("--input", action="append", default=[], type=Path, metavar="FILE",
                   help="a user corpus: JSON Lines songs or plain text (repeatable)")
    p.add_argument("--lang", choices=language_codes(), help="language of plain-text --input files")
    p.add_argument("--modern-fraction", type=float, default=1.0,
                   help="share of the modern corpus's training songs to keep (a fixed subset; learning curves)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default $TIANCI_HOME/data)")
    p.set_defaults(run=cmd_data_build)
    return parser


def _scheme_for(args: argparse.Namespace) -> str | None:
    if args.scheme is not None and args.scheme not in language(args.lang).schemes:
        choices = ", ".join(language(args.lang).schemes)
        raise UsageError(f"scheme {args.scheme!r} is not for {args.lang}: use one of {choices}")
    return args.scheme


READ_AHEAD = 1024  # lines of piped standard input read in one batch (a terminal's are read one at a time)


def _batched(items: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _inputs(text: str | None) -> Iterable[list[str]]:
    """The texts to analyse, in batches the reader can read ahead at once (the context model's one forward pass)."""
    if text == "-":  # bytes that are not UTF-8 are kept as U+FFFD rather than ending the run
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        lines = (line.rstrip("\n") for line in stdin if line.strip())
        return _batched(lines, 1 if sys.stdin.isatty() else READ_AHEAD)
    if text is None:
        raise UsageError("give the lyrics as TEXT, or - to read them from standard input")
    if not text.strip():
        raise UsageError("TEXT is empty: give the lyrics, or - to read them from standard input")
    # bytes of an argument that are not UTF-8 arrive as lone surrogates: read them as U+FFFD, as stdin does
    return [[text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")]]


def cmd_analyze(args: argparse.Namespace) -> None:
    scheme_name = _scheme_for(args)
    spoken = language(args.lang)
    if args.register is not None and args.register not in spoken.registers:
        if spoken.registers:
            raise UsageError(f"--register {args.register}: {spoken.name} reads in {' or '.join(spoken.registers)}")
        having = [other.name for other in languages() if other.registers]
        raise UsageError(f"--register is for {' and '.join(having)}; {spoken.name} reads one way: leave it out")
    melody = None
    if args.melody is not None or args.midi is not None:
        melody = _melody(args)
    for batch in _inputs(args.text):
        spoken.read_ahead(batch, args.register)
        for text in batch:
            _analyze_one(args, text, scheme_name, melody)


def _analyze_one(args: argparse.Namespace, text: str, scheme_name: str | None, melody) -> None:
    analysis = analyze(text, args.lang, scheme_name, args.register)
    fit = None
    if melody is not None:
        fit = melody_fit(text, melody, args.lang)
    if args.json:
        print(json.dumps({**analysis.to_dict(), **({"melody": fit} if fit else {})}, ensure_ascii=False),
              flush=True)
    else:
        _print_analysis(analysis)
        if fit and "transitions" in fit:  # Cantonese: 0243 levels against the melody's
            for i, line in enumerate(fit["lines"], 1):
                print(f"  {i}. {line['text']}  levels {line['levels']} · melody asks {line['melody']} · "
                      f"fit {line['fit']:.2f}")
            print(f"melody fit {fit['fit']:.2f} ({fit['transitions']} transitions)\n")
        elif fit:  # Mandarin: tones against each note's cues
            for i, line in enumerate(fit["lines"], 1):
                cues = " ".join("+".join(c) or "·" for c in line["cues"])
                print(f"  {i}. {line['text']}  tones {line['tones']} · cues {cues} · fit {line['fit']:.2f}")
            print(f"melody fit {fit['fit']:.2f} ({fit['cued']} syllables with a cue)\n")


def _print_analysis(analysis: Analysis) -> None:

    class_name = language(analysis.lang).tone_class_name
    table = Table(title=f"{analysis.lang} · scheme {analysis.scheme}", title_justify="left")
    # Short columns keep their width; the line and its pattern fold onto more rows rather than lose characters.
    table.add_column("#", no_wrap=True, min_width=2)
    table.add_column("line (character + romanization)", overflow="fold")
    table.add_column("syl", no_wrap=True, min_width=3)
    table.add_column("rhyme", no_wrap=True, min_width=10)
    table.add_column(class_name, overflow="fold")
    letters = analysis.rhyme_letters
    for i, line in enumerate(analysis.lines):
        # user text is escaped: a backslash or a [tag] in the lyrics is text, not Rich markup
        chars = " ".join(f"{escape(s.char)}[dim]{s.romanization or ('?' if s.is_syllable else '')}[/dim]"
                         for s in line.syllables if not s.char.isspace())
        last = line.final_syllable
        rhyme = f"{letters[i]} {line.rhyme} ({escape(last.char)})" if line.rhyme and last else letters[i]
        table.add_row(str(i + 1), chars, str(line.syllable_count), rhyme, line.tone_pattern)
    console = Console(soft_wrap=False)
    console.print(table)
    rate = analysis.rhyme_rate
    register = f" · register {analysis.register}" if analysis.register else ""
    console.print(f"rhyme scheme [bold]{letters or '(no lines)'}[/bold] · rhyme rate "
                  f"{'n/a' if rate is None else f'{rate:.2f}'}{register}\n")


def cmd_rhymes(args: argparse.Namespace) -> None:

    scheme_name = _scheme_for(args)
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    found = rhyme_dictionary(args.lang).rhymes_with(args.char, scheme_name, args.limit)
    if args.json:
        readings = [{"romanizations": r.split("/"), "rhyme": g, "rhymes": chars} for r, g, chars in found]
        print(json.dumps({"char": args.char, "lang": args.lang, "readings": readings}, ensure_ascii=False))
        return
    for reading, group, chars in found:
        print(f"{args.char} {reading} · {group}: {''.join(chars) or '(none in the corpus)'}")


def cmd_generate(args: argparse.Namespace) -> None:

    structure = DEFAULT_STRUCTURE if args.structure is None else args.structure  # "" is an error, not the default
    fields = {"lang": args.lang, "topic": args.topic, "structure": structure, "n": args.n}
    fields |= {name: getattr(args, name) for name in ("genre", "mood", "register") if getattr(args, name)}
    if args.tones:
        fields["tones"] = args.tones.split(",")
    if args.keywords:
        fields["keywords"] = args.keywords
    if args.keep:
        fields["keep"] = args.keep
    melody = None
    if args.melody is not None or args.midi is not None:
        if args.midi is not None and not args.midi.is_file():
            raise UsageError(f"--midi {args.midi}: {'a folder' if args.midi.is_dir() else 'no such file'}; "
                             "give a .mid file")
        fields, melody = with_melody(fields, text=args.melody, midi=args.midi, structure_given=bool(args.structure))
    if args.scheme:
        fields["scheme"] = _scheme_for(args)
    if args.rhymes:
        fields["rhymes"] = parse_rhymes_option(args.rhymes)
    if args.seed is not None:
        fields["seed"] = args.seed
    spec = LyricSpec.from_dict(fields)  # a bad spec fails here, before any model is loaded
    _require_engine(args.engine)
    if spec.keep:
        fields["keep"] = spec.keep_dict()
    if not math.isfinite(args.temperature) or not 0 < args.temperature <= MAX_TEMPERATURE:
        raise UsageError(f"--temperature must be a number above 0 and at most {MAX_TEMPERATURE}, e.g. 0.9")
    if not math.isfinite(args.top_p) or not 0 < args.top_p <= 1:
        raise UsageError("--top-p must be above 0 and at most 1, e.g. 0.95")
    if not math.isfinite(args.keyword_pull) or not 0 <= args.keyword_pull <= 100:
        raise UsageError("--keyword-pull must be from 0 (off) to 100, e.g. 4")
    if not math.isfinite(args.melody_pull) or not 0 <= args.melody_pull <= 100:
        raise UsageError("--melody-pull must be from 0 (off) to 100, e.g. 2")
    if args.memory_mix is not None and not (math.isfinite(args.memory_mix) and 0 <= args.memory_mix < 1):
        raise UsageError("--memory-mix must be from 0 (off) to below 1, e.g. 0.8")
    if args.export is not None:
        _check_writable_dir(args.export)  # before any model work
    writer = _writer(args.model, args.adapter, engine=args.engine)
    spec = writer.plan(spec)
    candidates = [scored.candidate for scored in writer.write(
        [spec], spec.n, seed=spec.seed, temperature=args.temperature, top_p=args.top_p, hints=args.hints,
        keyword_pull=args.keyword_pull, melody=melody, melody_pull=args.melody_pull,
        **({} if args.memory_mix is None else {"memory_mix": args.memory_mix}))[0]]
    if spec.keywords:
        fields["keywords"] = list(spec.keywords)
    if args.export is not None:
        written = export_candidates(args.export, fields, [c.to_dict() for c in candidates], melody, spec.topic)
        print(f"exported {len(written)} files to {args.export}", file=sys.stderr)
    if args.json:
        print(json.dumps({"spec": fields, "candidates": [c.to_dict() for c in candidates]}, ensure_ascii=False))
        return
    if spec.keywords:
        print(f"keywords: {'、'.join(spec.keywords)}\n")
    if melody is not None and language(spec.lang).melody_levels:
        print(f"melody asks 0243 levels: {' / '.join(line.tones for line in spec.lines if line.tones)}\n")
    for i, candidate in enumerate(candidates, 1):
        checks = candidate.checks
        asked = [("structure", checks.structure), ("rhyme", checks.rhyme)]
        if any(line.tones for line in spec.lines):  # a tone mark only where tones were asked
            asked.append(("tone", checks.tone))
        marks = " ".join(f"{name} {'✓' if ok else '✗'}" for name, ok in asked)
        if melody is not None and checks.structure:
            marks += f" · melody fit {melody_fit(candidate.lyrics, melody, spec.lang)['fit']:.2f}"
        print(f"— candidate {i} · {marks}")
        for line, check in zip(candidate.lyrics.split("\n"), checks.lines, strict=False):
            print(f"  {line}    {check.rhyme or ''}")
        print()


def cmd_train(args: argparse.Namespace) -> None:
    from lyrics.training.generator import train

    final = train(load_config(args.config, GeneratorConfig), args.stage, resume=args.resume)
    print(f"{args.stage}: {final} (log and loss.png beside it)")


def _generator_path(model: str | None) -> str:
    """``--model``, or the shipped default when it is there."""
    if model is None and not (DEFAULT_MODEL / "model.safetensors").is_file():
        raise UsageError(f"the default model is missing from {DEFAULT_MODEL}: restore it with git, or pass --model")
    return str(model or DEFAULT_MODEL)


def add_config_flags(parser: argparse.ArgumentParser, config: type) -> None:
    """A flag for each field of a config dataclass that names one in its metadata (``flag``, ``help``,
    ``choices``), typed and defaulted as the field: the command line never restates what the config knows."""
    for spec in dataclasses.fields(config):
        if "flag" not in spec.metadata:
            continue
        kind = type(spec.default) if spec.default is not None else str
        parser.add_argument(spec.metadata["flag"], dest=spec.name, type=kind, default=spec.default,
                            choices=spec.metadata.get("choices"), help=spec.metadata.get("help"))


def config_from_args(config: type, args: argparse.Namespace):
    """The config made from the flags :func:`add_config_flags` added (its own checks run: one-line errors)."""
    return config(**{spec.name: getattr(args, spec.name) for spec in dataclasses.fields(config)
                     if "flag" in spec.metadata})


def _writer(model: str | None, adapter: str | None, scorer: str | None = "none", engine: str = "hf"):
    """The Writer of a generation command: ``--model`` (default: the shipped one) with ``--adapter``, and the
    scorer ``--scorer`` names (by default, for commands that rank: the shipped one; ``none``: no scorer), decoded
    by ``--engine`` (``hf`` or ``vllm``)."""
    from pipeline.writer import Writer

    if engine == "vllm":  # vLLM logs to standard output, which --json and pipes own: its warnings only, on stderr
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    return Writer.load(_generator_path(model), adapter=adapter, scorer=_scorer_path(scorer), engine=engine)


def _require_engine(engine: str) -> None:
    """``--engine vllm`` where vLLM is not installed: one line saying to run ``make vllm`` and use .venv-vllm,
    before any model work."""
    from pipeline.writer import require_engine

    require_engine("vllm" if engine == "vllm" else "hf")


def _scorer_path(path: str | None) -> str | None:
    """The scorer ``path`` names; by default the shipped one when it is there; ``none``: no scorer. A local
    folder that is not there is refused here, never sent to the hub."""
    from scorer.model import DEFAULT_SCORER

    if path == "none" or (path is None and not (DEFAULT_SCORER / "model.safetensors").is_file()):
        return None
    found = path or str(DEFAULT_SCORER)
    if looks_local(found) and not Path(found).expanduser().exists():
        raise UsageError(f"--scorer {found}: no such folder; give a scorer folder (e.g. models/scorer-tiny) or none")
    return found


def _load_scorer(path: str | None):
    from scorer.model import Scorer

    found = _scorer_path(path)
    return Scorer.load(found) if found else None


def cmd_batch(args: argparse.Namespace) -> None:
    from pipeline.batch import check_results_file, read_specs, run_batch

    if args.specs.is_dir():
        raise UsageError(f"{args.specs}: is a folder; give a JSON Lines file of specs")
    if not args.specs.is_file():
        raise UsageError(f"{args.specs}: no such file; give a JSON Lines file of specs")
    if args.n < 1 or args.batch_size < 1 or args.actors < 1:
        raise UsageError("-n, --batch-size and --actors must be at least 1")
    engine_config = config_from_args(EngineConfig, args)  # a malformed --address before OUT is made
    if engine_config.address is None:  # a local Ray's actors run in this environment; a cluster has its own
        _require_engine(engine_config.decodes_with)
    if args.seed is not None and args.seed < 0:
        raise UsageError("--seed must be 0 or more, as tianci generate's")
    if args.out.resolve() == args.specs.resolve():
        raise UsageError("OUT must be another file than SPECS")
    check_results_file(args.out, {item_id for item_id, _ in read_specs(args.specs, args.n)})
    _check_writable(args.out)  # before any model work
    if engine_config.kind == "ray":
        summary = run_batch(None, args.specs, args.out, args.n, args.batch_size, args.seed,
                            engine=_ray_engine(engine_config, args.model, args.adapter, args.scorer))
    else:
        engine = "vllm" if engine_config.kind == "vllm" else "hf"
        summary = run_batch(_writer(args.model, args.adapter, args.scorer, engine), args.specs, args.out, args.n,
                            args.batch_size, args.seed)
    print(summary.line(), file=sys.stderr)


def cmd_serve(args: argparse.Namespace) -> None:
    from pipeline.serve import LyricsServer

    if args.max_batch < 1 or args.queue < 1:
        raise UsageError("--max-batch and --queue must be at least 1")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: give a port from 0 (any free one) to 65535")
    if not _is_loopback(args.host):
        print(f"tianci serve: warning: listening on {args.host}, not loopback: anyone who can reach this machine "
              "can use the model (there is no authentication)", file=sys.stderr)
    _require_engine(args.engine)
    generator, scorer = _generator_path(args.model), _scorer_path(args.scorer)
    writer = _writer(args.model, args.adapter, args.scorer, args.engine)
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.log else None
    try:
        server = LyricsServer(writer, model=generator, scorer=scorer, host=args.host, port=args.port,
                              max_batch=args.max_batch, queue_size=args.queue, log=log)
    except OSError as err:
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({err.strerror or err}); "
                         "give another --port or --host") from None
    print(f"tianci serve: {server.url} (model {generator}, scorer {scorer or 'none'}, engine {args.engine}); "
          f"POST {server.url}/v1/lyrics; Ctrl-C stops", file=sys.stderr, flush=True)
    server.serve_forever()


def _is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def _ray_engine(config, model: str | None, adapter: str | None, scorer: str | None):
    """The batch job on Ray; the folders are checked here, the models load in the actors."""
    try:
        from pipeline.ray_engine import ray_engine
    except ImportError:
        raise UsageError("--engine ray needs Ray: pip install 'tianci[ray]' (make setup installs it)") from None
    generator = _generator_path(model)
    check_local(generator)
    if scorer := _scorer_path(scorer):
        check_local(scorer, generator=False)
    return ray_engine(config, generator, adapter, scorer)


def _check_writable_dir(folder: Path) -> None:
    """``--export DIR``: a folder that exists or can be made, and can be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".tianci-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise UsageError(f"--export {folder}: cannot write there ({err.strerror or type(err).__name__}); "
                         "give a writable folder") from None


def _check_writable(out: Path) -> None:
    """OUT is a regular file that can be appended to (created empty if need be): not a folder, not a device
    such as /dev/full, not under a folder that cannot be written."""
    if out.is_dir():
        raise UsageError(f"{out}: is a folder; give a file path for the results")
    if out.exists() and not out.is_file():  # before opening it: a pipe would block, a device would swallow
        raise UsageError(f"{out}: not a regular file (a device or pipe); give a file path for the results")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a", encoding="utf-8"):
            pass
    except OSError as err:
        raise UsageError(f"{out}: cannot write there ({err.strerror or type(err).__name__}); "
                         "give a writable file path") from None
    if not out.is_file():
        raise UsageError(f"{out}: not a regular file; give a file path for the results")


def cmd_ratings(args: argparse.Namespace) -> None:

    store = RatingsStore(args.db or default_ratings_db())
    if args.ratings_command == "import":
        print(f"imported {store.import_file(args.file)} ratings into {store.path}")
    elif args.ratings_command == "export":
        _check_writable(args.file)
        print(f"exported {store.export_file(args.file)} ratings to {args.file}")
    else:
        report = mos_report(store.comparisons()) | {"ratings": rating_mos(store.ratings())}
        if args.json:
            print(json.dumps(report, ensure_ascii=False))
            return
        if not report["models"] and not report["ratings"]:
            print("no ratings yet: rate candidates in the demo (Write or Compare), or tianci ratings import FILE")
        for model, aspects in report["ratings"].items():
            line = ", ".join(f"{aspect} {row['mos']:.2f} ± {row['ci95']:.2f}" for aspect, row in aspects.items())
            count = max(row["ratings"] for row in aspects.values())
            print(f"rated {model or '(no model named)'}: {line} (95%, {count} ratings)")
        for model, row in report["models"].items():  # the Compare tab's blind A/B ratings
            print(f"{model}: MOS {row['mos']:.2f} ± {row['ci95']:.2f} (95%, {row['ratings']} ratings)")
        for pair in report["pairs"]:
            print(f"{pair['a']} vs {pair['b']}: {pair['a']} preferred {pair['a_preferred']:.0%}, "
                  f"{pair['b']} {pair['b_preferred']:.0%}, ties {pair['ties']:.0%} ({pair['comparisons']} comparisons)")


def cmd_scorer_train(args: argparse.Namespace) -> None:
    from scorer.train import train_scorer

    final = train_scorer(load_config(args.config, ScorerConfig), resume=args.resume)
    summary = json.loads((final / "eval.json").read_text("utf-8"))
    print(f"scorer: {final} (held-out pairwise accuracy {summary['pairwise_accuracy']:.3f}, "
          f"real vs corrupted {summary['real_vs_corrupted_accuracy']:.3f}; eval.json and loss.png beside it)")


def cmd_score(args: argparse.Namespace) -> None:
    from scorer.model import DEFAULT_SCORER
    from scorer.scoring import score_file

    if not args.input.is_file():
        raise UsageError(f"{args.input}: no such file; give a JSON Lines file of records")
    if args.out.resolve() == args.input.resolve():
        raise UsageError("OUT must be another file than IN")
    _check_writable(args.out)  # before the scorer loads: a device or folder is refused, never replaced
    scorer = _load_scorer(args.scorer)
    if scorer is None:
        raise UsageError(f"no scorer: the default is missing from {DEFAULT_SCORER} (restore it with git); "
                         "or pass --scorer")
    scored, errors, pairs = score_file(scorer, args.input, args.out)
    print(f"scored {scored} records into {args.out}; {errors} records without lyrics or not JSON (marked \"error\")",
          file=sys.stderr)
    if pairs["pairs"]:  # a file of pairs (the check set): how often the better side won, per kind
        print(f"pairwise accuracy {pairs['accuracy']:.3f} on {pairs['pairs']} pairs: "
              + ", ".join(f"{kind} {value:.3f}" for kind, value in pairs["by_kind"].items()))


def cmd_rs(args: argparse.Namespace) -> None:
    from pipeline.rs.rounds import run_rounds

    config = load_config(args.config, RSConfig)
    if config.engine.address is None:  # a local Ray's actors run in this environment; a cluster has its own
        _require_engine(config.engine.decodes_with)
    report = run_rounds(config)
    print(f"rejection sampling: {report} (metrics.png and round_*/ beside it)")


def cmd_export(args: argparse.Namespace) -> None:

    config = load_config(args.config, GeneratorConfig)
    run = config.run_dir
    knowledge, sft = run / "knowledge" / "final", run / "sft" / "final"
    if not sft.is_dir():
        raise UsageError(f"no finished sft stage under {run}: run `tianci train --config {args.config} --stage sft`")
    if knowledge.is_dir():
        base, adapter = knowledge, sft
    elif (sft / "adapter_config.json").is_file():
        base, adapter = config.model.base, sft
    else:
        base, adapter = sft, None  # trained with all parameters: nothing to merge
    print(export_model(str(base), str(adapter) if adapter else None, args.out))


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative: give 0 or more")
    return value


def cmd_corpus_briefs(args: argparse.Namespace) -> None:
    briefs = BriefSampler().sample(args.lang, args.seed, args.count, args.start)
    text = "".join(json.dumps(b.to_dict(), ensure_ascii=False) + "\n" for b in briefs)
    if args.out is None:
        sys.stdout.write(text)
    else:
        _check_writable(args.out)
        write_atomic(args.out, text)
        print(f"{len(briefs)} briefs in {args.out}")


def _checked(files: list[Path], briefs: list[Path], corpus: Path | None) -> CheckResult:
    found = load_briefs(briefs)
    with tqdm(desc="songs", unit=" songs", file=sys.stderr, disable=None) as bar:
        return check_files(files, found, against=corpus, progress=bar)


def cmd_corpus_check(args: argparse.Namespace) -> None:
    checks_corpus = any(CORPUS.resolve() in (path.resolve(), *path.resolve().parents) for path in args.files)
    result = _checked(args.files, args.briefs, None if checks_corpus else CORPUS)
    for where, reason in result.rejected:
        print(json.dumps({"id": where, "reason": reason}, ensure_ascii=False) if args.json else f"{where}: {reason}")
    failed = len({where for where, _ in result.rejected})
    print(f"{len(result.kept)} songs pass, {failed} rejected", file=sys.stderr)
    if failed:
        raise SystemExit(1)


def cmd_corpus_add(args: argparse.Namespace) -> None:
    result = _checked(args.files, args.briefs, args.corpus)
    for where, reason in result.rejected:
        print(f"{where}: {reason}")
    added = add_to_corpus(result, args.corpus)
    print(f"added {added} songs to {args.corpus}, revised {len(result.revised)}; "
          f"{len({w for w, _ in result.rejected})} rejected, {result.already} already there")


def cmd_corpus_report(args: argparse.Namespace) -> None:
    report = corpus_report(corpus_songs(args.corpus))
    md, png = write_report(report, args.out)
    print(f"{report.summary_line()}\nwrote {md} and {png}")


def cmd_data_fetch(args: argparse.Namespace) -> None:

    fetch_all()


def cmd_data_build(args: argparse.Namespace) -> None:


    names = [n.strip() for n in args.sources.split(",") if n.strip()]
    if not 0 < args.modern_fraction <= 1:
        raise UsageError("--modern-fraction must be above 0 and at most 1")
    sources = builtin_sources(names, args.modern_fraction) + [user_source(path, args.lang) for path in args.input]
    if not sources:
        raise UsageError("nothing to build: give --sources or --input")
    out = args.out or tianci_home() / "data"
    with tqdm(desc="works", unit=" works", file=sys.stderr, disable=None) as bar:
        stats = build(sources, out, progress=bar)
    kept = ", ".join(f"{key} {n:,}" for key, n in stats.to_dict()["kept"].items())
    print(f"built {out}: {kept}; {stats.duplicates:,} duplicates and {stats.too_short:,} too short dropped")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        args.run(args)
    except TianciError as err:  # every domain error: one line, exit 2
        print(f"tianci: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
