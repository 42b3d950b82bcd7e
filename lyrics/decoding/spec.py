"""The lyric spec: what the user asks for, validated before any model work.

    {"lang": "cmn"|"yue", "topic": str, "structure": "[verse] 7A 7B 7C 7B [chorus] 6D 6D 8D 8D",
     "rhymes": {"A": "光"}?, "tones": ["平平仄仄平", ...]?, "scheme": "13zhe"|"14yun"|"strict"|"loose"?,
     "n": int?, "seed": int?, "id": str?}

``structure`` lists lines as ``<syllables><label?>``; lines sharing a label rhyme. ``rhymes`` pins a
label's group by an example character, a group name of the scheme, or a final. ``tones`` gives one
pattern per line (fewer: the rest are free): Mandarin 平/仄, Cantonese 0243 digits, ``*`` free. Every
problem is a :class:`SpecError` naming the field and what is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from phonetics import PhoneticsError, TianciError, analyze, is_cjk, language, language_codes, scheme, tone_classes

DEFAULT_STRUCTURE = "7A 7A 7B 7A"  # a quatrain, lines 1, 2 and 4 rhyming (七绝): the front ends' default
MAX_SYLLABLES = 30
MAX_LINES = 64
MAX_CANDIDATES = 64
MAX_TOPIC_CHARS = 200
FREE = "*"
_LINE = re.compile(r"(\d+)([A-Z]?)")
_SECTION = re.compile(r"\[([A-Za-z][\w-]*)\]")
MAX_KEYWORDS = 8
MAX_SEED = 2**63 - 1  # torch's generator takes a 64-bit seed
_FIELDS = {"lang", "topic", "structure", "rhymes", "tones", "scheme", "n", "seed", "id", "genre", "mood", "register",
           "keywords", "keep"}
MAX_STYLE_CHARS = 40  # genre and mood: a few words, not a text
_KEYWORD_SPLIT = re.compile(r"[\s,，、;；]+")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """User text made safe once, at the boundary: a lone surrogate (bytes that were not UTF-8) becomes U+FFFD
    and control characters other than tab and newline are dropped, so no later encode or tokenizer fails.

    >>> clean_text("月" + chr(0xD800) + "光" + chr(7)) == "月\N{REPLACEMENT CHARACTER}光"
    True
    """
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


def cleaned(value: Any) -> Any:
    """Every string inside a spec's JSON value cleaned (:func:`clean_text`), structure kept."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {cleaned(k): cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cleaned(v) for v in value]
    return value


class SpecError(TianciError, ValueError):
    """An invalid spec; the message is one line naming the field and what is allowed."""


@dataclass(frozen=True)
class LineSpec:
    syllables: int
    label: str | None  # lines with the same label rhyme; None: no rhyme constraint
    section: str | None  # the [section] the line is in
    tones: str | None  # one tone class or * per syllable; None: free


