"""Mandarin polyphones read in context by g2pM's BiLSTM (Park & Lee 2020), in numpy, from safetensors.

The model reads a clause (its 5,398 known characters; others are unknown) and, at each polyphone, scores the
polyphone's readings; :meth:`Disambiguator.read` keeps only the readings a caller allows (``phonetics.mandarin``
passes each character's reading set, so a constraint that admits a character for all its readings stays
right). Many clauses are read in one batch: the LSTM steps over the padded batch at once. The weights are
g2pM 0.1.2.5's, converted once by ``tools/convert_g2pm.py`` into safetensors and JSON
(``phonetics/data/g2pm/README.md``): no pickle is read at run time.

Trained on Wikipedia sentences, it reads them well (0.971 of the polyphones of a held-out fifth of the CPP
split right, against pypinyin's 0.874) and everyday words badly, confidently: ``phonetics.mandarin`` keeps a
dictionary word's reading and asks the model only about polyphones outside words.

>>> model = Disambiguator.load()
>>> model.read(["递交了结案报告", "她在银行上班"], [[2], [3]])
[['le5'], ['xing2']]
>>> reading, probability = model.choose(["她在银行上班"], [[3]])[0][0]
>>> reading, round(probability, 2)
('xing2', 0.97)
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from functools import cache, cached_property
from importlib import resources

import numpy as np
from safetensors.numpy import load_file

BOS, EOS, UNKNOWN = "시", "끝", "<UNK>"  # g2pM's clause markers and unknown character
SANDHI = "一不"  # read by pypinyin and their citation tone, not by the model
CHOICES = "choices.json"


def _folder():
    return resources.files("phonetics").joinpath("data", "g2pm")


@cache
def load_choices() -> dict[str, frozenset[str]]:
    """The characters read in context, each with the readings the model may choose among: g2pM's readings
    that are also in Tianci's reading set (``data/g2pm/choices.json``, written by :func:`build_choices`)."""
    data = json.loads(_folder().joinpath(CHOICES).read_text("utf-8"))
    return {char: frozenset(options) for char, options in data.items()}


def build_choices(reading_sets: dict[str, frozenset[str]]) -> dict[str, list[str]]:
    """The table :func:`load_choices` reads, from the model's polyphones and Tianci's reading sets (a test
    checks the shipped file against it)."""
    model = Disambiguator.load()
    table = {}
    for char in sorted(model.polyphones):
        options = model.options(char, reading_sets.get(char, ()))
        if char not in SANDHI and len(options) > 1:
            table[char] = options
    return table


_GATE_ORDER = (0, 1, 3, 2)  # PyTorch's gate blocks i, f, g, o, taken as i, f, o (sigmoid) and g (tanh)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # no overflow warning for large |x|


