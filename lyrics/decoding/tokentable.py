"""The token table: what each token of a Hugging Face tokenizer writes, in the terms constraint code needs.

Qwen's tokenizer is byte-level BPE: a token can hold several CJK characters (我们 is one token), and a
rare character is split over two or three tokens of raw UTF-8 bytes (嘅 = two tokens). So per token the
table keeps its bytes and parses them as

    [continuation bytes that finish a character begun earlier] [complete characters] [a partial prefix]

and classifies it: ``TEXT`` (nothing but CJK characters and character pieces), ``NEWLINE`` (exactly
``\\n``), ``SPECIAL`` (EOS, chat markers) or ``OTHER`` (punctuation, Latin, spaces, mixtures). Arrays are
torch tensors so masks are computed for the whole vocabulary at once. Built tables are cached on disk
under ``TIANCI_HOME/token_tables``, keyed by a hash of the tokenizer's content.

>>> from transformers import AutoTokenizer  # doctest: +SKIP
>>> table = TokenTable.for_tokenizer(AutoTokenizer.from_pretrained(path))  # doctest: +SKIP
>>> table.describe(tokenizer.encode("我们")[0])  # doctest: +SKIP
'TEXT lead=0 chars=我们 tail=-'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache, cached_property
from itertools import pairwise
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from lyrics.data.assets import tianci_home
from lyrics.files import replacing_file
from phonetics import is_cjk

OTHER, TEXT, NEWLINE, SPECIAL = 0, 1, 2, 3
KIND_NAMES = ("OTHER", "TEXT", "NEWLINE", "SPECIAL")
FORMAT_VERSION = 1


@cache
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, reversed: the printable stand-in character → the byte it encodes."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(code): byte for byte, code in zip(printable, codes, strict=True)}


def utf8_length(first: int) -> int:
    """Length of the UTF-8 sequence that starts with byte ``first``; 0 when it cannot start one."""
    if first < 0x80:
        return 1
    if 0xC2 <= first <= 0xDF:
        return 2
    if 0xE0 <= first <= 0xEF:
        return 3
    if 0xF0 <= first <= 0xF4:
        return 4
    return 0


def is_continuation(byte: int) -> bool:
    return 0x80 <= byte <= 0xBF


@dataclass(frozen=True)
class ParsedToken:
    kind: int
    lead: bytes  # continuation bytes that finish a character begun by earlier tokens
    chars: str  # complete characters
    tail: bytes  # a partial character, finished by later tokens


def parse_token(data: bytes) -> ParsedToken:
    """Split a token's bytes into lead / complete characters / tail, and classify it."""
    if data == b"\n":
        return ParsedToken(NEWLINE, b"", "\n", b"")
    i = 0
    while i < len(data) and i < 3 and is_continuation(data[i]):
        i += 1
    lead, chars = data[:i], []
    while i < len(data):
        size = utf8_length(data[i])
        if size == 0:
            return ParsedToken(OTHER, lead, "", b"")
        piece = data[i:i + size]
        if len(piece) < size:  # the token ends inside a character
            if not all(map(is_continuation, piece[1:])):
                return ParsedToken(OTHER, lead, "".join(chars), b"")
            return ParsedToken(TEXT if all(map(is_cjk, chars)) else OTHER, lead, "".join(chars), piece)
        try:
            chars.append(piece.decode("utf-8"))
        except UnicodeDecodeError:
            return ParsedToken(OTHER, lead, "".join(chars), b"")
        i += size
    text = "".join(chars)
    if not data or not all(map(is_cjk, text)):
        return ParsedToken(OTHER, lead, text, b"")
    return ParsedToken(TEXT, lead, text, b"")


def _tokenizer_json(tokenizer) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise TypeError(f"{type(tokenizer).__name__} is not a fast (Rust-backed) tokenizer; load it with use_fast=True")
    return backend.to_str()


