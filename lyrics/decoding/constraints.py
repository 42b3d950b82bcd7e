"""Constrained decoding: structure, rhyme and tone as a Hugging Face logits processor, exact on byte-level BPE.

Each syllable position of the spec becomes a :class:`Slot` (a tone class, a rhyme group, both or
neither). :class:`CharRules` says which characters may fill a slot: a character qualifies only if
*every* reading the annotator can give it qualifies, so the reading later chosen from context cannot
break the constraint. :class:`LyricsLogitsProcessor` tracks per batch row where the output stands (line,
syllable, bytes of an unfinished character) and allows exactly the tokens that keep it on the plan:

- structure: a line gets exactly its syllables; a line break only when it is full; no punctuation,
  Latin or other non-lyric token inside a line; EOS only after the last line; the prompt is free;
- rhyme: the last syllable of a labelled line is in the label's group (pinned, or chosen by the
  label's first line), on a character no other line of the label ended on (no 重韵); a multi-character
  token is judged by the character that lands at the line end,
  and a token that would run past the line end is masked;
- tone: each syllable has its pattern's tone class.

The three are applied as one joint mask, not three: a token that ends inside a character (Qwen splits
rare characters over 2-3 byte tokens) is allowed only if some continuation finishes a character that
meets *all* constraints of that position, which separate masks cannot see.

State is incremental (one token per row per step) and keyed by the row's generated tokens, so beam
search's reordering and ``num_return_sequences`` need nothing special; masks are computed once per
distinct state and cached, whole-vocabulary tensor operations with no Python loop over the vocabulary.

If a row reaches a state with no allowed token (possible only when a chosen rhyme leaves a later tone
pattern short of characters), the line's tone pattern is dropped, then its rhyme; structure never is.
Each relaxation is recorded in the row's state and reported with the candidate.

A whole run on a tiny random Qwen3 with a character tokenizer (any Hugging Face causal LM and tokenizer work
the same way; ``lyrics.generation.generate`` does this for you):

>>> import torch
>>> from transformers import LogitsProcessorList, Qwen3Config, Qwen3ForCausalLM
>>> from lyrics.training.chartok import build_char_tokenizer
>>> from phonetics import annotate
>>> tokenizer = build_char_tokenizer("床前明月光疑是地上霜举头望低思故乡")
>>> spec = LyricSpec.from_dict({"lang": "cmn", "topic": "月", "structure": "5A 5A", "rhymes": {"A": "光"}})
>>> constraint = LyricsConstraint(spec, TokenTable.for_tokenizer(tokenizer), eos_ids=[tokenizer.eos_token_id])
>>> _ = torch.manual_seed(0)
>>> model = Qwen3ForCausalLM(Qwen3Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=16))
>>> prompt = tokenizer("月", return_tensors="pt")
>>> out = model.generate(**prompt, logits_processor=LogitsProcessorList([constraint.processor()]), do_sample=True,
...     max_new_tokens=16, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
>>> lines = tokenizer.decode(out[0, 1:], skip_special_tokens=True).split("\\n")
>>> [len(line) for line in lines], [annotate(line[-1], "cmn")[0].rhyme for line in lines]
([5, 5], ['江阳', '江阳'])
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from transformers import LogitsProcessor

from lyrics.decoding.spec import FREE, LyricSpec, SpecError
from lyrics.decoding.tokentable import NEWLINE, SPECIAL, TEXT, TokenTable, utf8_length
from phonetics import is_cjk, reading_sets, scheme, split_romanization, to_lang_script, tone_class

_BIAS_CACHE_BYTES = 128 << 20  # additive bias rows kept per token table: ~210 rows at Qwen's vocabulary


def _kept_with_table(table: TokenTable, cache: str, forbidden: torch.Tensor, device: torch.device,
                     make: Callable[[], torch.Tensor], bytes_per_token: int) -> torch.Tensor:
    """``make()``'s tensor for ``forbidden`` on ``device``, kept in the ``table``'s ``cache`` (most recently used
    first, evicted past ``_BIAS_CACHE_BYTES``): keyed by the mask's identity, which the constraint's cache keeps."""
    rows: OrderedDict = table.derived.setdefault(cache, OrderedDict())
    key = (id(forbidden), str(device))
    hit = rows.get(key)
    if hit is not None and hit[0] is forbidden:
        rows.move_to_end(key)
        return hit[1]
    row = make()
    rows[key] = (forbidden, row)
    while len(rows) > 1 and len(rows) * row.numel() * bytes_per_token > _BIAS_CACHE_BYTES:
        rows.popitem(last=False)
    return row


def additive_bias(forbidden: torch.Tensor, device: torch.device, table: TokenTable) -> torch.Tensor:
    """``forbidden`` as an additive float row (0 or -inf) on ``device``. Adding one is 15-40x faster on
    CPU than ``masked_fill`` with a bool mask, and float32 adds far faster than a half-precision row into
    float32 scores, but a row costs 4 bytes a token: only the most recently used rows are kept (with the
    ``table`` the masks index), the bool masks being the real cache."""
    return _kept_with_table(
        table, "bias rows", forbidden, device,
        lambda: torch.zeros(forbidden.shape, dtype=torch.float32).masked_fill_(forbidden, float("-inf")).to(device),
        bytes_per_token=4)


_NONE = torch.zeros(0, dtype=torch.long)  # no more ids forbidden


def device_mask(forbidden: torch.Tensor, device: torch.device, table: TokenTable) -> torch.Tensor:
    """``forbidden`` on ``device``: itself on the CPU, elsewhere a copy kept with the ``table`` (most recently used
    first, as :func:`additive_bias` keeps its rows), so the masks of a batch are stacked where the logits are."""
    if device.type == "cpu":
        return forbidden
    return _kept_with_table(table, "device masks", forbidden, device, lambda: forbidden.to(device), bytes_per_token=1)


class UnsatisfiableSpec(SpecError):
    """The vocabulary cannot meet the spec; the message names the line."""


@dataclass(frozen=True)
class Slot:
    """What one syllable position requires. ``choose``: the first line of an unpinned rhyme label,
    whose last syllable must have one unambiguous group among these (later lines then follow it)."""

    tone: str | None = None
    rhyme: str | None = None
    choose: frozenset[str] | None = None
    avoid: frozenset[str] = frozenset()  # characters other lines of the label already ended on (no 重韵)

    def describe(self) -> str:
        parts = [f"tone {self.tone}"] if self.tone else []
        if self.rhyme:
            parts.append(f"rhyme {self.rhyme}")
        if self.choose:
            parts.append("a rhyme its label can keep")
        return " and ".join(parts) or "any syllable"


class CharRules:
    """Which characters may fill a slot, judged on every reading each character can have."""

    def __init__(self, lang: str, scheme_name: str, table: TokenTable):
        self.lang, self.table = lang, table
        rhyme_scheme = scheme(lang, scheme_name)
        self.classes: dict[str, frozenset[str]] = {}
        self.groups: dict[str, frozenset[str | None]] = {}
        for char, readings in reading_sets(lang).items():
            if not is_cjk(char) or to_lang_script(char, lang) != char:
                continue  # not a syllable, or the other script (Mandarin simplified, Cantonese traditional)
            parsed = [split_romanization(lang, r) for r in readings]
            self.classes[char] = frozenset(tone_class(lang, tone) for _, _, tone in parsed)
            self.groups[char] = frozenset(rhyme_scheme.group(final) for _, final, _ in parsed)
        # A byte-level vocabulary can write any character byte by byte; a character vocabulary only its own.
        any_char = table.writes_any_utf8
        whole = set(table.char_list)
        self.writable = sorted(c for c in self.classes if any_char or c in whole)
        self._writable_set = frozenset(self.writable)
        self._char_masks: dict[Slot, torch.Tensor] = {}  # per slot, kept with these rules (slots are few)
        self._prefixes: dict[Slot, frozenset[bytes]] = {}
        self._prefix_masks: dict[Slot, torch.Tensor] = {}
        self._prefix_counts: dict[Slot, dict[bytes, int]] = {}
        self._lost: dict[tuple[Slot, frozenset[str]], frozenset[bytes]] = {}

    def allows(self, char: str, slot: Slot) -> bool:
        classes = self.classes.get(char)
        if classes is None or char in slot.avoid:
            return False
        if slot.tone and classes != {slot.tone}:
            return False
        groups = self.groups[char]
        if slot.rhyme and groups != {slot.rhyme}:
            return False
        return not slot.choose or (len(groups) == 1 and next(iter(groups)) in slot.choose)

    def group_of(self, char: str) -> str | None:
        groups = self.groups.get(char, frozenset())
        return next(iter(groups)) if len(groups) == 1 else None

    def char_mask(self, slot: Slot) -> torch.Tensor:
        """bool [C+1] over the table's characters (the last entry, padding, is True)."""
        if slot not in self._char_masks:
            allowed = [self.allows(c, slot) for c in self.table.char_list]
            self._char_masks[slot] = torch.tensor([*allowed, True], dtype=torch.bool)
        return self._char_masks[slot]

    def prefixes(self, slot: Slot) -> frozenset[bytes]:
        """Every proper UTF-8 prefix of a writable character that fits the slot."""
        if slot not in self._prefixes:
            out = set()
            for char in self.writable:
                if self.allows(char, slot):
                    data = char.encode("utf-8")
                    out.update(data[:k] for k in range(1, len(data)))
            self._prefixes[slot] = frozenset(out)
        return self._prefixes[slot]

    def prefix_counts(self, slot: Slot) -> dict[bytes, int]:
        """Per proper UTF-8 prefix in :meth:`prefixes`, how many writable characters that fit ``slot`` begin with
        it."""
        if slot not in self._prefix_counts:
            counts: dict[bytes, int] = {}
            for char in self.writable:
                if self.allows(char, slot):
                    data = char.encode("utf-8")
                    for k in range(1, len(data)):
                        counts[data[:k]] = counts.get(data[:k], 0) + 1
            self._prefix_counts[slot] = counts
        return self._prefix_counts[slot]

    def lost_prefixes(self, slot: Slot, avoid: frozenset[str]) -> frozenset[bytes]:
        """The prefixes of ``slot`` (one without ``avoid``) that only characters in ``avoid`` finish:
        ``prefixes(slot)`` less these is ``prefixes`` of the slot that avoids them, found without a pass over
        every writable character per set of used characters."""
        key = (slot, avoid)
        if key not in self._lost:
            counts, gone = self.prefix_counts(slot), {}
            for char in avoid:
                if char in self._writable_set and self.allows(char, slot):
                    data = char.encode("utf-8")
                    for k in range(1, len(data)):
                        gone[data[:k]] = gone.get(data[:k], 0) + 1
            self._lost[key] = frozenset(p for p, n in gone.items() if counts.get(p, 0) == n)
        return self._lost[key]

    def fits_prefix(self, piece: bytes, slot: Slot) -> bool:
        """Whether ``piece`` is in ``prefixes(slot)``, the characters a slot avoids taken off its avoid-free
        prefixes."""
        if not slot.avoid:
            return piece in self.prefixes(slot)
        free = replace(slot, avoid=frozenset())
        return piece in self.prefixes(free) and piece not in self.lost_prefixes(free, slot.avoid)

    def prefix_mask(self, slot: Slot) -> torch.Tensor:
        """bool [P] over the table's trailing partial characters."""
        if slot not in self._prefix_masks:
            allowed = self.prefixes(slot)
            self._prefix_masks[slot] = torch.tensor([p in allowed for p in self.table.prefixes] or [False],
                                                    dtype=torch.bool)
        return self._prefix_masks[slot]

    def any_allowed(self, slot: Slot) -> bool:
        return bool(self.some_allowed(slot, 1))

    def some_allowed(self, slot: Slot, enough: int) -> list[str]:
        """Up to ``enough`` writable characters that fit ``slot``."""
        found = []
        for c in self.writable:
            if self.allows(c, slot):
                found.append(c)
                if len(found) >= enough:
                    break
        return found