class Disambiguator:
    """g2pM's one-layer BiLSTM (64-dimensional embeddings, 32 units a direction) and its two-layer output."""

    def __init__(self, weights: dict[str, np.ndarray], chars: Sequence[str], classes: Sequence[str],
                 polyphones: dict[str, list[str]]):
        self.w = weights
        self.index = {c: i for i, c in enumerate(chars)}
        self.classes = [c.replace("u:", "v") for c in classes]  # Tianci writes ü as v, as pypinyin does
        self.class_index = {c: i for i, c in enumerate(self.classes)}
        self.polyphones = {c: [p.replace("u:", "v") for p in prons] for c, prons in polyphones.items()}

    @classmethod
    @cache
    def load(cls) -> Disambiguator:
        folder = _folder()
        vocab = json.loads(folder.joinpath("vocab.json").read_text("utf-8"))
        return cls(load_file(str(folder.joinpath("weights.safetensors"))), vocab["chars"], vocab["classes"],
                   vocab["polyphones"])

    def options(self, char: str, allowed: Collection[str] | None = None) -> list[str]:
        """The readings of ``char`` the model scores (among ``allowed``)."""
        return [o for o in self.polyphones.get(char, ()) if o in self.class_index
                and (allowed is None or o in allowed)]

    @cached_property
    def _recurrent(self) -> tuple[np.ndarray, int]:
        """Both directions' recurrent weights as one block matrix, (64, 256), its columns regrouped by gate:
        input, forget and output gates of both directions (one sigmoid), then the cell inputs (one tanh)."""
        forward, backward = self.w["lstm.weight_hh_l0"], self.w["lstm.weight_hh_l0_reverse"]
        size = forward.shape[1]
        block = np.zeros((2 * size, 8 * size), np.float32)
        for slot, gate in enumerate(_GATE_ORDER):
            rows = slice(gate * size, (gate + 1) * size)  # PyTorch stacks the gates i, f, g, o
            block[:size, (2 * slot) * size:(2 * slot + 1) * size] = forward[rows].T
            block[size:, (2 * slot + 1) * size:(2 * slot + 2) * size] = backward[rows].T
        return block, size

    @cached_property
    def _inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """Each known character's input to the gates, (characters, 256) per direction in the block's column order
        (the other direction's columns zero): the input product done once for the vocabulary, not per character
        read (half the arithmetic of a pass)."""
        _, size = self._recurrent
        tables = []
        for direction, suffix in enumerate(("", "_reverse")):
            w = self.w
            x = self.w["embedding.weight"] @ w[f"lstm.weight_ih_l0{suffix}"].T
            x += w[f"lstm.bias_ih_l0{suffix}"] + w[f"lstm.bias_hh_l0{suffix}"]
            table = np.zeros((len(x), 8 * size), np.float32)
            for slot, gate in enumerate(_GATE_ORDER):
                table[:, (2 * slot + direction) * size:(2 * slot + direction + 1) * size] = \
                    x[:, gate * size:(gate + 1) * size]
            tables.append(table)
        return tables[0], tables[1]

    def _bilstm(self, ids: np.ndarray, ids_reversed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, steps, 32) hidden states of each direction over the character ids, the backward one over
        ``ids_reversed``; both directions advance in one matrix product a step."""
        block, size = self._recurrent
        forward, backward = self._inputs
        gates = forward[ids]
        gates += backward[ids_reversed]
        rows, steps = ids.shape
        h = np.zeros((rows, 2 * size), np.float32)
        c = np.zeros((rows, 2 * size), np.float32)
        out = np.empty((rows, steps, 2 * size), np.float32)
        for t in range(steps):
            g = gates[:, t] + h @ block
            sig = _sigmoid(g[:, :6 * size])
            c = sig[:, 2 * size:4 * size] * c + sig[:, :2 * size] * np.tanh(g[:, 6 * size:])
            h = sig[:, 4 * size:] * np.tanh(c)
            out[:, t] = h
        return out[..., :size], out[..., size:]

    def read(self, texts: Sequence[str], positions: Sequence[Sequence[int]],
             allowed: Sequence[Sequence[Collection[str] | None]] | None = None) -> list[list[str]]:
        """Per text, the reading of ``text[p]`` for each of its ``positions`` (polyphones, simplified script),
        among its readings that ``allowed`` (per text, per position; None: all the model knows) admits."""
        return [[reading for reading, _ in row] for row in self.choose(texts, positions, allowed)]

    def choose(self, texts: Sequence[str], positions: Sequence[Sequence[int]],
               allowed: Sequence[Sequence[Collection[str] | None]] | None = None) -> list[list[tuple[str, float]]]:
        """As :meth:`read`, each reading with the model's probability for it among the options."""
        if not texts:
            return []
        lengths = np.array([len(t) + 2 for t in texts])
        steps = int(lengths.max())
        ids = np.full((len(texts), steps), self.index[EOS], dtype=np.int64)
        for row, text in enumerate(texts):
            ids[row, :lengths[row]] = [self.index[BOS], *(self.index.get(c, self.index[UNKNOWN]) for c in text),
                                       self.index[EOS]]
        # the backward direction reads each row reversed within its own length (padding stays at the end)
        t = np.arange(steps)[None, :]
        flip = np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
        rows = np.arange(len(texts))[:, None]
        forward, backward = self._bilstm(ids, ids[rows, flip])
        backward = backward[rows, flip]
        hidden = np.concatenate([forward, backward], axis=2)
        where = [(r, p) for r, row in enumerate(positions) for p in row]
        if not where:
            return [[] for _ in texts]
        picked = hidden[[r for r, _ in where], [p + 1 for _, p in where]]
        layer = np.maximum(picked @ self.w["logit_layer.0.weight"].T + self.w["logit_layer.0.bias"], 0)
        logits = layer @ self.w["logit_layer.2.weight"].T + self.w["logit_layer.2.bias"]
        # each position's options, padded to the widest with -inf (exp 0: the sums and the argmax are unchanged)
        asked: list[list[str]] = []
        for r, row in enumerate(positions):
            for n, p in enumerate(row):
                limit = allowed[r][n] if allowed is not None else None
                options = self.options(texts[r][p], limit)
                if not options:
                    raise ValueError(f"{texts[r][p]!r} at {p} has no reading to choose among")
                asked.append(options)
        width = max(map(len, asked))
        columns = np.zeros((len(asked), width), np.int64)
        for k, options in enumerate(asked):
            columns[k, :len(options)] = [self.class_index[o] for o in options]
        scores = logits[np.arange(len(asked))[:, None], columns]
        scores[np.arange(width)[None, :] >= np.array([len(o) for o in asked])[:, None]] = -np.inf
        probability = np.exp(scores - scores.max(axis=1, keepdims=True))
        best = np.argmax(scores, axis=1)
        chosen = probability[np.arange(len(asked)), best] / probability.sum(axis=1)
        out: list[list[tuple[str, float]]] = [[] for _ in texts]
        for (r, _), options, b, p in zip(where, asked, best.tolist(), chosen.tolist(), strict=True):
            out[r].append((options[b], p))
        return out
