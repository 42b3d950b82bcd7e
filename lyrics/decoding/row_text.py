"""Each row's decoded text during decoding, kept incrementally: a processor that reads what a row has written (the
keyword pull, the phrase memory) adds each step's new token's bytes instead of decoding the whole row again, and
agrees with ``tokenizer.decode(ids, skip_special_tokens=True)`` on every row (a character split over byte tokens
appears once its last byte is written; special tokens write nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lyrics.decoding.tokentable import TokenTable, utf8_length


def _written_bytes(table: TokenTable) -> list[bytes]:
    """Per token id, the bytes it adds to a decoded text: its own, none for a special token (skipped, as
    ``decode(skip_special_tokens=True)`` skips it). Kept with the table: a request's text costs no list of its own."""
    key = ("row text bytes",)
    if key not in table.derived:
        written = list(table.data)
        for token in table.special_ids:
            written[token] = b""
        table.derived[key] = written
    return table.derived[key]


def _unfinished(data: bytes) -> int:
    """How many bytes at the end of ``data`` begin a character that later bytes may finish (0 for none): a lead
    byte followed by fewer continuation bytes than it needs. Everything before them decodes now as it will in the
    whole text, since a lead byte always starts a new character (or a new invalid sequence)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return 0
        if byte >= 0xC0:  # a lead byte (utf8_length is 0 for the never-valid ones: 0xC0, 0xC1, 0xF5-0xFF)
            return back if back < utf8_length(byte) else 0
    return 0


@dataclass(frozen=True)
class PullText:
    """A row's decoded text so far, as the whole row would decode, and the first bytes of a character its tokens
    have not finished yet (which the whole row's decode shows as U+FFFD, never a keyword's character)."""

    text: str = ""
    pending: bytes = b""

    def add(self, data: bytes) -> PullText:
        """This text with one token's bytes added."""
        if not data:
            return self
        data = self.pending + data
        cut = len(data) - _unfinished(data)
        return PullText(self.text + data[:cut].decode("utf-8", errors="replace"), data[cut:])


class RowTexts:
    """The texts of a ``generate`` call's rows, step by step. A row's text is its parent's (the row one token
    shorter, the previous step's) plus its last token, whichever row the parent was in (beams move); only the
    last step's texts are kept."""

    def __init__(self, table: TokenTable):
        self.written = _written_bytes(table)
        self._texts: dict[tuple[int, ...], PullText] = {(): PullText()}

    def step(self, rows: list[list[int]]) -> list[PullText]:
        """The text of each row, given the ids each has generated so far."""
        texts: dict[tuple[int, ...], PullText] = {}
        out = []
        for ids in rows:
            key = tuple(ids)
            text = texts.get(key) or self._texts.get(key)
            if text is None:
                parent = self._texts.get(key[:-1])
                text = self.add(parent, key[-1:]) if parent is not None else self.add(PullText(), ids)
            texts[key] = text
            out.append(text)
        self._texts = texts
        return out

    def add(self, text: PullText, ids: Sequence[int]) -> PullText:
        """``text`` with the tokens ``ids`` written after it (ids past the tokenizer, as a padded vocabulary has,
        write nothing, as in ``decode``)."""
        written, size = self.written, len(self.written)
        for token in ids:
            if 0 <= token < size:
                text = text.add(written[token])
        return text