def distinct_choice(options: list[list[str]]) -> bool:
    """Whether each of the lines can take a character of its own from its options (a matching, Kuhn's
    augmenting paths). Options capped at len(options) characters decide it as well as the full sets: a line
    with that many can always be served last."""
    owner: dict[str, int] = {}

    def place(line: int, seen: set[str]) -> bool:
        for char in options[line]:
            if char not in seen:
                seen.add(char)
                if char not in owner or place(owner[char], seen):
                    owner[char] = line
                    return True
        return False

    return all(place(line, set()) for line in range(len(options)))


def char_rules(lang: str, scheme_name: str, table: TokenTable) -> CharRules:
    """One CharRules per language, scheme and token table, kept with the table (building one takes about a
    second)."""
    key = ("rules", lang, scheme_name)
    if key not in table.derived:
        table.derived[key] = CharRules(lang, scheme_name, table)
    return table.derived[key]


@dataclass(frozen=True)
class RowState:
    line: int = 0
    pos: int = 0  # syllables written in the current line
    pending: bytes = b""  # bytes of an unfinished character
    chosen: tuple[tuple[str, str], ...] = ()  # rhyme group chosen per unpinned label
    line_ends: tuple[tuple[str, str], ...] = ()  # (label, character) each finished labelled line ended on
    relaxed: tuple[tuple[int, str], ...] = ()  # (line, "tone" | "rhyme")
    hint: int = 0  # tokens of the current line's forced hint written so far
    kept: int = 0  # tokens of the current kept line written so far
    done: bool = False
    off_plan: bool = False  # a token the plan forbids was forced in (by a caller's own processor)