@dataclass(frozen=True)
class LyricSpec:
    lang: str
    topic: str
    lines: tuple[LineSpec, ...]
    scheme: str
    rhymes: dict[str, str] = field(default_factory=dict)  # label → pinned rhyme group
    n: int = 1
    seed: int | None = None
    id: str | None = None
    genre: str | None = None
    structure: str = ""
    keywords: tuple[str, ...] = ()  # the keyword plan: the user's, else filled from the topic (lyrics.data.keywords)
    keep: tuple[tuple[int, str], ...] = ()  # (line index, its fixed text): lines given, the decoder writes the rest
    mood: str | None = None
    register: str | None = None  # one of the language's lyric_registers: Cantonese written or colloquial

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(line.label for line in self.lines if line.label))

    @classmethod
    def from_dict(cls, data: Any) -> LyricSpec:
        if not isinstance(data, dict):
            raise SpecError("spec must be a JSON object with at least lang, topic and structure")
        data = cleaned(data)
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise SpecError(f"unknown field {unknown[0]!r}: allowed fields are {', '.join(sorted(_FIELDS))}")
        lang = data.get("lang")
        if lang not in language_codes():
            raise SpecError(f"lang: {lang!r} is not supported; use one of {', '.join(language_codes())}")
        spoken = language(lang)
        scheme_name = data.get("scheme") or None
        if scheme_name is not None and scheme_name not in spoken.schemes:
            raise SpecError(f"scheme: {scheme_name!r} is not a {lang} scheme; use one of {', '.join(spoken.schemes)}")
        rhyme_scheme = scheme(lang, scheme_name)
        topic = data.get("topic", "")
        if not isinstance(topic, str) or not topic.strip():
            raise SpecError("topic: give a non-empty string, e.g. \"月光\"")
        if len(topic) > MAX_TOPIC_CHARS:
            raise SpecError(f"topic: {len(topic)} characters; at most {MAX_TOPIC_CHARS}")
        lines = _parse_structure(data.get("structure"))
        lines = _attach_tones(lines, data.get("tones"), lang)
        labels = {line.label for line in lines if line.label}
        pins = data.get("rhymes") or {}
        if not isinstance(pins, dict):
            raise SpecError("rhymes: give an object of label → anchor, e.g. {\"A\": \"光\"}")
        resolved = {}
        for label, anchor in pins.items():
            if label not in labels:
                known = ", ".join(sorted(labels)) or "none"
                raise SpecError(f"rhymes: label {label!r} is not in the structure (labels: {known})")
            if not isinstance(anchor, str) or not anchor.strip():
                raise SpecError(f"rhymes.{label}: give a character, a group name or a final")
            try:
                resolved[label] = rhyme_scheme.resolve(anchor.strip())
            except PhoneticsError as err:
                raise SpecError(f"rhymes.{label}: {err}") from None
        keep = _keep(data.get("keep"), lines, lang, rhyme_scheme, resolved)
        n = _int_field(data, "n", 1, 1, MAX_CANDIDATES)
        seed = data.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED):
            raise SpecError(f"seed: give an integer from 0 to {MAX_SEED}")
        spec_id = data.get("id")
        if spec_id is not None and not isinstance(spec_id, str):
            raise SpecError("id: give a string")
        genre, mood = _style(data, "genre"), _style(data, "mood")
        register = data.get("register") or None
        allowed = tuple(spoken.lyric_registers)
        if register is not None and register not in allowed:  # a tuple: JSON may give an unhashable list
            raise SpecError(f"register: {register!r} is not a {lang} register; "
                            + (f"use one of {', '.join(allowed)}" if allowed else "leave it out"))
        return cls(lang, topic.strip(), tuple(lines), rhyme_scheme.name, resolved, n, seed, spec_id,
                   genre, data.get("structure"), _keywords(data.get("keywords")), keep, mood, register)

    def keep_dict(self) -> dict[str, str]:
        """The kept lines as the spec field writes them: 1-based line number → text."""
        return {str(i + 1): text for i, text in self.keep}


def _style(data: dict, name: str) -> str | None:
    """A short free-text field (genre, mood): a string of at most ``MAX_STYLE_CHARS`` characters, or None."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SpecError(f"{name}: give a short string, e.g. \"流行抒情\"")
    if len(value) > MAX_STYLE_CHARS:
        raise SpecError(f"{name}: {len(value)} characters; at most {MAX_STYLE_CHARS}")
    return value.strip() or None


def _keep(value: Any, lines: list[LineSpec], lang: str, rhyme_scheme,
          pinned: dict[str, str]) -> tuple[tuple[int, str], ...]:
    """Kept lines from ``{"1": "床前明月光"}`` or ``"1=床前明月光,3=..."`` (1-based). Each must have its line's
    syllables (nothing else) and tones; its rhyme group pins its label in ``pinned`` (updated in place), and two
    kept lines of one label must rhyme, on characters of their own."""
    if value is None or value == "" or value == {}:
        return ()
    if isinstance(value, str):
        items = {}
        for part in filter(None, (p.strip() for p in re.split(r"[,，]", value))):
            number, sep, text = part.partition("=")
            if not sep or not number.strip().isdecimal():
                raise SpecError(f"keep: {part!r} should look like 1=床前明月光")
            items[number.strip()] = text
        value = items
    if not isinstance(value, dict):
        raise SpecError('keep: give an object of line number → text, e.g. {"1": "床前明月光"}, or "1=床前明月光"')
    kept: dict[int, str] = {}
    line_ends: dict[str, tuple[int, str]] = {}
    for key, text in sorted(value.items(), key=lambda item: int(item[0]) if str(item[0]).isdecimal() else -1):
        if not str(key).isdecimal() or not 1 <= int(key) <= len(lines):
            raise SpecError(f"keep: line {key!r} is not a line of the structure (1 to {len(lines)})")
        i = int(key) - 1
        if not isinstance(text, str) or not text.strip():
            raise SpecError(f"keep: line {i + 1}: give its text")
        text, line = text.strip(), lines[i]
        analysis = analyze(text, lang, rhyme_scheme.name)
        if not all(map(is_cjk, text)) or len(analysis.lines) != 1:
            raise SpecError(f"keep: line {i + 1} ({text!r}) must be one line of Chinese characters only")
        got = analysis.lines[0]
        if got.syllable_count != line.syllables:
            raise SpecError(f"keep: line {i + 1} ({text!r}) has {got.syllable_count} syllables; the structure asks "
                            f"for {line.syllables}")
        if line.tones and any(want not in (FREE, have) for want, have in zip(line.tones, got.tone_pattern,
                                                                               strict=True)):
            raise SpecError(f"keep: line {i + 1} ({text!r}) has tones {got.tone_pattern}; the line asks for "
                            f"{line.tones}")
        if line.label:
            if got.rhyme is None:
                raise SpecError(f"keep: line {i + 1} ({text!r}) ends on {text[-1]!r}, whose rhyme is not known; "
                                "drop its label or keep another line")
            if pinned.get(line.label, got.rhyme) != got.rhyme:
                source = (f"line {line_ends[line.label][0] + 1} (kept)" if line.label in line_ends
                          else f"rhymes.{line.label}")
                raise SpecError(f"keep: line {i + 1} ({text!r}) ends in {got.rhyme}, but {source} puts label "
                                f"{line.label} in {pinned[line.label]}")
            if line.label in line_ends and line_ends[line.label][1] == text[-1]:
                raise SpecError(f"keep: lines {line_ends[line.label][0] + 1} and {i + 1} both end on {text[-1]!r} "
                                f"(label {line.label}): an identical rhyme; keep another line")
            pinned[line.label] = got.rhyme
            line_ends.setdefault(line.label, (i, text[-1]))
        kept[i] = text
    return tuple(sorted(kept.items()))


def _keywords(value: Any) -> tuple[str, ...]:
    """Keywords as a list of strings or one string separated by commas, 、 or spaces; each 1-4 Chinese
    characters."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [w for w in _KEYWORD_SPLIT.split(value) if w]
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise SpecError('keywords: give a list of words or one string, e.g. ["海浪", "夏天"] or "海浪、夏天"')
    words = tuple(dict.fromkeys(w.strip() for w in value if w.strip()))
    if len(words) > MAX_KEYWORDS:
        raise SpecError(f"keywords: {len(words)} given; at most {MAX_KEYWORDS}")
    for word in words:
        if not 1 <= len(word) <= 4 or not all(map(is_cjk, word)):
            raise SpecError(f"keywords: {word!r} is not 1-4 Chinese characters")
    return words


