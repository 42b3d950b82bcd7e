"""The keyword pull's incremental text (``lyrics.decoding.keyword_pull.PullText``) against decoding the whole row
every step, as the pull did before: the same pulls after every token of random rows on the real Qwen3 tokenizer
(byte-level BPE: characters split over tokens, tokens of several characters, special tokens) and on a character
tokenizer; and the Hugging Face processor's scores the same when beams move rows between steps."""

from __future__ import annotations

import random

import pytest
import torch

from lyrics.decoding.keyword_pull import KeywordPull
from lyrics.decoding.row_text import PullText
from lyrics.decoding.tokentable import TokenTable

KEYWORDS = ["明月", "春风", "嘅啲", "故乡", "月"]  # 嘅: two byte-level tokens in Qwen3; 月 a one-character word
PULL = 3.0


def _old_pulls(pull: KeywordPull, plan: int, ids: list[int]) -> list[tuple[int, float]]:
    """The pull as it was: the row's whole text decoded at every step."""
    words = pull.plans[min(plan, len(pull.plans) - 1)]
    text = pull.tokenizer.decode(ids, skip_special_tokens=True)
    out = []
    for word, starts, second in words:
        if word in text:
            continue
        if second is not None and text.endswith(word[0]):
            out.append((second, 2 * pull.pull))
        if word[0] not in text:
            out += [(token, pull.pull) for token in starts]
    return out


def _pool(tokenizer) -> list[int]:
    """Token ids that make rows interesting: the keywords' characters and words, the single bytes of their UTF-8
    (a character split over tokens, and bytes that never finish one), newline, special tokens, and the vocabulary at
    large."""
    pool = [i for text in [*KEYWORDS, *"".join(KEYWORDS), "\n", "，", "我们"]
            for i in tokenizer.encode(text, add_special_tokens=False)]
    pool += list(tokenizer.all_special_ids)
    table = TokenTable.for_tokenizer(tokenizer)
    pool += [i for i, data in enumerate(table.data) if len(data) == 1 and data[0] >= 0x80]  # lone UTF-8 bytes
    return pool


def _random_rows(tokenizer, rows: int, length: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    pool, size = _pool(tokenizer), len(tokenizer)
    return [[rng.choice(pool) if rng.random() < 0.7 else rng.randrange(size) for _ in range(length)]
            for _ in range(rows)]


@pytest.mark.parametrize("which", ["char", "qwen"])
def test_the_incremental_text_pulls_as_decoding_the_whole_row(which, char_tokenizer, qwen_tokenizer):
    tokenizer = char_tokenizer if which == "char" else qwen_tokenizer
    pull = KeywordPull([KEYWORDS], tokenizer, PULL)
    pulled = 0
    for ids in _random_rows(tokenizer, rows=60, length=40, seed=7):
        written = PullText()
        for k, token in enumerate(ids):
            written = pull.texts.add(written, [token])
            whole = tokenizer.decode(ids[:k + 1], skip_special_tokens=True)
            # the text is the whole decode, less the U+FFFD of a character not finished yet
            assert whole.startswith(written.text), (ids[:k + 1], whole, written)
            assert (whole[len(written.text):].strip("\ufffd") == "") and (whole != written.text) == bool(
                written.pending), (ids[:k + 1], whole, written)
            expected = _old_pulls(pull, 0, ids[:k + 1])
            assert pull.pulls(0, written) == expected, (ids[:k + 1], whole)
            pulled += bool(expected)
    assert pulled > 100  # rows that the pull acted on, not only rows where every keyword was already written


@pytest.mark.parametrize("which", ["char", "qwen"])
def test_the_processor_follows_rows_that_move_between_steps(which, char_tokenizer, qwen_tokenizer):
    """Beam search reorders rows (and copies one into two): each row's text is found from its parent's ids, and
    the scores are those of decoding each row whole."""
    tokenizer = char_tokenizer if which == "char" else qwen_tokenizer
    plans = [KEYWORDS, ["故乡", "明月"]]
    pull = KeywordPull(plans, tokenizer, PULL, rows_per_plan=2, prompt_length=3)
    rng = random.Random(3)
    prompt = [[5, 6, 7]] * 4
    rows = [[] for _ in range(4)]
    pool = _pool(tokenizer)
    for _ in range(30):
        scores = pull(torch.tensor([p + r for p, r in zip(prompt, rows, strict=True)]), torch.zeros(4, len(tokenizer)))
        expected = torch.zeros(4, len(tokenizer))
        for i, row in enumerate(rows):
            for token, amount in _old_pulls(pull, i // 2, row):
                expected[i, token] += amount
        assert torch.equal(scores, expected)
        parents = [rng.randrange(4) for _ in range(4)]  # as beams: any row may continue any previous one
        rows = [rows[p] + [rng.choice(pool)] for p in parents]