class LyricsConstraint:
    """A spec compiled against one tokenizer's table: slots, rule checks and the mask cache."""

    def __init__(self, spec: LyricSpec, table: TokenTable, eos_ids: list[int],
                 hints: list[list[int]] | None = None, kept: dict[int, list[int]] | None = None):
        """``hints``: per line, token ids forced before its first syllable (``prompt.hint`` and a newline,
        tokenized), for a generator trained with hint lines; None for none. ``kept``: per kept line of the spec
        (``spec.keep``), the token ids that write its text, forced in place of choosing its syllables."""
        if hints is not None and len(hints) != len(spec.lines):
            raise ValueError(f"{len(hints)} hints for {len(spec.lines)} lines")
        self.spec, self.table, self.hints = spec, table, hints
        self.kept = self._check_kept(spec, table, kept or {})
        # characters kept lines end on, per label: no other line of the label may end on one (no 重韵)
        self.kept_line_ends = {(spec.lines[i].label, text[-1]) for i, text in spec.keep if spec.lines[i].label}
        self.rules = char_rules(spec.lang, spec.scheme, table)
        self.eos_ids = sorted({i for i in eos_ids if i is not None and 0 <= i < table.vocab_size})
        if not self.eos_ids:
            raise ValueError("no end-of-sequence token id: pass the tokenizer's eos_token_id")
        self.newline_ids = table.newline_ids
        if len(spec.lines) > 1 and not self.newline_ids:
            raise UnsatisfiableSpec("the tokenizer has no token for a line break (\\n)")
        # forbidden tokens, and how many are allowed, by the slots still to fill (used characters left out)
        self._masks: dict[tuple, tuple[torch.Tensor, int]] = {}
        self._overlays: dict[tuple, torch.Tensor] = {}  # by mask key and used characters: the more ids they forbid
        self._by_state: dict[tuple, tuple[tuple, torch.Tensor, torch.Tensor]] = {}  # by state: relaxations, masks
        self._kinds: list[int] = table.kinds.tolist()  # per-token lookups on the hot path, off the tensor
        self._text = (table.kinds == TEXT)
        self._boundary_text = self._text & (table.lead == 0)
        self._n_chars = table.n_chars.long()
        self._has_tail = table.tail >= 0
        self._tail_tokens = self._has_tail.nonzero().flatten()
        self._lead_tokens: dict[int, list[int]] = {}  # by the number of continuation bytes they start with
        for token in (self._text & (table.lead > 0)).nonzero().flatten().tolist():
            self._lead_tokens.setdefault(int(table.lead[token]), []).append(token)
        self.masks_built = 0  # for benchmarks: how many masks were computed rather than found
        self.overlays_built = 0  # and how many used-character overlays
        self.viable_groups = self._viable_groups()  # per unpinned label: groups all its lines can end in

    # ---- the plan ----------------------------------------------------------------------------------

    @staticmethod
    def _check_kept(spec: LyricSpec, table: TokenTable, kept: dict[int, list[int]]) -> dict[int, list[int]]:
        if set(kept) != {i for i, _ in spec.keep}:
            raise ValueError("kept: give the token ids of every kept line of the spec, and only those")
        for i, text in spec.keep:
            ids = kept[i]
            written = b"".join(table.data[t] for t in ids if 0 <= t < table.vocab_size)
            if written != text.encode("utf-8") or any(int(table.kinds[t]) != TEXT for t in ids):
                raise UnsatisfiableSpec(f"line {i + 1} (kept, {text!r}): the tokenizer cannot write it as lyric text")
        return kept

    def slot(self, state: RowState, line: int, pos: int) -> Slot:
        spec_line = self.spec.lines[line]
        relaxed = {what for i, what in state.relaxed if i == line}
        tone = None
        if spec_line.tones and "tone" not in relaxed and spec_line.tones[pos] != FREE:
            tone = spec_line.tones[pos]
        if pos != spec_line.syllables - 1 or not spec_line.label or "rhyme" in relaxed:
            return Slot(tone=tone)
        label = spec_line.label
        avoid = frozenset(char for other, char in (*state.line_ends, *self.kept_line_ends) if other == label)
        group = self.spec.rhymes.get(label) or dict(state.chosen).get(label)
        if group:
            return Slot(tone=tone, rhyme=group, avoid=avoid)
        return Slot(tone=tone, choose=self.viable_groups[label], avoid=avoid)

    def _viable_groups(self) -> dict[str, frozenset[str]]:
        """Per unpinned label, the groups every line of the label can end in, each on its own character (a
        group needs as many fitting characters as the label has lines); checks pinned ones too."""
        out = {}
        all_groups = frozenset(g for gs in self.rules.groups.values() for g in gs if g)
        for label in self.spec.labels:  # kept lines are written as given: only the others need characters
            lines = [i for i, line in enumerate(self.spec.lines) if line.label == label and i not in self.kept]
            if not lines:
                continue
            candidates = [self.spec.rhymes[label]] if label in self.spec.rhymes else sorted(all_groups)
            viable = []
            for group in candidates:
                if distinct_choice([self.rules.some_allowed(self._final_slot(i, group), len(lines)) for i in lines]):
                    viable.append(group)
            if not viable:
                what = f"rhyme {self.spec.rhymes[label]}" if label in self.spec.rhymes else "any one rhyme group"
                empty = [i for i in lines
                         if not any(self.rules.any_allowed(self._final_slot(i, g)) for g in candidates)]
                if empty or label not in self.spec.rhymes:
                    i = empty[0] if empty else lines[0]
                    raise UnsatisfiableSpec(
                        f"line {i + 1} ({self._line_name(i)}): no character in the vocabulary ends the line with "
                        f"{what}{self._tone_note(i)} for every line labelled {label}"
                        + ("" if empty else ", each on a character of its own"))
                i = lines[-1]  # every line has a character, but too few distinct ones for all of them
                raise UnsatisfiableSpec(
                    f"line {i + 1} ({self._line_name(i)}): the vocabulary has too few characters ending a line with "
                    f"{what}{self._tone_note(i)} for the {len(lines)} lines labelled {label}, each on its own "
                    "character")
            out[label] = frozenset(viable)
        for i, line in enumerate(self.spec.lines):
            if i in self.kept:
                continue
            for pos in range(line.syllables - (1 if line.label else 0)):
                slot = Slot(tone=line.tones[pos] if line.tones and line.tones[pos] != FREE else None)
                if not self.rules.any_allowed(slot):
                    raise UnsatisfiableSpec(
                        f"line {i + 1} ({self._line_name(i)}): no character in the vocabulary has {slot.describe()} "
                        f"at syllable {pos + 1}")
        return out

    def _final_slot(self, line: int, group: str) -> Slot:
        spec_line = self.spec.lines[line]
        tone = spec_line.tones[-1] if spec_line.tones and spec_line.tones[-1] != FREE else None
        return Slot(tone=tone, rhyme=group)

    def _line_name(self, line: int) -> str:
        spec_line = self.spec.lines[line]
        return f"{spec_line.syllables}{spec_line.label or ''}"

    def _tone_note(self, line: int) -> str:
        tones = self.spec.lines[line].tones
        return f" and tone {tones[-1]}" if tones and tones[-1] != FREE else ""

    # ---- state -------------------------------------------------------------------------------------

    def advance(self, state: RowState, token: int) -> RowState:
        """The state after ``token``."""
        if state.done:
            return state
        kind = self._kinds[token]
        if token in self.eos_ids or kind == SPECIAL:
            return replace(state, done=True)
        line = self.spec.lines[state.line] if state.line < len(self.spec.lines) else None
        if line and self._in_hint(state):
            expected = self.hints[state.line][state.hint]
            return replace(state, hint=state.hint + 1) if token == expected else replace(state, off_plan=True)
        if kind == NEWLINE and line and state.pos == line.syllables and not state.pending:
            return replace(state, line=state.line + 1, pos=0, hint=0, kept=0)
        if kind != TEXT or line is None:
            return replace(state, off_plan=True)
        if (kept := self.kept.get(state.line)) is not None:  # a kept line: its own tokens, in order
            if state.kept >= len(kept) or token != kept[state.kept]:
                return replace(state, off_plan=True)
            state = replace(state, kept=state.kept + 1)
        data, pos, chosen = state.pending + self.table.data[token], state.pos, dict(state.chosen)
        line_ends = state.line_ends
        i = 0
        while i < len(data):
            size = utf8_length(data[i])
            if size == 0 or i + size > len(data):
                break
            char = data[i:i + size].decode("utf-8", errors="replace")
            if pos == line.syllables - 1 and line.label:
                line_ends = (*line_ends, (line.label, char))
                if line.label not in self.spec.rhymes and line.label not in chosen \
                        and (group := self.rules.group_of(char)):
                    chosen[line.label] = group  # the label's first line picks its group
            pos, i = pos + 1, i + size
        return replace(state, pos=pos, pending=data[i:], chosen=tuple(sorted(chosen.items())), line_ends=line_ends)

    def choosing(self, state: RowState) -> bool:
        """Whether the next token starts a syllable the decoder chooses: inside a line, at a character boundary,
        not in a forced hint nor in a kept line."""
        if state.done or state.off_plan or state.line >= len(self.spec.lines) or state.pending:
            return False
        return (state.pos < self.spec.lines[state.line].syllables and not self._in_hint(state)
                and state.line not in self.kept)

    def _in_hint(self, state: RowState) -> bool:
        return (self.hints is not None and state.pos == 0 and not state.pending
                and state.hint < len(self.hints[state.line]))

    def lyric_tokens(self, tokens: list[int]) -> list[int]:
        """``tokens`` without the forced hints: what the lyrics are written with."""
        state, out = RowState(), []
        for token in tokens:
            state = self.resolve(state)
            if not (state.line < len(self.spec.lines) and self._in_hint(state)):
                out.append(token)
            state = self.advance(state, token)
        return out

    def replay(self, tokens: list[int]) -> RowState:
        """The state after ``tokens`` from the start, relaxing where generation had to."""
        state = RowState()
        for token in tokens:
            state = self.advance(self.resolve(state), token)
        return state

    # ---- masks -------------------------------------------------------------------------------------

    def allowed(self, state: RowState) -> tuple[RowState, torch.Tensor]:
        """The tokens allowed after ``state`` (bool [V]); relaxes the current line when none is."""
        state, forbidden = self.forbidden(state)
        return state, ~forbidden

    def forbidden(self, state: RowState) -> tuple[RowState, torch.Tensor]:
        """The complement of :meth:`allowed`, materialised: :meth:`masks`' shared mask with the row's used
        characters filled in (a new tensor when there are any). The processors apply :meth:`masks` instead."""
        state, base, extra = self.masks(state)
        return state, (base.clone().index_fill_(0, extra, True) if len(extra) else base)

    def resolve(self, state: RowState) -> RowState:
        """``state`` with the relaxations its mask needs (none unless a line has no allowed token left)."""
        return self.masks(state)[0]

    def masks(self, state: RowState) -> tuple[RowState, torch.Tensor, torch.Tensor]:
        """What ``state`` forbids, in two parts: a bool [V] mask shared by every state with the same slots still to
        fill, the characters other lines of the rhyme label ended on left out (so a spec has few of them, each
        computed once), and the long [E] ids those used characters forbid besides (the 重韵 rule: tokens that would
        put one at the line end, or a partial character only they finish): a small per-row overlay, empty for
        most states. Cached per state on its plain fields, so the per-step cost is one small tuple hash."""
        key = (state.line, state.pos, state.pending, state.chosen, state.line_ends, state.relaxed, state.hint,
               state.kept, state.done or state.off_plan)
        hit = self._by_state.get(key)
        if hit is None:
            resolved = state
            base, allowed, extra = self._forbidden(resolved)
            for what in ("tone", "rhyme"):
                if allowed > len(extra):
                    break
                resolved = replace(resolved, relaxed=(*resolved.relaxed, (resolved.line, what)))
                base, allowed, extra = self._forbidden(resolved)
            hit = self._by_state[key] = (resolved.relaxed, base, extra)
        relaxed, base, extra = hit
        return (state if relaxed == state.relaxed else replace(state, relaxed=relaxed)), base, extra

    def _forbidden(self, state: RowState) -> tuple[torch.Tensor, int, torch.Tensor]:
        """The tokens ``state`` forbids: the mask cached per distinct remaining slots without the used characters
        (states that share one share the tensor), how many tokens it allows, and the ids the used characters
        forbid besides (among those it allows)."""
        if state.done or state.off_plan or state.line >= len(self.spec.lines):
            return (*self._ids_mask(("eos",), self.eos_ids), _NONE)
        line = self.spec.lines[state.line]
        if self._in_hint(state):
            token = self.hints[state.line][state.hint]
            return (*self._ids_mask(("hint", token), [token]), _NONE)
        if state.pos == line.syllables and not state.pending:
            if state.line == len(self.spec.lines) - 1:
                return (*self._ids_mask(("eos",), self.eos_ids), _NONE)
            return (*self._ids_mask(("newline",), self.newline_ids), _NONE)
        if (kept := self.kept.get(state.line)) is not None:
            token = kept[state.kept]  # the kept text has exactly the line's syllables: it ends with them
            return (*self._ids_mask(("kept", token), [token]), _NONE)
        slots = tuple(self.slot(state, state.line, p) for p in range(state.pos, line.syllables))
        avoid = slots[-1].avoid  # only a line's last syllable avoids characters
        free = (*slots[:-1], replace(slots[-1], avoid=frozenset())) if avoid else slots
        key = (free, state.pending)
        if key not in self._masks:
            allowed = self._text_mask(free) if not state.pending else self._pending_mask(free, state.pending)
            self._masks[key] = (~allowed, int(allowed.sum()))
            self.masks_built += 1
        forbidden, count = self._masks[key]
        if not avoid:
            return forbidden, count, _NONE
        overlay_key = (key, avoid)
        if overlay_key not in self._overlays:
            self._overlays[overlay_key] = self._overlay(slots, state.pending, forbidden)
            self.overlays_built += 1
        return forbidden, count, self._overlays[overlay_key]

    def _overlay(self, slots: tuple[Slot, ...], pending: bytes, forbidden: torch.Tensor) -> torch.Tensor:
        """The tokens the used characters of the last slot (``slots[-1].avoid``) forbid that ``forbidden`` (the
        mask without them) allows: those with a used character, or a partial character only used ones finish, at
        the line end. Sorted, unique ids."""
        last, room = slots[-1], len(slots)
        if pending:  # continuing a character: few tokens are allowed; each is simulated with the used characters
            allowed = (~forbidden).nonzero().flatten().tolist()
            out = [t for t in allowed if not self._continues(pending, t, slots)]
            return torch.tensor(out, dtype=torch.long)
        free = replace(last, avoid=frozenset())
        parts = [self.table.tokens_with_char(char, room - 1) for char in sorted(last.avoid)]
        parts += [self.table.tokens_with_tail(prefix, room - 1)
                  for prefix in sorted(self.rules.lost_prefixes(free, last.avoid))]
        ids = torch.cat([_NONE, *parts]).unique()
        return ids[~forbidden[ids]]

    def _ids_mask(self, key: tuple, ids: list[int]) -> tuple[torch.Tensor, int]:
        """Forbids everything but ``ids``."""
        if key not in self._masks:
            forbidden = torch.ones(self.table.vocab_size, dtype=torch.bool)
            forbidden[ids] = False
            self._masks[key] = (forbidden, len(set(ids)))
        return self._masks[key]

    def _text_mask(self, slots: tuple[Slot, ...]) -> torch.Tensor:
        """Tokens that start at a character boundary and fit the remaining slots of the line."""
        room = len(slots)
        k, tail = self._n_chars, self._has_tail
        ok = self._boundary_text & (k + tail >= 1) & (k + tail <= room)
        chars = self.table.chars
        for m in range(min(chars.shape[1], room)):
            ok &= (k <= m) | self.rules.char_mask(slots[m])[chars[:, m].long()]
        if len(self._tail_tokens):  # a trailing partial character must be finishable in its slot
            tokens = self._tail_tokens
            lands = k[tokens].clamp(max=room - 1)
            fits = torch.zeros(len(tokens), dtype=torch.bool)
            for m in lands.unique().tolist():
                sel = lands == m
                fits[sel] = self.rules.prefix_mask(slots[m])[self.table.tail[tokens[sel]].long()]
            ok[tokens] &= fits
        return ok

    def _pending_mask(self, slots: tuple[Slot, ...], pending: bytes) -> torch.Tensor:
        """Tokens that continue the unfinished character ``pending``: few (161 in Qwen3, fewer of the right
        continuation length), so checked one by one, each simulated through the remaining slots."""
        ok = torch.zeros(self.table.vocab_size, dtype=torch.bool)
        need = utf8_length(pending[0])
        missing = need - len(pending)
        for token in (t for lead in range(1, missing + 1) for t in self._lead_tokens.get(lead, ())):
            ok[token] = self._continues(pending, token, slots, need)
        return ok

    def _continues(self, pending: bytes, token: int, slots: tuple[Slot, ...], need: int = 0) -> bool:
        """Whether ``token`` continues the unfinished character ``pending`` and fits the remaining slots."""
        data = pending + self.table.data[token]
        if len(data) < (need or utf8_length(pending[0])):
            return self.rules.fits_prefix(data, slots[0])
        return self._fits(data, slots)

    def _fits(self, data: bytes, slots: tuple[Slot, ...]) -> bool:
        i = m = 0
        while i < len(data):
            size = utf8_length(data[i])
            if size == 0 or m >= len(slots):
                return False
            piece = data[i:i + size]
            if len(piece) < size:
                return self.rules.fits_prefix(piece, slots[m])
            try:
                char = piece.decode("utf-8")
            except UnicodeDecodeError:
                return False
            if not self.rules.allows(char, slots[m]):
                return False
            i, m = i + size, m + 1
        return True

    def processor(self) -> LyricsLogitsProcessor:
        return LyricsLogitsProcessor(self)


