"""A character-level tokenizer (one token per character), as a ``PreTrainedTokenizerFast`` with ChatML
markers and chat template, so it loads, saves and templates like Qwen's."""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>")
# Always in the vocabulary: what hint lines (prompt.hint) and prompts are written with besides the corpus's
# characters, the tone words 平 and 仄 included.
BASE_SYMBOLS = (tuple("0123456789|-*〔〕：，。、？！；=（）《》・ 平仄") + tuple("abcdefghijklmnopqrstuvwxyz")
                + tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_char_tokenizer(chars: Iterable[str]) -> PreTrainedTokenizerFast:
    """A tokenizer whose vocabulary is the special tokens, ``\\n``, the base symbols, then ``chars`` in order."""
    vocab: dict[str, int] = {}
    for token in (*SPECIAL_TOKENS, "\n", *BASE_SYMBOLS, *chars):
        vocab.setdefault(token, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer
