"""The scorer trainer's typed config (the generator's: ``lyrics.training.config``; rejection sampling's:
``pipeline.config``), read by the same loader: ``load_config(path, ScorerConfig)``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lyrics.training.config import DataConfig, RunConfig, require
from phonetics import language_codes

from .features import NO_EVIDENCE_RELEVANCE


@dataclass(frozen=True)
class ScorerModelConfig:
    base: str | None = None  # the backbone: a causal LM folder or hub id; None: the default generator
    generator: str | None = None  # writes the "model" negatives; None: the default generator
    earlier_generators: tuple[str, ...] = ()  # earlier defaults (folders) whose samples are negatives too
    # a causal LM of the backbone's tokenizer trained on lyrics read right to left (bench/backward_probe.py makes
    # one), kept frozen in the scorer: its reading of the lyrics backwards becomes three more features
    reader: str | None = None


@dataclass(frozen=True)
class ScorerDataConfig:
    dir: str | None = None  # the built datasets; None: $TIANCI_HOME/data
    langs: tuple[str, ...] = field(default_factory=language_codes)  # every registered language
    # works are cut to their first stanza of at most this many lines (``renamed``: the key's old name, still read)
    stanza_lines: int = field(default=8, metadata={"renamed": "max_lines"})
    train_works: int = 2000  # per language, from the train split
    eval_works: int = 200  # per language, from the valid split (held out)
    model_samples: int = 0  # per language: real work vs the generator's sample for its spec
    eval_model_samples: int = 0
    # candidates the default generator writes for each of those works in one call, each a pair against the work:
    # the pipeline picks the best of n, so the scorer must rank every one of them below real lyrics, not one sample
    model_candidates: int = 1
    # per work, two stitched rewrites as negatives (the modern corpus's phrase memory alone, and the classical works'
    # two-character contexts): cheap imitations of the memory default's picks and of the classical default's salad
    stitched: bool = False
    modern_share: float = 0.0  # share of each language's works drawn from the modern corpus (the rest: all sources)
    ratings_db: str | None = None  # the ratings store trained on; None: the default store, when it exists

    def __post_init__(self):
        require(bool(self.langs) and set(self.langs) <= set(language_codes()),
                f"langs must be some of {', '.join(language_codes())}")
        for name in ("stanza_lines", "train_works", "eval_works", "model_candidates"):
            require(getattr(self, name) >= 1, f"{name} must be at least 1")
        require(0 <= self.modern_share <= 1, "modern_share must be in [0, 1]")

    @property
    def works_dir(self) -> Path:
        return DataConfig(dir=self.dir).works_dir


@dataclass(frozen=True)
class ScorerConfig(RunConfig):
    """``tianci scorer train``: the backbone, the bootstrap data, the one stage ``scorer``."""

    model: ScorerModelConfig = ScorerModelConfig()
    data: ScorerDataConfig = ScorerDataConfig()
    pointwise_weight: float = 1.0  # the pointwise (1-5 ratings) term beside the pairwise one
    human_weight: float = 4.0  # a human rating's (and a human pair's) weight in the loss, a bootstrap one's 1
    human_share: float = 0.2  # the least share of training draws that are human rows, when there are ratings
    model_repeat: int = 1  # the generator's samples drawn this many times as often as a bootstrap pair
    # the highest relevance of lyrics with no evidence of their topic (None: relevance from the heads alone)
    relevance_cap: float | None = NO_EVIDENCE_RELEVANCE

    def __post_init__(self):
        self.only_stage("scorer")
        require(self.model_repeat >= 1, "model_repeat must be at least 1")
        require(self.relevance_cap is None or 1 <= self.relevance_cap <= 5, "relevance_cap must be in [1, 5] or null")
        require(0 <= self.human_share < 1 and self.human_weight > 0, "human_share must be in [0, 1) and "
                                                                      "human_weight above 0")