def token_bytes(tokenizer) -> list[bytes]:
    """Per token id, the bytes it writes. Handles byte-level BPE (GPT-2/Qwen), SentencePiece-style
    byte fallback (``<0xE4>``, ``▁``) and plain character/word vocabularies."""
    spec = json.loads(_tokenizer_json(tokenizer))
    decoders = json.dumps(spec.get("decoder") or {})
    byte_level = '"ByteLevel"' in decoders
    byte_fallback = '"ByteFallback"' in decoders
    metaspace = '"Metaspace"' in decoders or "\u2581" in decoders
    size = len(tokenizer)
    out = [b""] * size
    added = {t.content for t in tokenizer.added_tokens_decoder.values()}
    decoder = _byte_decoder()
    for token, index in tokenizer.get_vocab().items():
        if index >= size:
            continue
        if token in added:
            out[index] = token.encode("utf-8")
        elif byte_level:
            out[index] = bytes(decoder[c] for c in token) if all(c in decoder for c in token) else token.encode()
        elif byte_fallback and len(token) == 6 and token.startswith("<0x") and token.endswith(">"):
            out[index] = bytes([int(token[3:5], 16)])
        else:
            out[index] = (token.replace("\u2581", " ") if metaspace else token).encode("utf-8")
    return out


@dataclass
class TokenTable:
    kinds: torch.Tensor  # int8 [V]: OTHER, TEXT, NEWLINE, SPECIAL
    lead: torch.Tensor  # int8 [V]: leading continuation bytes
    n_chars: torch.Tensor  # int16 [V]: complete characters
    chars: torch.Tensor  # int32 [V, K]: their ids in char_list; len(char_list) pads
    tail: torch.Tensor  # int32 [V]: id of the trailing partial character in prefixes; -1 for none
    char_list: list[str]
    prefixes: list[bytes]
    data: list[bytes]  # per token, its bytes
    special_ids: list[int]
    content_hash: str
    # Data derived from the table by its users (rule tables, tone rows, additive bias rows), keyed by what it
    # depends on besides the table: kept with the table, so whoever holds it (a Decoder) holds them, and nothing
    # is cached process-wide.
    derived: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def vocab_size(self) -> int:
        return len(self.data)

    @cached_property
    def writes_any_utf8(self) -> bool:
        """Whether every UTF-8 byte has a token of its own, so any character can be written byte by byte."""
        single = {d[0] for d in self.data if len(d) == 1}
        return single >= {*range(0x80, 0xC0), *range(0xC2, 0xF5)}

    @cached_property
    def char_ids(self) -> dict[str, int]:
        """Each character of ``char_list`` → its id."""
        return {c: i for i, c in enumerate(self.char_list)}

    @cached_property
    def prefix_ids(self) -> dict[bytes, int]:
        """Each partial character of ``prefixes`` → its id."""
        return {p: i for i, p in enumerate(self.prefixes)}

    @cached_property
    def _char_index(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The tokens holding each character, grouped by character id: (token ids, the character's position in the
        token, the offsets of each character's run), so a character's tokens are one slice."""
        pad = len(self.char_list)
        where = ((self.chars != pad) & (self.kinds == TEXT).unsqueeze(1)).nonzero()
        ids = self.chars[where[:, 0], where[:, 1]].long()
        order = torch.argsort(ids, stable=True)
        offsets = torch.zeros(pad + 1, dtype=torch.long)
        offsets[1:] = torch.bincount(ids, minlength=pad).cumsum(0)
        return where[order, 0], where[order, 1], offsets

    def tokens_with_char(self, char: str, position: int) -> torch.Tensor:
        """long [N]: the text tokens whose complete character number ``position`` (from 0) is ``char``."""
        index = self.char_ids.get(char)
        if index is None:
            return torch.zeros(0, dtype=torch.long)
        tokens, positions, offsets = self._char_index
        start, end = int(offsets[index]), int(offsets[index + 1])
        return tokens[start:end][positions[start:end] == position]

    def tokens_with_tail(self, prefix: bytes, n_chars: int) -> torch.Tensor:
        """long [N]: the text tokens that end in the partial character ``prefix`` after ``n_chars`` complete
        ones."""
        index = self.prefix_ids.get(prefix)
        if index is None:
            return torch.zeros(0, dtype=torch.long)
        return ((self.tail == index) & (self.n_chars == n_chars) & (self.kinds == TEXT)).nonzero().flatten()

    @property
    def newline_ids(self) -> list[int]:
        return (self.kinds == NEWLINE).nonzero().flatten().tolist()

    def describe(self, token: int) -> str:
        parsed = parse_token(self.data[token])
        return (f"{KIND_NAMES[int(self.kinds[token])]} lead={len(parsed.lead)} chars={parsed.chars or '-'} "
                f"tail={parsed.tail.hex() or '-'}")

    @classmethod
    def build(cls, tokenizer) -> TokenTable:
        data = token_bytes(tokenizer)
        special = sorted(set(tokenizer.all_special_ids) | {
            i for i, t in tokenizer.added_tokens_decoder.items() if t.special and i < len(data)})
        parsed = [parse_token(b) for b in data]
        char_index: dict[str, int] = {}
        prefix_index: dict[bytes, int] = {}
        for p in parsed:
            if p.kind == TEXT:
                for c in p.chars:
                    char_index.setdefault(c, len(char_index))
                if p.tail:
                    prefix_index.setdefault(p.tail, len(prefix_index))
        width = max((len(p.chars) for p in parsed if p.kind == TEXT), default=1)
        size = len(data)
        kinds = torch.tensor([p.kind for p in parsed], dtype=torch.int8)
        kinds[special] = SPECIAL
        pad = len(char_index)
        chars = torch.full((size, width), pad, dtype=torch.int32)
        for i, p in enumerate(parsed):
            if p.kind == TEXT and p.chars:
                chars[i, : len(p.chars)] = torch.tensor([char_index[c] for c in p.chars], dtype=torch.int32)
        text = [p.kind == TEXT for p in parsed]
        return cls(
            kinds=kinds,
            lead=torch.tensor([len(p.lead) if t else 0 for p, t in zip(parsed, text, strict=True)], dtype=torch.int8),
            n_chars=torch.tensor([len(p.chars) if t else 0 for p, t in zip(parsed, text, strict=True)],
                                 dtype=torch.int16),
            chars=chars,
            tail=torch.tensor([prefix_index[p.tail] if t and p.tail else -1 for p, t in zip(parsed, text, strict=True)],
                              dtype=torch.int32),
            char_list=list(char_index),
            prefixes=list(prefix_index),
            data=data,
            special_ids=special,
            content_hash=content_hash(tokenizer),
        )

    def save(self, path: Path) -> None:
        """One safetensors file (arrays, and the lists as JSON metadata), written atomically."""
        offsets = torch.tensor([0, *torch.tensor([len(b) for b in self.data]).cumsum(0).tolist()], dtype=torch.int64)
        blob = torch.frombuffer(bytearray(b"".join(self.data)), dtype=torch.uint8) if any(self.data) else \
            torch.zeros(0, dtype=torch.uint8)
        tensors = {"kinds": self.kinds, "lead": self.lead, "n_chars": self.n_chars, "chars": self.chars,
                   "tail": self.tail, "bytes": blob.clone(), "offsets": offsets}
        metadata = {"format": str(FORMAT_VERSION), "hash": self.content_hash,
                    "char_list": json.dumps(self.char_list, ensure_ascii=False),
                    "prefixes": json.dumps([p.hex() for p in self.prefixes]),
                    "special_ids": json.dumps(self.special_ids)}
        with replacing_file(path) as tmp:
            save_file(tensors, str(tmp), metadata=metadata)

    @classmethod
    def load(cls, path: Path) -> TokenTable:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata()
        if metadata.get("format") != str(FORMAT_VERSION):
            raise ValueError(f"{path}: token table format {metadata.get('format')}, expected {FORMAT_VERSION}")
        t = load_file(str(path))
        blob, offsets = t["bytes"].numpy().tobytes(), t["offsets"].tolist()
        return cls(
            kinds=t["kinds"], lead=t["lead"], n_chars=t["n_chars"], chars=t["chars"], tail=t["tail"],
            char_list=json.loads(metadata["char_list"]),
            prefixes=[bytes.fromhex(p) for p in json.loads(metadata["prefixes"])],
            data=[blob[a:b] for a, b in pairwise(offsets)],
            special_ids=json.loads(metadata["special_ids"]),
            content_hash=metadata["hash"],
        )

    @classmethod
    def for_tokenizer(cls, tokenizer, cache_dir: Path | None = None) -> TokenTable:
        """The table of ``tokenizer``, from the disk cache when its content was seen before."""
        digest = content_hash(tokenizer)
        path = (cache_dir or tianci_home() / "token_tables") / f"{digest}.safetensors"
        if path.is_file():
            try:
                return cls.load(path)
            except (ValueError, OSError, KeyError):
                pass  # stale or damaged: rebuild below
        table = cls.build(tokenizer)
        table.save(path)
        return table


def content_hash(tokenizer) -> str:
    """A hash of everything that decides token ids and bytes: the tokenizer's full JSON and its size."""
    digest = hashlib.sha256(_tokenizer_json(tokenizer).encode("utf-8"))
    digest.update(f"|{len(tokenizer)}|{FORMAT_VERSION}".encode())
    return digest.hexdigest()[:32]
