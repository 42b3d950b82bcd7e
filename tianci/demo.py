"""Tianci's Gradio demo: write, analyze, compare and rate lyrics; started by ``app.py`` (its arguments are there,
so that ``--help`` answers without importing gradio and torch).

Bound to 127.0.0.1 unless ``--host`` says otherwise. API endpoints: ``/generate`` (the spec's fields) and
``/analyze`` (``text``, ``lang``); see the README for a ``gradio_client`` example.
"""

from __future__ import annotations

import argparse
import functools
import html
import io
import json
import logging
import math
import random
import shutil
import sys
import tempfile
import threading
import zlib
from collections import deque
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from lyrics.data.rhymebook import rhyme_dictionary
from lyrics.decoding.melody import MelodyError, melody_fit, melody_tones, with_melody
from lyrics.decoding.spec import DEFAULT_STRUCTURE, LyricSpec, parse_rhymes_option
from lyrics.export import export_candidates
from lyrics.generation import Candidate
from lyrics.models import DEFAULT_MODEL, ModelLoadError, check_local, load_model, set_cpu_threads
from phonetics import TianciError, analyze, language, language_codes, languages, reading_sets, scheme
from pipeline.candidates import ranked
from pipeline.writer import Writer
from scorer.model import DEFAULT_SCORER, Scorer, is_scorer
from scorer.ratings import ASPECTS, RatingsStore, default_ratings_db

MAX_TEXT = 5000  # characters the Analyze tab reads
MAX_CANDIDATES = 8
HISTORY = 50  # sets of candidates the page's history keeps
EXPORTS_KEPT = 32  # newest writes whose export files stay downloadable; older ones are deleted (a server runs for days)
PRESETS = {
    "七绝 · 7A 7A 7B 7A": "7A 7A 7B 7A",
    "五绝 · 5A 5A 5B 5A": "5A 5A 5B 5A",
    "五律 · 5 5A 5 5A 5 5A 5 5A": "5 5A 5 5A 5 5A 5 5A",
    "verse + chorus": "[verse] 7A 7B 7C 7B [chorus] 6D 6D 8D 8D",
    "pop · 8A 8A 9B 9B": "8A 8A 9B 9B",
}
# the modern corpus's genres (lyrics/modern/data/brief_tables.json), then the classical ones the verse carries
GENRES = ("", "流行抒情", "城市民谣", "轻快流行", "摇滚", "校园民谣", "R&B慢歌", "电子流行", "shi", "ci", "qu")
FORM_FIELDS = 15  # the Write form's inputs, in order: lang ... keywords, mood, register
API_FORM_FIELDS = 13  # the /generate endpoint's: lang ... keywords
PALETTE = ("#d1495b", "#00798c", "#edae49", "#66a182", "#8d5fd3", "#2e4057", "#e07a5f", "#3d5a80")
LOG = logging.getLogger("tianci.app")

CSS = """
.tc-card {border: 1px solid var(--border-color-primary); border-radius: 12px; padding: 14px 18px; margin: 10px 0;
          background: var(--background-fill-secondary);}
.tc-head {display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-bottom: 8px; font-size: 0.95em;}
.tc-rank {font-weight: 700; font-size: 1.1em; margin-right: 6px;}
.tc-badge {border-radius: 999px; padding: 1px 10px; font-size: 0.85em; white-space: nowrap;}
.tc-ok {background: #e3f4ea; color: #1d6b3a;} .tc-bad {background: #fbe4e4; color: #9b1c1c;}
.tc-score {background: #eef0fb; color: #33408f;}
.tc-line {font-size: 1.6em; line-height: 2.4em; font-family: "Noto Serif CJK SC", serif; overflow-wrap: anywhere;}
.tc-line ruby {margin: 0 0.12em; ruby-align: center;}
.tc-line ruby rt {font-size: 0.4em; padding: 0 0.3em; color: var(--body-text-color-subdued); letter-spacing: 0;
                  font-family: sans-serif;}
.tc-meta {font-size: 0.8em; color: var(--body-text-color-subdued); margin-left: 14px; font-family: monospace;}
.tc-miss {text-decoration: underline wavy #d1495b;}
.tc-empty {color: var(--body-text-color-subdued); padding: 20px;}
.tc-error {color: #9b1c1c; font-weight: 600;}
.tc-hist {font-size: 0.9em; padding: 2px 0; border-bottom: 1px dotted var(--border-color-primary);}
"""


# ---- rendering --------------------------------------------------------------------------------------

def _colour(group: str | None) -> str:
    return PALETTE[zlib.crc32(group.encode()) % len(PALETTE)] if group else "inherit"


def render_lines(text: str, lang: str, scheme_name: str | None = None, tones: list[str | None] | None = None,
                 melody_levels: list[str] | None = None) -> str:
    """Lines as ruby (romanization over every character), the line-final rhyme coloured by group, positions
    whose tone misses the asked pattern underlined."""
    analysis = analyze(text, lang, scheme_name)
    readings = reading_sets(lang)
    out = []
    for i, line in enumerate(analysis.lines):
        want = (tones[i] if tones and i < len(tones) else None) or ""
        cells, k = [], 0
        for syllable in line.syllables:
            if not syllable.is_syllable:
                continue
            style = f' style="color:{_colour(line.rhyme)};font-weight:700"' if syllable is line.final_syllable else ""
            miss = k < len(want) and want[k] not in ("*", syllable.tone_class)
            cls = ' class="tc-miss"' if miss else ""
            reading = html.escape(syllable.romanization or "?")
            every = "/".join(sorted(readings.get(syllable.char, ()))) or "?"  # on hover: every reading it can have
            cells.append(f'<ruby{cls}{style} title="{html.escape(every)}">{html.escape(syllable.char)}'
                         f"<rt>{reading}</rt></ruby>")
            k += 1
        meta = f"{line.syllable_count} · {line.rhyme or '—'} · {line.tone_pattern}"
        if melody_levels and i < len(melody_levels):
            meta += f" · melody {melody_levels[i]}"
        out.append(f'<div class="tc-line">{"".join(cells)}<span class="tc-meta">{html.escape(meta)}</span></div>')
    return "".join(out)


def render_history(history: list[dict]) -> str:
    """Every set of candidates written since the page opened, newest first."""
    if not history:
        return '<div class="tc-empty">Nothing written yet.</div>'
    items = []
    for number, entry in reversed(list(enumerate(history, 1))):
        kept = f" · kept lines {', '.join(entry['kept'])}" if entry["kept"] else ""
        first = html.escape(entry["candidates"][0].replace("\n", " / ")) if entry["candidates"] else ""
        items.append(f'<div class="tc-hist"><b>{number}.</b> {html.escape(entry["topic"])} ({entry["lang"]}, '
                     f'{len(entry["candidates"])} candidates{kept}) · #1 {first}</div>')
    return "".join(items)


def rhyme_book(lang: str, group: str | None) -> str:
    """The commonest characters of a rhyme group (the rhyme dictionary of ``tianci rhymes``), for the editor."""
    if not group:
        return "Pick a rhyme group to see its characters."
    chars = rhyme_dictionary(lang).members(group, limit=80)
    return f"**{group}** · {len(chars)} commonest: {' '.join(chars) or '(none in the corpus)'}"


def render_candidates(candidates: list[Candidate], spec: LyricSpec, melody=None,
                      scores: list[dict] | None = None) -> str:
    if not candidates:
        return '<div class="tc-empty">No candidates yet.</div>'
    tones = [line.tones for line in spec.lines]
    levels = melody_tones(melody, spec.lang) if melody is not None else None
    cards = []
    for rank, candidate in enumerate(candidates, 1):
        checks = candidate.checks
        asked = [("syllables", checks.structure), ("rhyme", checks.rhyme)]
        if any(tones):  # a tone badge only where tones (or a Cantonese melody) were asked
            asked.append(("tone", checks.tone))
        badges = "".join(f'<span class="tc-badge {"tc-ok" if ok else "tc-bad"}">{name} {"✓" if ok else "✗"}</span>'
                         for name, ok in asked)
        if melody is not None and checks.structure:
            fit = melody_fit(candidate.lyrics, melody, spec.lang)["fit"]
            kind = ("tc-ok" if fit >= 0.999 else "tc-bad") if language(spec.lang).melody_levels else "tc-score"
            badges += f'<span class="tc-badge {kind}">melody fit {fit:.0%}</span>'
        if scores:
            badges += "".join(f'<span class="tc-badge tc-score" title="scorer, 1-5">{name} {value:.1f}</span>'
                              for name, value in scores[rank - 1].items())
        body = render_lines(candidate.lyrics, spec.lang, spec.scheme, tones, levels)
        head = f'<div class="tc-head"><span class="tc-rank">#{rank}</span>{badges}</div>'
        cards.append(f'<div class="tc-card" data-rank="{rank}">{head}{body}</div>')
    return "".join(cards)


# ---- the app ----------------------------------------------------------------------------------------

class Mistake(gr.Error):
    """A user mistake: shown as its one line, and not printed with a traceback (``user_errors`` logs one line)."""

    def __init__(self, message: str):
        super().__init__(message, print_exception=False)


