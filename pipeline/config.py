"""Typed configs of the pipeline: rejection sampling (``tianci rs``), its prompts and promotion gate, and the
engine that runs generation (here or on Ray); read by the one loader: ``load_config(path, RSConfig)``."""

from __future__ import annotations

from dataclasses import dataclass, field

from lyrics.decoding.spec import DEFAULT_STRUCTURE
from lyrics.training.config import ConfigError, DataConfig, RunConfig, StageConfig, require

DEFAULT_STRUCTURES = (DEFAULT_STRUCTURE, "5A 5A 5B 5A", "7A 7A 7A 7A", "4 4A 7 7A")


@dataclass(frozen=True)
class RSModelConfig:
    generator: str | None = None  # round 0's generator; None: models/tiny
    scorer: str | None = None  # None: models/scorer-tiny


@dataclass(frozen=True)
class PromptsConfig:
    train: int = 200  # titles of train-split works, languages in turn
    eval: int = 40  # titles of valid-split works: held out
    structures: tuple[str, ...] = DEFAULT_STRUCTURES
    expand: bool = False  # query expansion: imagery from the corpus added to the topic

    def __post_init__(self):
        require(self.train >= 1 and self.eval >= 1, "train and eval must be at least 1")
        require(bool(self.structures), "structures must name at least one structure")


# tianci serve's defaults (pipeline.serve; here, where the command line reads them without loading torch)
DEFAULT_HOST = "127.0.0.1"  # this machine only
DEFAULT_PORT = 8808
MAX_BATCH = 16  # requests written together at most
QUEUE_SIZE = 64  # requests waiting at most; more are answered 503

DECODERS = ("hf", "vllm")  # the decoding backends behind a Writer: Hugging Face transformers, vLLM
ENGINES = ("local", "ray", "vllm")  # where tianci batch runs its chunks: here, Ray actors, a vLLM engine here
RAY_SCHEMES = ("ray://",)  # Ray Client; a bare HOST:PORT is a cluster's GCS address


def ray_host_port(address: str) -> tuple[str, int] | None:
    """The (host, port) of a Ray ``address`` ("auto": None, found by Ray itself); a ConfigError naming the
    expected shape when it is neither.

    >>> ray_host_port("10.0.0.5:6379"), ray_host_port("ray://head:10001"), ray_host_port("auto")
    (('10.0.0.5', 6379), ('head', 10001), None)
    """
    if address == "auto":
        return None
    bare = next((address[len(s):] for s in RAY_SCHEMES if address.startswith(s)), address)
    host, _, port = bare.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"--address {address!r}: expected HOST:PORT (port 1-65535), ray://HOST:PORT or auto")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class EngineConfig:
    """Where generation runs: here (``local``, decoded by Hugging Face transformers), on Ray (``ray``: a pool of
    ``actors``, each holding a generator and the scorer, ``num_gpus`` each, decoded by ``decoder``: Hugging Face or
    a vLLM engine of its own; ``address`` joins a running cluster, none starts a local Ray), or here decoded by a
    vLLM engine (``vllm``: needs the .venv-vllm venv)."""

    # ``flag``/``help``/``choices``: the command line's flags for these fields are made from them (tianci batch)
    kind: str = field(default="local", metadata={
        "flag": "--engine", "choices": ENGINES,
        "help": "local: this process (Hugging Face); ray: a pool of Ray actors (pip install 'tianci[ray]'); vllm: "
                "this process, decoded by vLLM (the .venv-vllm venv: make vllm)"})
    address: str | None = field(default=None, metadata={
        "flag": "--address", "help": "--engine ray: a running cluster to join (default: start one here)"})
    actors: int = field(default=2, metadata={
        "flag": "--actors", "help": "--engine ray: actors, each with a generator (default 2)"})
    num_gpus: float = field(default=0.0, metadata={
        "flag": "--num-gpus", "help": "--engine ray: GPUs per actor (default 0)"})
    decoder: str = field(default="hf", metadata={
        "flag": "--decoder", "choices": DECODERS,
        "help": "--engine ray: each actor's decoding backend: hf (Hugging Face, the default) or vllm (a vLLM engine "
                "per actor; Ray and vLLM in one venv: .venv-vllm, made by make vllm)"})

    def __post_init__(self):
        require(self.kind in ENGINES, f"kind must be one of {', '.join(ENGINES)}")
        require(self.decoder in DECODERS, f"decoder must be one of {', '.join(DECODERS)}")
        # local is Hugging Face and vllm is vLLM by definition: a decoder that contradicts the kind is a mistake
        require(self.decoder == "hf" or self.kind != "local",
                "decoder vllm with kind local: use kind vllm (a vLLM engine here) or kind ray (one per actor)")
        require(self.actors >= 1 and self.num_gpus >= 0, "actors must be at least 1 and num_gpus at least 0")
        if self.address is not None:
            ray_host_port(self.address)

    @property
    def decodes_with(self) -> str:
        """The decoding backend the generation runs on: ``hf`` or ``vllm``."""
        return "vllm" if self.kind == "vllm" or (self.kind == "ray" and self.decoder == "vllm") else "hf"


@dataclass(frozen=True)
class PromotionConfig:
    min_distinct_2: float = 0.95  # a promoted model's distinct-2 is at least this share of round 0's ...
    max_top_char: float = 1.5  # ... and its commonest character's share at most this many times round 0's
    confidence: float = 0.95  # the bootstrap interval of the overall gain
    resamples: int = 2000
    enabled: bool = True  # off: every round's model goes on to the next round
    ratings_db: str | None = None  # blind comparisons that decide instead; None: the default ratings store

    def __post_init__(self):
        require(0 < self.min_distinct_2 <= 1 and self.max_top_char >= 1, "min_distinct_2 must be in (0, 1] and "
                                                                          "max_top_char at least 1")
        require(0.5 <= self.confidence < 1 and self.resamples >= 100, "confidence must be in [0.5, 1) and "
                                                                       "resamples at least 100")


@dataclass(frozen=True)
class RSConfig(RunConfig):
    """``tianci rs``: rounds of sample K → keep the best → finetune (LoRA) → evaluate (stages: sft, the
    finetune of every round)."""

    model: RSModelConfig = RSModelConfig()
    data: DataConfig = field(default_factory=DataConfig)
    prompts: PromptsConfig = PromptsConfig()
    rounds: int = 2
    k: int = 8  # candidates per training prompt
    eval_k: int = 4  # candidates per held-out prompt
    threshold: float = 3.0  # the best passing candidate is kept when its overall score (1-5) reaches this
    replay: float = 1.0  # original sft exchanges replayed per kept sample
    temperature: float = 1.0
    repetition_gate: bool = True  # a kept candidate repeats characters no more than its prompt's median one
    diversity: float = 1.0  # selection: overall minus this times the bigram overlap with samples kept before
    promotion: PromotionConfig = PromotionConfig()  # whether a round's model replaces the current one
    engine: EngineConfig = EngineConfig()  # where the sampling step runs

    def __post_init__(self):
        for name in ("rounds", "k", "eval_k"):
            require(getattr(self, name) >= 1, f"{name} must be at least 1")
        require(self.replay >= 0 and self.temperature > 0, "replay must be at least 0 and temperature above 0")
        require(self.diversity >= 0, "diversity must be at least 0")
        self.only_stage("sft")
        require(self.stages["sft"].lora is not None, "stages.sft.lora is missing: rejection sampling finetunes "
                                                    "LoRA adapters")

    @property
    def sft(self) -> StageConfig:
        return self.stage("sft")
