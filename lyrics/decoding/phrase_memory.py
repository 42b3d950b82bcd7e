"""A phrase memory of the modern corpus, mixed into the generator's next-character distribution.

A 4.7M-parameter model trained on a few thousand songs learns words but not syntax; the corpus's own lines hold
the phrases it cannot compose (the idea of kNN-LM and n-gram mixtures: a small parametric model interpolated with a
non-parametric memory of text). The memory (:mod:`lyrics.decoding.memory_index`) gives, for the text of the line
being written, the characters that follow its longest suffix seen in the songs (up to 5 characters of context, line
start included), with the songs nearest the request's topic and plan weighted far above the whole corpus, and a
line's last characters from lines that end in its rhyme group. :class:`PhraseMix` mixes, for each row,

    p = (1 - mix) * p_model + mix * p_memory

where the memory knows the context (at least two continuations seen), and leaves the row alone elsewhere (hint
lines, the middle of a byte-split character, a context never seen). It only reweights: the constraint's mask,
applied after it, still decides what may be written, so structure, rhyme and tone stay exact; whole lines copied
from the corpus are what ``bench/modern_quality.py`` counts. ``mix`` 0 turns it off.

>>> from lyrics.training.chartok import build_char_tokenizer
>>> from lyrics.decoding.memory_index import PhraseMemory
>>> memory = PhraseMemory([("放学", ["我们一起走回家", "我们一起去看海"])])
>>> sorted(memory.continuations("一起").items())
[('去', 1.0), ('走', 1.0)]
>>> tokenizer = build_char_tokenizer("我们一起走回家去看海")
>>> ids = tokenizer.convert_tokens_to_ids
>>> mix = PhraseMix([memory.near("放学")], tokenizer, mix=0.5, prompt_length=0)
>>> scores = mix(torch.tensor([[ids("我"), ids("们"), ids("一"), ids("起")]]), torch.zeros(1, len(tokenizer)))
>>> probs = scores.softmax(-1)[0]
>>> round(float(probs[ids("走")] + probs[ids("去")]), 3) > 0.5
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from transformers import LogitsProcessor

from .memory_index import Counts, TopicMemory
from .prompt import HINT_OPEN
from .row_text import PullText, RowTexts
from .tokentable import TokenTable

COPY_PENALTY = 30.0  # logits off a character that would complete a corpus line whole (not -inf: the mask decides)


class PhraseMix(LogitsProcessor):
    """Mixes each row's next-token distribution with its memory's (``memories``: one per prompt, each prompt's rows
    consecutive, ``rows_per_plan`` of them; None: no memory for that prompt). Characters map to single tokens;
    a character the tokenizer splits gets no memory mass. ``prompt_length``: tokens before generation starts (None:
    the first call's input length)."""

    def __init__(self, memories: Sequence[TopicMemory | None], tokenizer, mix: float, rows_per_plan: int = 1,
                 prompt_length: int | None = None, table: TokenTable | None = None):
        self.memories, self.tokenizer, self.mix = list(memories), tokenizer, float(mix)
        self.rows_per_plan, self.prompt_length = rows_per_plan, prompt_length
        self.active = bool(self.mix and any(m is not None for m in self.memories))
        self.table = (table or TokenTable.for_tokenizer(tokenizer)) if self.active else None
        self.texts = RowTexts(self.table) if self.table is not None else None

    def tokens_of(self, chars: str) -> torch.Tensor:
        """long [len(chars)]: each character's single token, -1 where the tokenizer has none. Kept with the token
        table, by alphabet: shared by every call and (in vLLM) every request."""
        key = ("memory tokens", chars)
        if key not in self.table.derived:
            unknown = self.tokenizer.unk_token_id
            ids = [self.tokenizer.encode(c, add_special_tokens=False) for c in chars]
            self.table.derived[key] = torch.tensor([i[0] if len(i) == 1 and i[0] != unknown else -1 for i in ids],
                                                   dtype=torch.long)
        return self.table.derived[key]

    def row_advice(self, plan: int, written: PullText) -> RowAdvice | None:
        """For a row of prompt ``plan`` that has written ``written``: what its memory says next (None: nothing, or
        not here)."""
        memory = self.memories[min(plan, len(self.memories) - 1)] if self.memories else None
        if memory is None or not self.mix or written.pending:  # none; inside a character split over byte tokens
            return None
        line = written.text.rsplit("\n", 1)[-1]
        if line.startswith(HINT_OPEN) or line.endswith("\ufffd"):  # a hint line; after bytes that are no character
            return None
        advice = memory.advise(written.text)
        if not advice.counts and not advice.copies:
            return None
        return RowAdvice(advice.counts, advice.total, [memory.corpus.alphabet[c] for c in advice.copies],
                         self.tokens_of(advice.chars), self.mix)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not self.active:
            return scores
        if self.prompt_length is None:
            self.prompt_length = input_ids.shape[1]
        texts = self.texts.step(input_ids[:, self.prompt_length:].tolist())
        return blend(scores, [self.row_advice(row // self.rows_per_plan, text) for row, text in enumerate(texts)])


class RowAdvice(NamedTuple):
    """A row's memory, as :meth:`PhraseMix.row_advice` finds it: the next character's counts (alphabet indices,
    summing to ``total``), the alphabet indices of the characters that would complete a corpus line whole,
    ``tokens_of`` the alphabet's single tokens (-1: none) and the memory's share. Kept in alphabet indices so that
    :func:`blend` maps every row's characters to tokens in one op."""

    counts: tuple[Counts, ...]
    total: float
    copies: list[int]
    tokens_of: torch.Tensor
    mix: float


def blend(scores: torch.Tensor, advice: Sequence[RowAdvice | None]) -> torch.Tensor:
    """``scores`` with each row's distribution mixed with its memory's (``advice[row]``; None: left as it is):
    ``(1 - mix) * p + mix * p_memory``, then ``COPY_PENALTY`` off the tokens that would complete a corpus line (not
    -inf: the mask decides). A row whose advised characters have no single token is left as it is too. The memory
    stays sparse: every row's (row, token, mass) entries are gathered on the CPU in a few ops and scattered into the
    mixed rows on the scores' device (the Hugging Face and vLLM processors both call it)."""
    rows, tokens, mass = _memory_entries(advice)
    copy_rows, copy_columns = _copy_entries(advice)
    if not len(rows) and not copy_rows:
        return scores
    device, scores = scores.device, scores.clone()
    if len(rows):
        mixed = torch.unique(rows)  # sorted: the rows the memory reaches
        keep = torch.tensor([advice[row].mix for row in mixed.tolist()], dtype=torch.float32).unsqueeze(1)
        index = mixed.to(device)
        blended = scores[index].float().softmax(-1) * (1 - keep).to(device)
        local = torch.searchsorted(mixed, rows)
        blended.index_put_((local.to(device), tokens.to(device)), mass.to(device), accumulate=True)
        scores[index] = blended.clamp_min(1e-30).log().to(scores.dtype)
    if copy_rows:
        index = (torch.tensor(copy_rows, device=device), torch.tensor(copy_columns, device=device))
        scores[index] = scores[index] - COPY_PENALTY
    return scores


def _memory_entries(advice: Sequence[RowAdvice | None]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every row's memory as (batch row, token, mix x probability) entries, on the CPU; a character without a single
    token keeps its share of its row's total, so its mass goes to no token. Rows of one alphabet map in one op."""
    by_alphabet: dict[int, list[tuple[int, RowAdvice]]] = {}
    for row, a in enumerate(advice):
        if a is not None and a.counts:
            by_alphabet.setdefault(id(a.tokens_of), []).append((row, a))
    found = []
    for members in by_alphabet.values():
        pieces = [(row, counts, a.mix * counts.weight / a.total) for row, a in members for counts in a.counts]
        sizes = torch.tensor([len(counts.index) for _, counts, _ in pieces])
        tokens = members[0][1].tokens_of[torch.cat([counts.index for _, counts, _ in pieces])]
        scale = torch.tensor([scale for _, _, scale in pieces], dtype=torch.float64).repeat_interleave(sizes)
        mass = (torch.cat([counts.count for _, counts, _ in pieces]) * scale).float()
        rows = torch.tensor([row for row, _, _ in pieces]).repeat_interleave(sizes)
        kept = tokens >= 0
        found.append((rows[kept], tokens[kept], mass[kept]))
    if not found:
        return _NONE, _NONE, torch.zeros(0)
    return tuple(torch.cat(column) for column in zip(*found, strict=True))


def _copy_entries(advice: Sequence[RowAdvice | None]) -> tuple[list[int], list[int]]:
    """(rows, tokens) of the characters that would complete a corpus line whole."""
    rows, columns = [], []
    for row, a in enumerate(advice):
        if a is not None and a.copies:
            tokens = [token for token in a.tokens_of[a.copies].tolist() if token >= 0]
            rows += [row] * len(tokens)
            columns += tokens
    return rows, columns


_NONE = torch.zeros(0, dtype=torch.long)