def user_errors(handler: Callable) -> Callable:
    """The demo's one boundary for user mistakes: a ``TianciError`` becomes the one-line message shown beside the
    control that caused it, and one line in the server log, not a traceback. Anything else is a bug and keeps its
    traceback (a bare ``ValueError`` is not caught: it would pass a bug off as the user's mistake)."""
    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except TianciError as err:
            message = str(err).splitlines()[0] if str(err).strip() else type(err).__name__
            LOG.warning("%s: %s", handler.__name__, message)
            raise Mistake(message) from None
        except gr.Error as err:
            LOG.warning("%s: %s", handler.__name__, err.message)
            raise

    return wrapped


ERROR_MARK = '<span class="tc-error">'  # how a status line that shows an error begins
BUG_MESSAGE = ("Something went wrong in the demo itself, not in what you entered; the server log has the details. "
               "Try again, and report it if it keeps happening.")


def as_sentence(message: str) -> str:
    """A handler's one-line message (lower-case, CLI style) as a sentence for the page."""
    message = message.strip() or "That did not work; check the form and try again"
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?", "。")) else f"{message}."


def error_status(message: str) -> str:
    return f"{ERROR_MARK}⚠ {html.escape(as_sentence(message))}</span>"


def shown_beside(handler: Callable, outputs: int, related: int = 0) -> Callable:
    """``handler`` for a page button: its ``outputs``, then a status line beside the button, emptied on success;
    a mistake leaves the outputs as they were and says in that line, as a sentence, what to change. With
    ``outputs`` 0 the handler's one output is that line (a success message). ``related``: that many status lines
    of neighbouring buttons, passed after the handler's inputs and returned after its own; a success clears an
    error they show (it is about what the page showed before) and keeps their other messages. (The API endpoints
    call the handler itself: errors come back as errors.)"""
    def run(*args: object) -> object:
        inputs, others = (args[:-related], args[-related:]) if related else (args, ())
        try:
            result = handler(*inputs)
        except gr.Error as err:
            status = error_status(str(err.message))
        except Exception:  # a bug: its traceback in the server log, a sentence on the page, never a bare "Error"
            LOG.exception("%s failed", getattr(handler, "__name__", "handler"))
            status = error_status(BUG_MESSAGE)
        else:
            cleared = ["" if str(other or "").startswith(ERROR_MARK) else gr.update() for other in others]
            if outputs == 0:
                return result if not related else (result, *cleared)
            return (*result, "", *cleared)
        kept = [gr.update()] * related
        return status if outputs == 0 and not related else (*[gr.update()] * outputs, status, *kept)

    return run


def whole_number(value: object) -> object:
    """A form's number as an int when it is a whole one (gradio's sliders give floats); anything else goes on
    unchanged, for the spec to refuse in its own words."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def sampling_temperature(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise Mistake(f"temperature: {value!r} is not a positive number; use one from 0.1 to 1.5, e.g. 0.9")
    return float(value)


class Demo:
    def __init__(self, models: dict[str, str], db: Path, scorer: str | None = None):
        """``models``: the operator's list, name → folder; the page names them and loads nothing else."""
        self.models = models
        self.names = list(models)
        self.store = RatingsStore(db)
        self._writers: dict[str, Writer] = {}
        self.scorer_path = scorer
        self._scorer = None
        # one folder for every write's export files, deleted with the Demo (or at exit), never one per write left behind
        self._exports = tempfile.TemporaryDirectory(prefix="tianci-exports-")
        self._export_folders: deque[Path] = deque()
        self._export_lock = threading.Lock()  # page events run on several threads

    def export_folder(self) -> Path:
        """A new folder for one write's export files, under the Demo's own; the oldest beyond ``EXPORTS_KEPT`` go."""
        folder = Path(tempfile.mkdtemp(dir=self._exports.name))
        with self._export_lock:
            self._export_folders.append(folder)
            old = [self._export_folders.popleft() for _ in range(len(self._export_folders) - EXPORTS_KEPT)]
        for gone in old:
            shutil.rmtree(gone, ignore_errors=True)
        return folder

    def scorer(self):
        """The quality scorer, loaded on first use; None when there is none (candidates are then ranked by checks)."""
        if self._scorer is None and self.scorer_path:
            self._scorer = Scorer.load(self.scorer_path, device="cpu")
        return self._scorer

    def writer(self, name: str) -> Writer:
        """The Writer of one of the listed models, with the scorer (each loaded once: at most the list); any other
        name is refused without touching the disk or the hub."""
        if name not in self.models:
            raise ModelLoadError(f"unknown model {str(name)[:40]!r}: choose one of {', '.join(self.names)}")
        if name not in self._writers:
            model, tokenizer = load_model(self.models[name], device="cpu")
            set_cpu_threads(model)  # the demo only decodes: threads sized for that
            self._writers[name] = Writer(model, tokenizer, self.scorer())
        return self._writers[name]

    def spec_of(self, lang, topic, genre, structure, rhymes, tones, melody_text, midi_file, n, seed, keywords="",
                keep: dict[str, str] | None = None, mood: str = "", register: str = ""):
        """The spec (and melody) from the form's fields, ``keep`` the lines to keep; errors are one line."""
        fields = {"lang": lang, "topic": topic or "", "structure": structure or DEFAULT_STRUCTURE,
                  "n": whole_number(n), "seed": whole_number(seed) if seed not in (None, "") else None}
        if keep:
            fields["keep"] = keep
        if keywords and keywords.strip():
            fields["keywords"] = keywords.strip()
        if genre:
            fields["genre"] = genre
        if mood and mood.strip():
            fields["mood"] = mood.strip()
        if register and lang in language_codes() and language(lang).lyric_registers:  # Mandarin has none
            fields["register"] = register
        if rhymes and rhymes.strip():
            fields["rhymes"] = parse_rhymes_option(rhymes.strip())
        if tones and tones.strip():
            fields["tones"] = [t.strip() for t in tones.replace("，", ",").split(",")]
        melody = None
        if (melody_text and melody_text.strip()) or midi_file:
            path = midi_file if isinstance(midi_file, str) else getattr(midi_file, "name", None)
            typed = bool(structure) and structure not in PRESETS.values()  # a preset yields to the melody's lines
            try:
                fields, melody = with_melody(fields, text=melody_text, midi=Path(path) if path else None,
                                             structure_given=typed)
            except MelodyError as err:  # the CLI's words name its flag and the upload's temporary path
                if not path:
                    raise
                raise MelodyError(str(err).replace(f"--midi {path}", f"MIDI file {Path(path).name}")) from None
        return LyricSpec.from_dict(fields), fields, melody

    def _write(self, form: tuple, keep: dict[str, str] | None = None):
        """Candidates for the form (best first, through the one candidate pipeline) and what they were written to."""
        (lang, topic, genre, structure, rhymes, tones, melody, midi, n, temperature, seed, model_name, keywords,
         *style) = form
        mood, register = (*style, "", "")[:2]
        spec, fields, tune = self.spec_of(lang, topic, genre, structure, rhymes, tones, melody, midi, n, seed,
                                          keywords, keep, mood, register)
        writer = self.writer(model_name or self.names[0])
        spec = writer.plan(spec)
        if spec.keywords:
            fields["keywords"] = list(spec.keywords)
        scorer = writer.scorer
        results = writer.write([spec], spec.n, seed=spec.seed, temperature=sampling_temperature(temperature),
                               melody=tune)  # an UnsatisfiableSpec is a user mistake: user_errors shows its line
        best_first = ranked(results[0])
        state = {"prompt": json.dumps(fields, ensure_ascii=False), "model": model_name or self.names[0],
                 "candidates": [s.lyrics for s in best_first]}
        html_cards = render_candidates([s.candidate for s in best_first], spec, tune,
                                       [s.scores for s in best_first] if scorer else None)
        plain = "\n\n".join(f"#{i}\n{s.lyrics}" for i, s in enumerate(best_first, 1))
        if spec.keywords:
            plain = f"keywords: {'、'.join(spec.keywords)}\n\n{plain}"
        return spec, fields, tune, best_first, state, html_cards, plain

    @user_errors
    def generate(self, lang, topic, genre, structure, rhymes, tones, melody, midi, n, temperature, seed, model_name,
                 keywords="", mood="", register=""):
        """The /generate endpoint: the cards, the plain text and the rating state."""
        *_, best_first, state, html_cards, plain = self._write(
            (lang, topic, genre, structure, rhymes, tones, melody, midi, n, temperature, seed, model_name, keywords,
             mood, register))
        choices = [str(i) for i in range(1, len(best_first) + 1)]
        return html_cards, plain, state, gr.update(choices=choices, value=choices[0] if choices else None)

    @user_errors
    def write(self, *args):
        """The Write button: :meth:`generate`'s outputs, then the lock and rewrite controls for candidate 1,
        the downloads and the page's history. ``args``: the form's fields, then the history."""
        return self._written(args[:FORM_FIELDS], args[FORM_FIELDS], None)

    @user_errors
    def rewrite_rest(self, *args):
        """Keep the locked lines of the chosen candidate, write the rest. ``args``: the form, the history, the
        rating state, the chosen candidate and the locked line numbers."""
        form, (history, state, which, locked) = args[:FORM_FIELDS], args[FORM_FIELDS:]
        lines = self._chosen(state, which)
        if not locked:
            raise Mistake("lock at least one line to keep, or write new lyrics")
        return self._written(form, history, {str(i): lines[int(i) - 1] for i in locked})

    @user_errors
    def rewrite_line(self, *args):
        """Write one line of the chosen candidate again, keeping all the others."""
        form, (history, state, which, line) = args[:FORM_FIELDS], args[FORM_FIELDS:]
        lines = self._chosen(state, which)
        if not line:
            raise Mistake("choose the line to rewrite")
        return self._written(form, history, {str(i): text for i, text in enumerate(lines, 1) if str(i) != str(line)})

    def _chosen(self, state, which) -> list[str]:
        if not state or not state.get("candidates"):
            raise Mistake("write lyrics first, then keep or rewrite their lines")
        try:
            return state["candidates"][int(which) - 1].split("\n")
        except (ValueError, IndexError, TypeError):
            raise Mistake(f"there is no candidate {which!r}") from None

    def _written(self, form: tuple, history: list | None, keep: dict[str, str] | None):
        spec, fields, tune, best_first, state, html_cards, plain = self._write(form, keep)
        files = export_candidates(self.export_folder(), fields, [s.to_dict() for s in best_first], tune, spec.topic)
        history = [*[dict(entry) for entry in history or []][-(HISTORY - 1):],
                   {"topic": spec.topic, "lang": spec.lang, "kept": sorted(keep or {}),
                    "candidates": [s.lyrics for s in best_first]}]
        choices = [str(i) for i in range(1, len(best_first) + 1)]
        return (html_cards, plain, state, gr.update(choices=choices, value=choices[0] if choices else None),
                *self.line_controls(state, "1"), [str(p) for p in files], history, render_history(history))

    def line_controls(self, state, which):
        """The lock boxes and the one-line dropdown for the chosen candidate's lines."""
        lines = self._chosen(state, which) if state and state.get("candidates") and which else []
        choices = [(f"{i}. {line}", str(i)) for i, line in enumerate(lines, 1)]
        return gr.update(choices=choices, value=[]), gr.update(choices=choices, value=None)

    @user_errors
    def rate(self, state, which, rater, *scores):
        if not state or not state.get("candidates"):
            raise Mistake("generate candidates first, then rate one")
        try:
            lyrics = state["candidates"][int(which) - 1]
        except (ValueError, IndexError, TypeError):
            raise Mistake(f"cannot save the rating: there is no candidate {which!r}") from None
        row = self.store.add(state["prompt"], lyrics, dict(zip(ASPECTS, scores, strict=True)), rater=rater or "",
                             model=state["model"])
        return f"Saved rating #{row} for candidate {which}."

    @user_errors
    def analyze(self, text: str, lang: str):
        if not text or not text.strip():
            raise Mistake("paste some lyrics to analyze")
        if len(text) > MAX_TEXT:
            raise Mistake(f"{len(text)} characters; the Analyze tab reads at most {MAX_TEXT}")
        analysis = analyze(text, lang)
        rate = analysis.rhyme_rate
        register = f" · read as **{analysis.register}** {language(lang).name}" if analysis.register else ""
        summary = (f"**rhyme scheme** `{analysis.rhyme_letters or '—'}` · **rhyme rate** "
                   f"{'n/a' if rate is None else f'{rate:.2f}'} · {len(analysis.lines)} lines{register}")
        return render_lines(text, lang), summary, analysis.to_dict()

    @user_errors
    def compare(self, lang, topic, structure, model_a, model_b, seed):
        """One prompt through both models; sides shown in random order, unlabeled."""
        if model_a == model_b:
            raise Mistake("choose two different models: a model compared with itself only records ties")
        spec = LyricSpec.from_dict({"lang": lang, "topic": topic or "", "structure": structure or DEFAULT_STRUCTURE,
                                    "seed": whole_number(seed or 0)})
        sides = []
        for name in (model_a, model_b):
            writer = self.writer(name)
            sides.append((name, writer.write([writer.plan(spec)], 1, seed=spec.seed)[0][0].lyrics))
        random.shuffle(sides)
        state = {"prompt": json.dumps({"lang": lang, "topic": topic, "structure": spec.structure},
                                      ensure_ascii=False), "sides": sides}
        return (f'<div class="tc-card">{render_lines(sides[0][1], lang)}</div>',
                f'<div class="tc-card">{render_lines(sides[1][1], lang)}</div>', state)

    @user_errors
    def submit_comparison(self, state, left, right, rater):
        if not state or not state.get("sides"):
            raise Mistake("make a pair first")
        (name_l, lyrics_l), (name_r, lyrics_r) = state["sides"]
        row = self.store.compare(state["prompt"], (name_l, lyrics_l, left), (name_r, lyrics_r, right), rater or "")
        return f"Saved comparison #{row}. The models stay hidden; `tianci ratings mos` reports them."


def compare_needs_two(names: list[str]) -> str:
    listed = ", ".join(f"`{name}`" for name in names) or "none"
    return ("**Compare needs two models.** This demo was started with one (" + listed + "). To compare a new model "
            "with it blind, start the demo with both folders: `python app.py --models models/tiny "
            "runs/my-model/sft/final`.")


def language_choices(native: bool = False) -> list[tuple[str, str]]:
    """(label, code) of every registered language, as the language radios offer them: English names, or with
    ``native`` also the native one in the language's own script (Mandarin 普通话, Cantonese 粵語)."""
    return [(spoken.label if native else spoken.name, spoken.code) for spoken in languages()]


def register_choices() -> tuple[list[tuple[str, str]], str]:
    """The register dropdown's (label, register) choices, every language's lyric registers named in its own
    script (written 書面語, colloquial 口語), and the dropdown's label (Cantonese register)."""
    having = [spoken for spoken in languages() if spoken.lyric_registers]
    choices = {register: f"{register} {spoken.to_script(native)}"
               for spoken in having for register, native in spoken.lyric_registers.items()}
    return [(label, register) for register, label in choices.items()], \
        f"{' / '.join(spoken.name for spoken in having)} register"


def compare_controls(demo: Demo) -> None:
    """The Compare tab's form (two models or more): a blind pair, rated side by side."""
    gr.Markdown("Blind comparison: one prompt through two models, shown in random order without names. "
                "Rate each side 1-5; `tianci ratings mos` reports each model's mean opinion score.")
    with gr.Row():
        c_lang = gr.Radio(language_choices(), value="cmn", label="Language")
        c_topic = gr.Textbox(label="Topic", value="月光")
        c_structure = gr.Textbox(label="Structure", value=DEFAULT_STRUCTURE)
        c_seed = gr.Number(value=1, precision=0, label="Seed")
    with gr.Row():
        model_a = gr.Dropdown(demo.names, value=demo.names[0], label="Current model", allow_custom_value=True)
        model_b = gr.Dropdown(demo.names, value=demo.names[-1], label="New model", allow_custom_value=True)
    c_go = gr.Button("Make a pair", variant="primary", elem_id="compare-btn")
    c_pair_status = gr.Markdown(elem_id="compare-status")
    with gr.Row():
        with gr.Column():
            left = gr.HTML()
            left_score = gr.Slider(1, 5, value=3, step=1, label="Left")
        with gr.Column():
            right = gr.HTML()
            right_score = gr.Slider(1, 5, value=3, step=1, label="Right")
    c_rater = gr.Textbox(label="Your name (optional)", max_length=80)
    c_submit = gr.Button("Submit comparison")
    c_status = gr.Markdown(elem_id="compare-submit-status")
    c_state = gr.State()
    # a new pair makes "make a pair first" beside Submit stale
    c_go.click(shown_beside(demo.compare, 3, related=1),
               [c_lang, c_topic, c_structure, model_a, model_b, c_seed, c_status],
               [left, right, c_state, c_pair_status, c_status], api_name=False)
    c_submit.click(shown_beside(demo.submit_comparison, 0), [c_state, left_score, right_score, c_rater],
                   c_status, api_name=False)


def build(demo: Demo) -> gr.Blocks:
    groups = {lang: sorted(scheme(lang, None).groups) for lang in language_codes()}
    registers, register_label = register_choices()
    with gr.Blocks(title="Tianci 填词") as blocks:
        gr.Markdown("# Tianci 填词\nMandarin and Cantonese lyrics with exact syllable counts, rhymes and tones.")
        with gr.Tab("Write"):
            with gr.Row():
                with gr.Column(scale=2):
                    lang = gr.Radio(language_choices(native=True), value="cmn", label="Language")
                    topic = gr.Textbox(label="Topic", placeholder="月光", max_length=200, elem_id="topic")
                    keywords = gr.Textbox(label="Keywords", placeholder="海浪、夏天", max_length=60,
                                          info="words the lyrics should use; the rest of the plan comes from the topic",
                                          elem_id="keywords")
                    go = gr.Button("Write lyrics", variant="primary", elem_id="generate-btn")  # above the fold
                    write_status = gr.Markdown(elem_id="write-status")
                    with gr.Row():
                        genre = gr.Dropdown(list(GENRES), value="", label="Genre", allow_custom_value=True)
                        mood = gr.Textbox(label="Mood", placeholder="温柔", max_length=40, elem_id="mood")
                        register = gr.Dropdown(registers, value=None, label=register_label, elem_id="register")
                    preset = gr.Dropdown(list(PRESETS), value=next(iter(PRESETS)), label="Structure preset")
                    structure = gr.Textbox(value=next(iter(PRESETS.values())), label="Structure",
                                           info="lines as <syllables><rhyme label>, [sections] allowed",
                                           elem_id="structure")
                    rhymes = gr.Textbox(label="Rhymes", placeholder="A=光, B=江阳",
                                        info="per label: an example character, a group or a final")
                    group_list = gr.Dropdown(groups["cmn"], label="Rhyme groups of the language", value=None,
                                             info="pick one to pin label A", elem_id="rhyme-group")
                    book = gr.Markdown(rhyme_book("cmn", None), elem_id="rhyme-book")
                    tones = gr.Textbox(label="Tone patterns", placeholder="平平仄仄平,*****  (Cantonese: 0243 digits)")
                    with gr.Accordion("Melody", open=False):
                        melody = gr.Textbox(label="Numbered notation", placeholder="3 5 6 1' | 6 5 3 - / ...")
                        midi = gr.File(label="or a MIDI file", file_types=[".mid", ".midi"], type="filepath",
                                       elem_id="midi")
                    # min widths a slider's number box and reset button fit in: the row wraps instead of
                    # squeezing them into a sideways scroll
                    with gr.Row(elem_id="sampling-row"):
                        n = gr.Slider(1, MAX_CANDIDATES, value=4, step=1, label="Candidates", min_width=200)
                        temperature = gr.Slider(0.1, 1.5, value=0.9, step=0.05, label="Temperature", min_width=200)
                        seed = gr.Number(value=1, precision=0, label="Seed", min_width=120)
                    # any name reaches Demo.model, which refuses unlisted ones in one log line (gradio's own
                    # choice check would print a traceback)
                    model = gr.Dropdown(demo.names, value=demo.names[0], label="Model", allow_custom_value=True)
                with gr.Column(scale=3):
                    cards = gr.HTML('<div class="tc-empty">Candidates appear here, best first.</div>',
                                    elem_id="candidates")
                    plain = gr.Textbox(label="Plain text", lines=6, buttons=["copy"], interactive=False,
                                       elem_id="plain")
                    with gr.Accordion("Keep lines, rewrite the rest", open=True):
                        lock = gr.CheckboxGroup([], label="Lock lines of the chosen candidate", elem_id="lock-lines")
                        with gr.Row():
                            rest_btn = gr.Button("Rewrite the rest", elem_id="rewrite-rest-btn")
                            redo_line = gr.Dropdown([], label="Line", elem_id="redo-line")
                            line_btn = gr.Button("Rewrite this line", elem_id="rewrite-line-btn")
                        rewrite_status = gr.Markdown(elem_id="rewrite-status")
                    downloads = gr.File(label="Download (JSON, LRC; with a melody MIDI and MusicXML)",
                                        file_count="multiple", interactive=False, elem_id="downloads")
                    with gr.Accordion("Rate a candidate", open=True):
                        with gr.Row():
                            which = gr.Dropdown([], label="Candidate", elem_id="rate-which")
                            rater = gr.Textbox(label="Your name (optional)", max_length=80)
                        sliders = [gr.Slider(1, 5, value=3, step=1, label=a) for a in ASPECTS]
                        rate_btn = gr.Button("Submit rating", elem_id="rate-btn")
                        rate_status = gr.Markdown(elem_id="rate-status")
            with gr.Accordion("History: everything written since the page opened", open=False):
                history_html = gr.HTML(render_history([]), elem_id="history")
            state = gr.State()
            history = gr.State([])
            preset.change(lambda p: PRESETS[p], preset, structure, api_name=False)
            lang.change(lambda lg: gr.update(choices=groups[lg], value=None), lang, group_list, api_name=False)
            group_list.change(rhyme_book, [lang, group_list], book, api_name=False)
            group_list.change(lambda g: f"A={g}" if g else "", group_list, rhymes, api_name=False)
            form = [lang, topic, genre, structure, rhymes, tones, melody, midi, n, temperature, seed, model, keywords,
                    mood, register]
            assert len(form) == FORM_FIELDS
            written = [cards, plain, state, which]
            page = [*written, lock, redo_line, downloads, history, history_html]
            # new candidates make the other buttons' errors stale ("write lyrics first", "generate candidates
            # first, then rate one"): a success clears them
            go.click(shown_beside(demo.write, len(page), related=2), [*form, history, rewrite_status, rate_status],
                     [*page, write_status, rewrite_status, rate_status], api_name=False)
            rest_btn.click(shown_beside(demo.rewrite_rest, len(page), related=2),
                           [*form, history, state, which, lock, write_status, rate_status],
                           [*page, rewrite_status, write_status, rate_status], api_name=False)
            line_btn.click(shown_beside(demo.rewrite_line, len(page), related=2),
                           [*form, history, state, which, redo_line, write_status, rate_status],
                           [*page, rewrite_status, write_status, rate_status], api_name=False)
            which.change(demo.line_controls, [state, which], [lock, redo_line], api_name=False)
            api_generate = gr.Button(visible=False)  # the /generate endpoint: errors come back as errors
            # the /generate endpoint keeps its 13 inputs (mood and register take their defaults), so API callers
            # written against it keep working
            api_generate.click(demo.generate, form[:API_FORM_FIELDS], written, api_name="generate")
            rate_btn.click(shown_beside(demo.rate, 0), [state, which, rater, *sliders], rate_status, api_name=False)
        with gr.Tab("Analyze"):
            text = gr.Textbox(label="Lyrics", lines=8, max_length=MAX_TEXT, placeholder="床前明月光，疑是地上霜。",
                              elem_id="analyze-text")
            a_lang = gr.Radio(language_choices(), value="cmn", label="Language")
            a_go = gr.Button("Analyze", variant="primary", elem_id="analyze-btn")
            a_status = gr.Markdown(elem_id="analyze-status")
            a_summary = gr.Markdown()
            a_html = gr.HTML(elem_id="analyze-lines")
            a_json = gr.JSON(label="Annotation")
            analysed = [a_html, a_summary, a_json]
            a_go.click(shown_beside(demo.analyze, len(analysed)), [text, a_lang], [*analysed, a_status], api_name=False)
            api_analyze = gr.Button(visible=False)
            api_analyze.click(demo.analyze, [text, a_lang], analysed, api_name="analyze")
        with gr.Tab("Compare"):
            if len(demo.names) < 2:  # a blind pair needs two models; say how to get them instead of a dead form
                gr.Markdown(compare_needs_two(demo.names), elem_id="compare-needs-two")
            else:
                compare_controls(demo)
    return blocks