def _int_field(data: dict, name: str, default: int, low: int, high: int) -> int:
    value = data.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SpecError(f"{name}: give an integer from {low} to {high}")
    return value


def _parse_structure(structure: Any) -> list[LineSpec]:
    if not isinstance(structure, str) or not structure.strip():
        raise SpecError('structure: give lines as "<syllables><label?>", e.g. "7A 7A 7B 7A" or "[verse] 5A 5A"')
    lines: list[LineSpec] = []
    section = None
    for item in structure.split():
        if match := _SECTION.fullmatch(item):
            section = match.group(1).lower()
            continue
        match = _LINE.fullmatch(item)
        if match is None:
            raise SpecError(f"structure: {item!r} is neither a line like 7A (syllables, optional capital label) "
                            "nor a section like [chorus]")
        count = int(match.group(1))
        if not 1 <= count <= MAX_SYLLABLES:
            raise SpecError(f"structure: {item!r} has {count} syllables; a line has 1 to {MAX_SYLLABLES}")
        lines.append(LineSpec(count, match.group(2) or None, section, None))
    if not lines:
        raise SpecError("structure: no lines, only sections; add lines such as 7A")
    if len(lines) > MAX_LINES:
        raise SpecError(f"structure: {len(lines)} lines; at most {MAX_LINES}")
    return lines


def _attach_tones(lines: list[LineSpec], tones: Any, lang: str) -> list[LineSpec]:
    if tones is None:
        return lines
    if isinstance(tones, str):
        tones = tones.split(",")
    if not isinstance(tones, list) or not all(isinstance(t, str) for t in tones):
        raise SpecError("tones: give a list of patterns, one per line")
    if len(tones) > len(lines):
        raise SpecError(f"tones: {len(tones)} patterns for {len(lines)} lines")
    alphabet = set(tone_classes(lang)) | {FREE}
    shown = " ".join(tone_classes(lang)) + f" or {FREE}"
    out = list(lines)
    for i, raw in enumerate(tones):
        pattern = "".join(raw.split())
        if not pattern or set(pattern) == {FREE}:
            continue
        bad = sorted(set(pattern) - alphabet)
        if bad:
            raise SpecError(f"tones[{i}]: {bad[0]!r} is not a {lang} tone class; use {shown}")
        if len(pattern) != lines[i].syllables:
            raise SpecError(f"tones[{i}]: pattern {pattern!r} has {len(pattern)} positions, "
                            f"line {i + 1} has {lines[i].syllables} syllables")
        out[i] = LineSpec(lines[i].syllables, lines[i].label, lines[i].section, pattern)
    return out


def parse_rhymes_option(text: str) -> dict[str, str]:
    """The CLI's ``--rhymes A=光,B=天`` as the spec's ``rhymes`` object."""
    out = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        label, sep, anchor = item.partition("=")
        if not sep or not label.strip() or not anchor.strip():
            raise SpecError(f"rhymes: {item!r} should look like A=光")
        out[label.strip()] = anchor.strip()
    return out