def apply_masks(row: torch.Tensor, constraint: LyricsConstraint, state: RowState) -> None:
    """Masks one row of scores ([V], in place) as ``state`` needs: the shared mask's additive bias row, then the
    used characters' few ids set to -inf."""
    _, base, extra = constraint.masks(state)
    row.add_(additive_bias(base, row.device, constraint.table))
    if len(extra):
        row.index_fill_(0, extra.to(row.device), float("-inf"))


class RowTracker:
    """Where each row of a ``model.generate`` call stands in a constraint's plan, kept incrementally: a row's
    state is its parent's (the row one token shorter, from the previous step) advanced by one token."""

    def __init__(self, constraint: LyricsConstraint):
        self.constraint = constraint
        self._prompt_length: int | None = None
        self._states: dict[tuple[int, ...], RowState] = {(): RowState()}

    def states(self, input_ids: torch.LongTensor) -> list[RowState]:
        if self._prompt_length is None:
            self._prompt_length = input_ids.shape[1]  # everything before the first call is prompt
        states: dict[tuple[int, ...], RowState] = {}
        out = []
        for row in input_ids[:, self._prompt_length:].tolist():
            key = tuple(row)
            state = states.get(key) or self._states.get(key)
            if state is None:
                parent = self._states.get(key[:-1])
                state = self.constraint.advance(parent, key[-1]) if parent else self.constraint.replay(row)
            state = self.constraint.resolve(state)  # with the relaxations its mask needed
            states[key] = state
            out.append(state)
        self._states = states  # only the current step's rows are parents of the next
        return out