def listed_models(folders: list[str]) -> dict[str, str]:
    """The operator's model folders by display name (the folder's name; a clash gets its parent's too). A folder
    that is not a Tianci-loadable model ends the start-up with one line."""
    named: dict[str, str] = {}
    for folder in folders:
        path = Path(folder).expanduser()
        try:
            check_local(str(path))
        except ModelLoadError as err:
            sys.exit(f"app.py: error: --models: {err}")
        if not path.is_dir() or is_scorer(path):
            sys.exit(f"app.py: error: --models: {folder!r} is not a generator folder")
        name = path.resolve().name
        if name in named and named[name] != str(path.resolve()):
            name = f"{path.resolve().parent.name}/{name}"
        named[name] = str(path.resolve())
    return named


class RefusalLog(io.TextIOBase):
    """Standard error for the server: gradio prints a whole traceback for every API call its own input checks
    refuse (a choice not offered, a slider value out of range), which are the caller's mistakes, not the demo's;
    those become one line each ("gradio refused: ..."). Every other traceback (a real failure) passes whole."""

    START, REFUSED = "Traceback (most recent call last):", "gradio.exceptions.Error: "

    def __init__(self, stream):
        self.stream, self.lock, self.held = stream, threading.Lock(), {}

    def write(self, text: str) -> int:
        with self.lock:
            held = self.held.get(threading.get_ident())
            if held is None and not text.startswith(self.START):
                return self.stream.write(text)
            held = (held or "") + text
            last = held.rstrip("\n").rpartition("\n")[2]
            if held.endswith("\n") and not last.startswith((" ", self.START)):  # the exception line: its end
                self.held.pop(threading.get_ident(), None)
                if last.startswith(self.REFUSED):
                    return self.stream.write(f"gradio refused: {last[len(self.REFUSED):][:200]}\n")
                return self.stream.write(held)
            self.held[threading.get_ident()] = held
            return len(text)

    def flush(self) -> None:
        self.stream.flush()


def serve(args: argparse.Namespace) -> None:
    """Start the demo as ``app.py``'s parsed arguments say (see :func:`app.parser`)."""
    auth = None
    if args.auth is not None:
        user, sep, password = args.auth.partition(":")
        if not sep or not user or not password:
            sys.exit("app.py: error: --auth must be USER:PASS")
        auth = (user, password)
    models = listed_models(args.models or [str(DEFAULT_MODEL)])
    scorer = None if args.scorer == "none" else args.scorer or (
        str(DEFAULT_SCORER) if (DEFAULT_SCORER / "model.safetensors").is_file() else None)
    demo = Demo(models, args.db or default_ratings_db(), scorer)
    sys.stderr = RefusalLog(sys.stderr)
    blocks = build(demo)
    blocks.queue(default_concurrency_limit=args.concurrency, max_size=64)
    blocks.launch(server_name=args.host, server_port=args.port, auth=auth, css=CSS, show_error=False,
                  theme=gr.themes.Soft(primary_hue="rose", font=["Noto Sans CJK SC", "Noto Sans SC", "sans-serif"]))
