"""The quality scorer: a causal LM's backbone with one scalar head per aspect.

    from scorer.model import Scorer
    scorer = Scorer.load()                                   # models/scorer-tiny, or any scorer folder
    scorer.score([({"topic": "月光", "lang": "cmn"}, "床前明月光\\n疑是地上霜")])
    # [{"overall": 4.1, "language": 4.3, "relevance": 3.9, "content": 3.8}]

The network is a :class:`ScorerModel`: a Hugging Face ``AutoModelForSequenceClassification`` (for the tiny
default, a ``Qwen3ForSequenceClassification``) with ``num_labels`` = the four aspects of
``scorer.ratings.ASPECTS``, read on the last token, plus a learned weighting of features: the fluency of the
text under the backbone's own token log-probabilities, for a scorer with a *reader* (a causal LM of the same
tokenizer trained on lyrics read right to left, kept frozen in the scorer folder's ``backward/``) the same three
figures of the lyrics read backwards, and the repetition and topic evidence of ``scorer.features``. Its
``forward`` gives each head's logit ``r``; the score on the raters' 1-5 scale is
``1 + 4 sigmoid(r)``, so pairwise (Bradley-Terry) training on logits and pointwise training on 1-5 ratings share
one scale; relevance is then capped where the lyrics show no evidence of their topic (:func:`to_scores`).
Weights load from safetensors only, without remote code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

from lyrics.data.keywords import KeywordTable, load_tables
from lyrics.models import SETTINGS_FILE, ModelLoadError, one_line
from phonetics import LANGUAGES, language

from .features import FEATURES, NO_EVIDENCE_RELEVANCE, text_features
from .ratings import ASPECTS

DEFAULT_SCORER = Path(__file__).resolve().parent.parent / "models" / "scorer-tiny"
FEATURES_KEY = "features.weight"
FLUENCY = ("logp_mean", "logp_spread", "logp_low")  # the backbone's view, before scorer.features' FEATURES
BACKWARD = ("back_mean", "back_spread", "back_low")  # the reader's view of the lyrics right to left, when there is one
READER_DIR = "backward"  # the reader's folder inside a scorer folder
SEQ_LEN = 384  # tokens of prompt and lyrics read, for a scorer folder whose settings do not say
LOW_SHARE = 0.2  # logp_low: the mean of a text's lowest fifth of token log-probabilities
LOW, HIGH = 1.0, 5.0


def is_scorer(folder: Path) -> bool:
    """Whether a model folder holds a Tianci scorer (its ``tianci.json`` says so), not a generator."""
    settings = Path(folder) / SETTINGS_FILE
    return settings.is_file() and bool(json.loads(settings.read_text("utf-8")).get("scorer", False))


def scorer_text(prompt: dict, lyrics: str) -> str:
    """What the scorer reads: the request (topic, language, genre) and the lyrics."""
    spoken = LANGUAGES.get(prompt.get("lang")) or language("cmn")  # Mandarin when none, or none known, is given
    head = [f"主题：{prompt.get('topic') or '无题'}", f"语言：{spoken.native_name}"]
    if prompt.get("genre"):
        head.append(f"风格：{prompt['genre']}")
    return "\n".join(head) + "\n歌词：\n" + lyrics.strip()


def scorer_prompt(spec) -> dict:
    """The request a candidate is judged against: a spec's topic, language, genre (``scorer_text`` reads them)
    and keyword plan (``scorer.features`` reads it)."""
    return {"topic": spec.topic, "lang": spec.lang, **({"genre": spec.genre} if spec.genre else {}),
            **({"keywords": list(spec.keywords)} if spec.keywords else {})}


def to_scale(logits: torch.Tensor) -> torch.Tensor:
    """Head logits to the 1-5 rating scale."""
    return LOW + (HIGH - LOW) * torch.sigmoid(logits)


def to_scores(logits: torch.Tensor, features: torch.Tensor,
              relevance_cap: float | None = NO_EVIDENCE_RELEVANCE) -> torch.Tensor:
    """(rows, aspects) 1-5 scores: the heads' scale, relevance capped at ``relevance_cap`` where the lyrics show
    no evidence of their topic (v2: a candidate that ignores its topic's characters cannot score relevance 5);
    None (v3, which learnt relevance from corpus topics): the heads alone."""
    scores = to_scale(logits)
    if relevance_cap is None:
        return scores
    relevance = ASPECTS.index("relevance")
    blind = features[:, FEATURES.index("no_evidence")].to(scores.device) > 0.5
    scores[:, relevance] = torch.where(blind, scores[:, relevance].clamp(max=relevance_cap), scores[:, relevance])
    return scores


def encode_items(tokenizer, items: Sequence[tuple[dict, str]], seq_len: int,
                 tables: dict[str, KeywordTable]) -> dict[str, torch.Tensor]:
    """A batch of (prompt, lyrics): ids of :func:`scorer_text` (:func:`encode_texts`) and their
    ``scorer.features`` as ``features``."""
    batch = encode_texts(tokenizer, [scorer_text(prompt, lyrics) for prompt, lyrics in items], seq_len)
    batch["features"] = torch.tensor([text_features(prompt, lyrics, tables) for prompt, lyrics in items],
                                     dtype=torch.float32).reshape(len(items), len(FEATURES))
    backward = encode_texts(tokenizer, [lyrics.strip()[::-1] for _, lyrics in items], seq_len, eos_first=True)
    batch["backward_ids"], batch["backward_mask"] = backward["input_ids"], backward["attention_mask"]
    return batch


def encode_texts(tokenizer, texts: Sequence[str], seq_len: int, eos_first: bool = False) -> dict[str, torch.Tensor]:
    """Right-padded ids ending in EOS (the token the head reads), the lyrics' start kept when too long;
    ``eos_first``: starting with it instead (the token a reader LM starts from)."""
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    rows = [[eos, *ids] if eos_first else [*ids, eos]
            for ids in (tokenizer.encode(text, add_special_tokens=False)[: seq_len - 1] for text in texts)]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def token_logprobs(model, input_ids: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """(rows, positions - 1) log-probability of each next token under the backbone's own LM head (the tied
    input embeddings), in float32."""
    embeddings = model.get_input_embeddings().weight
    logits = (hidden[:, :-1] @ embeddings.T).float()
    return torch.log_softmax(logits, dim=-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)


def fluency_features(model, batch: dict[str, torch.Tensor], hidden: torch.Tensor) -> torch.Tensor:
    """(rows, 3) :data:`FLUENCY`: mean and spread of the text's token log-probabilities, and the mean of its
    lowest fifth (a garbled line or two sinks it while the mean barely moves)."""
    return logprob_summary(token_logprobs(model, batch["input_ids"], hidden), batch["attention_mask"])


def reading_features(reader, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(rows, 3) :data:`BACKWARD`: :func:`fluency_features`' figures of the lyrics under ``reader``, which reads
    them right to left (``input_ids``: the reversed lyrics after an EOS). A text stitched left to right from
    phrases, each character likely after the ones before it, is not made to be likely read the other way."""
    with torch.no_grad():
        logits = reader(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1].float()
    logp = torch.log_softmax(logits, dim=-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    return logprob_summary(logp, attention_mask)


def logprob_summary(logp: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(rows, 3): the mean and spread of each row's next-token log-probabilities ``logp`` (rows, positions - 1)
    where ``attention_mask`` (rows, positions) has the next token, and the mean of the lowest fifth."""
    mask = attention_mask[:, 1:].float()
    count = mask.sum(dim=1).clamp(min=1)
    mean = (logp * mask).sum(dim=1) / count
    spread = (((logp - mean[:, None]) ** 2 * mask).sum(dim=1) / count).sqrt()
    ordered = logp.masked_fill(mask == 0, float("inf")).sort(dim=1).values  # lowest first, padding last
    take = (count * LOW_SHARE).ceil().clamp(min=1)
    lowest = torch.arange(ordered.shape[1], device=ordered.device)[None, :] < take[:, None]
    low = ordered.masked_fill(~lowest, 0.0).sum(dim=1) / take
    return torch.stack([mean, spread, low], dim=1)


class ScorerModel(torch.nn.Module):
    """The scorer's network: ``classifier``, a sequence-classification model (its transformer and ``score``, one
    linear head per aspect), and ``features``, a learned weighting of :data:`FLUENCY` and ``scorer.features``'
    values. Saved as the classifier saves itself, with ``features.weight`` in the same safetensors file (the
    classifier's own class skips it on loading; :meth:`from_pretrained` reads it)."""

    def __init__(self, classifier, features: torch.Tensor | None = None, reader=None):
        super().__init__()
        self.classifier = classifier
        self.reader = reader.requires_grad_(False).eval() if reader is not None else None  # frozen: a fixed view
        if reader is not None and reader.config.vocab_size != classifier.config.vocab_size:
            raise ModelLoadError(f"the reader's vocabulary ({reader.config.vocab_size}) is not the backbone's "
                                 f"({classifier.config.vocab_size}): train it with the scorer's tokenizer")
        inputs = len(FLUENCY) + (len(BACKWARD) if reader is not None else 0) + len(FEATURES)
        # zeros: a fresh scorer starts from its hidden-state heads alone
        self.features = torch.nn.Linear(inputs, classifier.config.num_labels, bias=False)
        torch.nn.init.zeros_(self.features.weight)
        if features is not None:
            if tuple(features.shape) != tuple(self.features.weight.shape):
                raise ModelLoadError(f"{FEATURES_KEY} has shape {tuple(features.shape)}, not "
                                     f"{tuple(self.features.weight.shape)}: a scorer of another version; retrain it "
                                     "with `tianci scorer train`")
            self.features.weight.data.copy_(features)

    @property
    def config(self):
        return self.classifier.config

    def train(self, mode: bool = True) -> ScorerModel:
        super().train(mode)
        if self.reader is not None:
            self.reader.eval()  # never trained
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, features: torch.Tensor,
                backward_ids: torch.Tensor | None = None, backward_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(rows, aspects) logits: the heads on each row's last real token, plus the feature term: per aspect, a
        learned weighting of :data:`FLUENCY` (the text's token log-probabilities under the backbone's own, tied,
        LM head; zeros when it does not tie its embeddings), with a reader of :data:`BACKWARD` (the lyrics
        ``backward_ids`` read right to left) and of ``features`` (``scorer.features``).

        Why features: how expected each character is is a product of a position's state and the next
        character's embedding, which a linear head on hidden states cannot form; whether a line copies another or
        the lyrics use their topic's words is a comparison across the text that a 4-layer model trained on CPU
        learns slowly and poorly. Given directly, a small scorer tells garbled, repetitive and off-topic lyrics at
        once."""
        classifier = self.classifier
        backbone = getattr(classifier, classifier.base_model_prefix)
        hidden = backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        last = attention_mask.sum(dim=1) - 1
        logits = classifier.score(hidden[torch.arange(len(last), device=last.device), last]).float()
        fluency = (fluency_features(classifier, {"input_ids": input_ids, "attention_mask": attention_mask}, hidden)
                   if getattr(self.config.get_text_config(), "tie_word_embeddings", False)
                   else hidden.new_zeros((len(last), len(FLUENCY)), dtype=torch.float32))
        views = [fluency]
        if self.reader is not None:
            if backward_ids is None or backward_mask is None:
                raise ValueError("this scorer reads the lyrics backwards: give backward_ids and backward_mask "
                                 "(encode_items makes them)")
            views.append(reading_features(self.reader, backward_ids, backward_mask))
        return logits + self.features(torch.cat([*views, features.to(fluency.device, torch.float32)], dim=1))

    def save_pretrained(self, folder: str | Path, safe_serialization: bool = True,
                        state_dict: dict[str, torch.Tensor] | None = None) -> None:
        """The classifier's folder with ``features.weight`` beside its weights, the keys those of the classifier
        alone (the format scorers were always saved in); ``state_dict``: this module's, as gathered from the
        processes of a sharded run, instead of its own."""
        state = self.state_dict() if state_dict is None else state_dict
        weights = {key.removeprefix("classifier."): value for key, value in state.items()
                   if not key.startswith("reader.")}
        self.classifier.save_pretrained(folder, safe_serialization=safe_serialization, state_dict=weights)
        if self.reader is not None:  # frozen: its own weights, in its own folder
            self.reader.save_pretrained(Path(folder) / READER_DIR, safe_serialization=True)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> ScorerModel:
        """A saved scorer: the sequence-classification model, the feature weights in the same file, and its
        reader when the folder has one."""
        from safetensors import safe_open
        from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification
        from transformers.utils import logging

        verbosity = logging.get_verbosity()
        logging.set_verbosity_error()  # the classifier reports features.weight as unexpected: it is read below
        try:
            classifier = AutoModelForSequenceClassification.from_pretrained(str(path), trust_remote_code=False,
                                                                            use_safetensors=True)
        finally:
            logging.set_verbosity(verbosity)
        weights = Path(path) / "model.safetensors"
        features = None
        if weights.is_file():
            with safe_open(str(weights), framework="pt") as handle:
                if FEATURES_KEY in set(handle.keys()):
                    features = handle.get_tensor(FEATURES_KEY)
        reader = None
        if (Path(path) / READER_DIR / "config.json").is_file():
            reader = AutoModelForCausalLM.from_pretrained(str(Path(path) / READER_DIR), trust_remote_code=False,
                                                          use_safetensors=True)
        return cls(classifier, features, reader)


def new_scorer(backbone: str | Path, reader: str | Path | None = None) -> tuple[ScorerModel, object]:
    """A scorer on ``backbone`` (a causal LM folder or hub id): its transformer, fresh aspect heads and feature
    weights, and with ``reader`` (a causal LM folder of the same tokenizer, trained on text read right to left)
    its backward view; and its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(backbone), trust_remote_code=False)
        classifier = AutoModelForSequenceClassification.from_pretrained(
            str(backbone), num_labels=len(ASPECTS), id2label=dict(enumerate(ASPECTS)),
            label2id={a: i for i, a in enumerate(ASPECTS)}, problem_type="regression",
            trust_remote_code=False, use_safetensors=True)
        reading = (AutoModelForCausalLM.from_pretrained(str(reader), trust_remote_code=False, use_safetensors=True)
                   if reader is not None else None)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"cannot build a scorer on {str(backbone)!r}: {one_line(err)}") from None
    torch.nn.init.normal_(classifier.score.weight, std=0.02)
    return ScorerModel(classifier, reader=reading), tokenizer


