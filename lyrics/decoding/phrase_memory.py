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
[('去', 1), ('走', 1)]
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

import torch
from transformers import LogitsProcessor

from .memory_index import TopicMemory
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
        table = (table or TokenTable.for_tokenizer(tokenizer)) if self.active else None
        self.texts = RowTexts(table) if table is not None else None
        # a character's single token, kept with the table: shared by every call and (in vLLM) every request
        self._token_of: dict[str, int | None] = table.derived.setdefault("memory_token_of", {}) if table else {}

    def token(self, char: str) -> int | None:
        if char not in self._token_of:
            ids = self.tokenizer.encode(char, add_special_tokens=False)
            self._token_of[char] = ids[0] if len(ids) == 1 and ids[0] != self.tokenizer.unk_token_id else None
        return self._token_of[char]

    def row_advice(self, plan: int, written: PullText) -> tuple[list[tuple[int, float]], list[int]]:
        """For a row of prompt ``plan`` that has written ``written``: the memory's (token, probability) pairs (empty
        where it says nothing) and the tokens that would complete a corpus line whole (the memory lends phrases, not
        lines)."""
        memory = self.memories[min(plan, len(self.memories) - 1)] if self.memories else None
        if memory is None or not self.mix or written.pending:  # none; inside a character split over byte tokens
            return [], []
        line = written.text.rsplit("\n", 1)[-1]
        if line.startswith(HINT_OPEN) or line.endswith("\ufffd"):  # a hint line; after bytes that are no character
            return [], []
        advice = memory.advise(written.text)
        found = [(token, p) for c, p in (advice.distribution or {}).items() if (token := self.token(c)) is not None]
        return found, [token for c in advice.copies if (token := self.token(c)) is not None]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not self.active:
            return scores
        if self.prompt_length is None:
            self.prompt_length = input_ids.shape[1]
        rows, columns, values, copy_rows, copy_columns = [], [], [], [], []
        for row, text in enumerate(self.texts.step(input_ids[:, self.prompt_length:].tolist())):
            found, copies = self.row_advice(row // self.rows_per_plan, text)
            for token, p in found:
                rows.append(row)
                columns.append(token)
                values.append(p)
            for token in copies:
                copy_rows.append(row)
                copy_columns.append(token)
        scores = blend(scores, rows, columns, values, [self.mix] * len(rows))
        return penalise_copies(scores, copy_rows, copy_columns)


def penalise_copies(scores: torch.Tensor, rows: list[int], columns: list[int]) -> torch.Tensor:
    """``scores`` less ``COPY_PENALTY`` at each (row, column): characters that would complete a corpus line."""
    if rows:
        index = (torch.tensor(rows, device=scores.device), torch.tensor(columns, device=scores.device))
        scores[index] = scores[index] - COPY_PENALTY
    return scores


def blend(scores: torch.Tensor, rows: list[int], columns: list[int], values: list[float],
          mixes: list[float]) -> torch.Tensor:
    """``scores`` with each listed row's distribution mixed with its memory's: ``(row, column, probability)``
    triples give the memories (sparse), ``mixes`` each triple's row's share. Rows not listed are left as they are.
    One vectorised op over the rows mixed (the Hugging Face and vLLM processors both call it)."""
    if not rows:
        return scores
    device = scores.device
    mixed = sorted(set(rows))
    share = dict(zip(rows, mixes, strict=True))
    memory = torch.zeros(scores.shape, dtype=torch.float32, device=device)
    memory.index_put_((torch.tensor(rows, device=device), torch.tensor(columns, device=device)),
                      torch.tensor(values, device=device), accumulate=True)
    index = torch.tensor(mixed, device=device)
    mix = torch.tensor([share[row] for row in mixed], dtype=torch.float32, device=device).unsqueeze(1)
    blended = (1 - mix) * scores[index].float().softmax(-1) + mix * memory[index]
    scores = scores.clone()
    scores[index] = blended.clamp_min(1e-30).log().to(scores.dtype)
    return scores