class LyricsLogitsProcessor(LogitsProcessor):
    """Applies a :class:`LyricsConstraint` during ``model.generate``; one instance per generate call."""

    def __init__(self, constraint: LyricsConstraint):
        self.constraint = constraint
        self.tracker = RowTracker(constraint)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for i, state in enumerate(self.tracker.states(input_ids)):
            apply_masks(scores[i], self.constraint, state)
        return scores


class RowConstraintsProcessor(LogitsProcessor):
    """Each row of a ``model.generate`` call under its own :class:`LyricsConstraint`: the candidates of one
    request rhyme in different groups, and their hints name them, so each row has its own plan. Rows sharing a
    constraint share its tracker and cached masks. One instance per generate call; ``num_return_sequences=1``,
    no beams (a beam moves between rows)."""

    def __init__(self, constraints: list[LyricsConstraint]):
        self.constraints = constraints
        self._groups: dict[int, tuple[LyricsConstraint, list[int], RowTracker]] = {}
        for row, constraint in enumerate(constraints):
            key = id(constraint)
            if key not in self._groups:
                self._groups[key] = (constraint, [], RowTracker(constraint))
            self._groups[key][1].append(row)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for constraint, rows, tracker in self._groups.values():
            for i, state in zip(rows, tracker.states(input_ids[rows]), strict=True):
                apply_masks(scores[i], constraint, state)
        return scores