class Scorer:
    """Aspect scores (1-5) for (prompt, lyrics) pairs."""

    def __init__(self, model: ScorerModel, tokenizer, seq_len: int = SEQ_LEN,
                 tables: dict[str, KeywordTable] | None = None, relevance_cap: float | None = NO_EVIDENCE_RELEVANCE):
        self.model, self.tokenizer, self.seq_len = model.eval(), tokenizer, seq_len
        self.tables = tables or {}  # the keyword tables topic evidence is read with (scorer.features)
        self.relevance_cap = relevance_cap

    @classmethod
    def load(cls, path: str | Path | None = None, device: str | None = None) -> Scorer:
        from transformers import AutoTokenizer

        path = str(path or DEFAULT_SCORER)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if Path(path).is_dir() and not (Path(path) / "config.json").is_file():
            raise ModelLoadError(f"{path}: no config.json, not a scorer folder (`tianci scorer train` writes one "
                                 "under out_dir/final)")
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
            model = ScorerModel.from_pretrained(path)
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"cannot load scorer {path!r}: {one_line(err)}") from None
        if model.config.num_labels != len(ASPECTS):
            raise ModelLoadError(f"{path!r} is not a Tianci scorer: it has {model.config.num_labels} heads, "
                                 f"not {len(ASPECTS)} ({', '.join(ASPECTS)})")
        settings_file = Path(path) / SETTINGS_FILE
        settings = json.loads(settings_file.read_text("utf-8")) if settings_file.is_file() else {}
        # a scorer written before v3 has no relevance_cap: it was trained to be read with the cap
        return cls(model.to(device), tokenizer, settings.get("seq_len", SEQ_LEN), load_tables(Path(path)),
                   settings.get("relevance_cap", NO_EVIDENCE_RELEVANCE))

    @torch.inference_mode()
    def score(self, items: Sequence[tuple[dict, str]], batch_size: int = 32) -> list[dict[str, float]]:
        """One ``{aspect: score}`` per (prompt, lyrics), rounded to 3 decimals."""
        out: list[dict[str, float]] = []
        device = next(self.model.parameters()).device
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            batch = encode_items(self.tokenizer, chunk, self.seq_len, self.tables)
            scores = to_scores(self.model(**{k: v.to(device) for k, v in batch.items()}), batch["features"],
                               self.relevance_cap)
            out += [{a: round(float(v), 3) for a, v in zip(ASPECTS, row, strict=True)} for row in scores.tolist()]
        return out
