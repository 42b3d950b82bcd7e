"""A soft pull towards the keyword plan, as a Hugging Face logits processor.

A small generator reads its brief's keyword plan and still drifts off it; this processor adds ``pull`` to
the logit of a keyword's first character (or of a token holding the whole keyword) until that character is
in the row's text, and twice that to its second character right after its first, so a plan's words get
written whole; a keyword already written pulls no more. It only adds: the constraint's mask, applied after
it, still decides what may be written, so structure, rhyme and tone stay exact. ``pull`` 0 turns it off.

A row's text is kept incrementally (:class:`PullText`), each step reading only its new tokens' bytes from the
token table: what ``tokenizer.decode(ids, skip_special_tokens=True)`` gives for the whole row, without decoding it
again every step (on byte-level BPE a character may be split over tokens; its first bytes wait until it is whole).

>>> from lyrics.training.chartok import build_char_tokenizer
>>> tokenizer = build_char_tokenizer("城市夜晚月光")
>>> pull = KeywordPull([["城市"]], tokenizer, pull=2.0, prompt_length=0)
>>> scores = pull(torch.tensor([[tokenizer.convert_tokens_to_ids("月")]]), torch.zeros(1, len(tokenizer)))
>>> float(scores[0, tokenizer.convert_tokens_to_ids("城")]), float(scores[0, tokenizer.convert_tokens_to_ids("市")])
(2.0, 0.0)
>>> scores = pull(torch.tensor([[tokenizer.convert_tokens_to_ids("城")]]), torch.zeros(1, len(tokenizer)))
>>> float(scores[0, tokenizer.convert_tokens_to_ids("市")])
4.0
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from lyrics.data.keywords import KEYWORD_PULL
from lyrics.decoding.row_text import PullText, RowTexts
from lyrics.decoding.tokentable import TokenTable


def _single_token(tokenizer, text: str) -> int | None:
    ids = tokenizer.encode(text, add_special_tokens=False)
    unk = tokenizer.unk_token_id
    return ids[0] if len(ids) == 1 and ids[0] != unk else None


class KeywordPull(LogitsProcessor):
    """Adds ``pull`` towards each unwritten keyword of a row's plan; one instance per ``generate`` call.
    ``plans``: one keyword list per prompt, each prompt's rows consecutive (``rows_per_plan`` of them, as
    ``num_return_sequences`` lays them out). ``prompt_length``: tokens before generation starts (None: the
    length of the first call's input). ``table``: the tokenizer's token table (None: loaded for it)."""

    def __init__(self, plans: list[list[str]], tokenizer, pull: float = KEYWORD_PULL,
                 rows_per_plan: int = 1, prompt_length: int | None = None, table: TokenTable | None = None):
        self.tokenizer, self.pull, self.rows_per_plan = tokenizer, float(pull), rows_per_plan
        self.prompt_length = prompt_length
        # per plan, per keyword: (the keyword, tokens that begin it: its first character or all of it,
        # the token of its second character)
        self.plans = [[(word, [t for t in (_single_token(tokenizer, word[0]), _single_token(tokenizer, word))
                                if t is not None], _single_token(tokenizer, word[1]) if len(word) > 1 else None)
                       for word in plan] for plan in plans]
        self.active = bool(self.pull and any(self.plans))
        self.texts = RowTexts(table or TokenTable.for_tokenizer(tokenizer)) if self.active else None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not self.active:
            return scores
        if self.prompt_length is None:
            self.prompt_length = input_ids.shape[1]
        for row, text in enumerate(self.texts.step(input_ids[:, self.prompt_length:].tolist())):
            for token, amount in self.pulls(row // self.rows_per_plan, text):
                scores[row, token] += amount
        return scores

    def pulls(self, plan: int, written: PullText) -> list[tuple[int, float]]:
        """(token, amount) to add, in order, to the scores of a row of plan ``plan`` that has written ``written``."""
        words = self.plans[min(plan, len(self.plans) - 1)]
        if not self.pull or not words:
            return []
        text = written.text
        ends = "" if written.pending else text[-1:]  # an unfinished character ends the text: no keyword's
        out = []
        for word, starts, second in words:
            if word in text:
                continue  # written: no more pull
            if second is not None and ends == word[0]:
                out.append((second, 2 * self.pull))
            if word[0] not in text:  # once its first character is down, pulling it again only repeats it
                out += [(token, self.pull) for token in starts]
        return out
