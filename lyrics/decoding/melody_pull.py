"""A soft pull of Mandarin syllables towards the tones their notes suit, as a Hugging Face logits processor.

Sung Mandarin lets the melody bend lexical tone, so a melody is no hard constraint in Mandarin (as 0243 levels
are in Cantonese); but listeners hear a word more easily when its tone goes with the tune. For each syllable
the decoder chooses, this processor adds ``pull`` x :func:`lyrics.decoding.melody.cue_score` to every
token whose first character has one tone (a rise into the note suits tone 2, a fall tone 4, a high note tone 1,
a low one tone 3; a clash counts against). It only adds: the constraint's mask, applied after it, still
decides what may be written. ``pull`` 0 turns it off.

>>> from lyrics.decoding.constraints import LyricsConstraint
>>> from lyrics.decoding.melody import Melody
>>> from lyrics.decoding.spec import LyricSpec
>>> from lyrics.decoding.tokentable import TokenTable
>>> from lyrics.training.chartok import build_char_tokenizer
>>> tokenizer = build_char_tokenizer("天明好去")  # on their own: 天 tone 1, 明 2, 好 3, 去 4
>>> spec = LyricSpec.from_dict({"lang": "cmn", "topic": "天", "structure": "2"})
>>> constraint = LyricsConstraint(spec, TokenTable.for_tokenizer(tokenizer), [tokenizer.eos_token_id])
>>> pull = MelodyPull(constraint, Melody(((0, 7),)), pull=2.0)
>>> ids = {c: tokenizer.convert_tokens_to_ids(c) for c in "天明好去"}
>>> scores = pull(torch.tensor([[ids["天"]]]), torch.zeros(1, len(tokenizer)))  # the prompt
>>> [float(scores[0, ids[c]]) for c in "天明好去"]  # the low first note: tone 3 suits it, tone 1 clashes
[-2.0, 0.0, 2.0, 0.0]
>>> scores = pull(torch.tensor([[ids["天"], ids["好"]]]), torch.zeros(1, len(tokenizer)))
>>> [float(scores[0, ids[c]]) for c in "天明好去"]  # a rise to a high note: tones 1 and 2, not 3 and 4
[2.0, 2.0, -2.0, -2.0]
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from lyrics.decoding.constraints import LyricsConstraint, RowTracker
from lyrics.decoding.melody import Melody, MelodyError, cue_score, note_cues
from lyrics.decoding.tokentable import TEXT
from phonetics import language


def token_tones(constraint: LyricsConstraint) -> torch.Tensor:
    """long [V]: the tone (1-5) of the first character of each token that starts at a character boundary, as
    the character is read on its own; 0 for other tokens and characters without a reading. Kept with the
    token table."""
    table, lang = constraint.table, constraint.spec.lang
    key = ("tones", lang)
    if key not in table.derived:
        spoken = language(lang)
        alone = spoken.readings("\n".join(table.char_list))[::2]  # each character read on its own line
        per_char = [spoken.split(r)[2] if r else 0 for r in alone]
        char_tone = torch.tensor([*per_char, 0], dtype=torch.long)  # the last entry: padding
        starts = (table.kinds == TEXT) & (table.lead == 0) & (table.n_chars >= 1)
        first = table.chars[:, 0].long().clamp(min=0, max=len(per_char))
        table.derived[key] = torch.where(starts, char_tone[first], torch.zeros_like(first))
    return table.derived[key]


class MelodyPull(LogitsProcessor):
    def __init__(self, constraint: LyricsConstraint, melody: Melody, pull: float,
                 tracker: RowTracker | None = None):
        """``tracker``: the constraint processor's own (it then advances each row once a step, not twice)."""
        spec = constraint.spec
        if [len(line) for line in melody.lines] != [line.syllables for line in spec.lines]:
            raise MelodyError(f"the melody's lines have {melody.structure} notes but the spec asks for "
                              f"{' '.join(str(line.syllables) for line in spec.lines)} syllables")
        self.constraint, self.pull = constraint, float(pull)
        self.cues = [note_cues(line) for line in melody.lines]
        self.tracker = tracker or RowTracker(constraint)
        self._tones = token_tones(constraint) if self.pull else None
        self._bias: dict[tuple[int, int], torch.Tensor] = {}

    def bias(self, line: int, pos: int) -> torch.Tensor:
        """float [V]: the pull on each token at syllable ``pos`` of ``line``."""
        key = (line, pos)
        if key not in self._bias:
            per_tone = torch.tensor([0.0, *(cue_score(t, self.cues[line][pos]) for t in range(1, 6))])
            self._bias[key] = self.pull * per_tone[self._tones]
        return self._bias[key]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not self.pull:
            return scores
        for i, state in enumerate(self.tracker.states(input_ids)):
            if self.constraint.choosing(state):
                scores[i, : self._tones.numel()] += self.bias(state.line, state.pos).to(scores.device)
        return scores
