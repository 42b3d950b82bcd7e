"""Loading generators: a local directory or hub id, safetensors weights only, no remote code.

A Tianci-trained model (or adapter) folder holds ``tianci.json`` beside its weights: how it was trained to be
prompted (``{"hints": true}``: a hint line before each lyric line) and the phrase memory's share its decoding
was chosen with (``"memory_mix"``, :mod:`lyrics.decoding.phrase_memory`), read at load into ``model.config``; and,
when it was trained with keyword plans, ``keywords.json`` (``lyrics.data.keywords``), read into
``model.tianci_keywords`` so inference writes its plans as training did.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from lyrics.data.keywords import KEYWORDS_FILE, load_tables
from lyrics.files import replacing_dir
from phonetics import TianciError

# The embedded default: configs/tiny.yaml trained and exported (see its README.md).
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "tiny"
SETTINGS_FILE = "tianci.json"


class ModelLoadError(TianciError, RuntimeError):
    """A model or tokenizer that cannot be loaded; the message is one line naming the path."""


def load_model(path_or_id: str, device: str | None = None, adapter: str | None = None):
    """``(model, tokenizer)`` from ``path_or_id``, in eval mode, on CUDA when there is one; with
    ``adapter``, a LoRA adapter directory (``tianci train --stage sft``) merged into it.

    Weights load only from safetensors (``use_safetensors=True``) and ``trust_remote_code`` stays off:
    a checkpoint cannot run code on load.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a 20 MB model loads in a blink: no "Loading weights" bar on stderr

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    path_or_id = str(path_or_id)
    check_local(path_or_id)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path_or_id, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(path_or_id, trust_remote_code=False, use_safetensors=True)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"cannot load model {path_or_id!r}: {one_line(err)}") from None
    if adapter is not None:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"cannot load adapter {adapter!r}: {one_line(err)}") from None
    for folder in (path_or_id, adapter):
        if folder and (Path(folder) / SETTINGS_FILE).is_file():
            model.config.tianci_hints = trained_with_hints(folder)
            model.config.tianci_memory_mix = memory_mix_of(folder)
        if folder and (tables := load_tables(Path(folder))):
            model.tianci_keywords = tables  # its keyword plans' tables (not config: they stay out of config.json)
    return model.to(device).eval(), tokenizer


def tianci_settings(folder: str | Path) -> dict:
    """A model folder's ``tianci.json`` (empty for a folder without one, or a hub id)."""
    settings = Path(folder) / SETTINGS_FILE
    return json.loads(settings.read_text("utf-8")) if settings.is_file() else {}


def trained_with_hints(folder: str | Path) -> bool:
    """Whether the model in ``folder`` was trained with hint lines (its ``tianci.json``)."""
    return bool(tianci_settings(folder).get("hints", False))


def memory_mix_of(folder: str | Path) -> float:
    """The phrase memory's share its ``tianci.json`` chose for a model (``memory_mix``; 0: none)."""
    return float(tianci_settings(folder).get("memory_mix", 0.0))


SMALL_MODEL = 50_000_000  # parameters: below this, decoding's matrix products are too small to share out


def usable_cores() -> int:
    """The cores this process may really run on: its CPU affinity, capped by its cgroup's CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return cores


def set_cpu_threads(model) -> int:
    """Torch's CPU threads for generating with ``model``: one for a small model (its products gain nothing from
    more, and threads that wait on each other stall as soon as another process takes a core), else the usable
    cores. ``TIANCI_THREADS`` (a number, or ``all``) overrides; so does an ``OMP_NUM_THREADS`` the user set."""
    import torch

    setting = os.environ.get("TIANCI_THREADS", "")
    if not setting and os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    if setting == "all":
        threads = usable_cores()
    elif setting.isdigit() and int(setting) > 0:
        threads = min(int(setting), usable_cores())
    else:
        threads = 1 if sum(p.numel() for p in model.parameters()) < SMALL_MODEL else usable_cores()
    torch.set_num_threads(threads)
    return threads


def looks_local(path_or_id: str) -> bool:
    """A path rather than a hub id: it starts like one (``./``, ``/``, ``~``), or its first part is a folder here
    (``models/tny``)."""
    parts = Path(path_or_id).parts
    return path_or_id.startswith((".", "/", "~")) or (len(parts) > 1 and Path(parts[0]).is_dir())


def check_local(path_or_id: str, generator: bool = True) -> None:
    """Fail at once, without asking the hub, for a local model folder that is missing or cannot be loaded (as a
    generator unless ``generator`` is False: a scorer folder is refused only as a generator)."""
    path = Path(path_or_id).expanduser()
    if not path.exists():
        if looks_local(path_or_id):
            raise ModelLoadError(f"cannot load model {path_or_id!r}: no such folder")
        return
    if not path.is_dir():
        raise ModelLoadError(f"cannot load model {path_or_id!r}: not a folder; give a model folder or a hub id")
    if not any(path.glob("*.safetensors")) and not (path / "adapter_config.json").is_file():
        pickled = [p.name for p in path.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl", ".ckpt")]
        why = f"only pickle weights ({', '.join(sorted(pickled))}), which are never loaded" if pickled else \
            "no *.safetensors weights"
        raise ModelLoadError(f"cannot load model {path_or_id!r}: {why}; save it with safe_serialization=True")
    if not any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json")):
        raise ModelLoadError(f"cannot load model {path_or_id!r}: no tokenizer files (tokenizer.json) in the folder")
    config = path / "config.json"
    architectures = json.loads(config.read_text("utf-8")).get("architectures") or [] if config.is_file() else []
    if generator and any(not name.endswith("ForCausalLM") for name in architectures):
        raise ModelLoadError(f"cannot load model {path_or_id!r} as a generator: it is a {architectures[0]} "
                             "(a scorer?); give a causal LM folder, e.g. models/tiny")


def write_settings(folder: Path, **settings) -> None:
    (Path(folder) / SETTINGS_FILE).write_text(json.dumps(settings, ensure_ascii=False, indent=1) + "\n", "utf-8")


def export_model(base: str, adapter: str | None, out: Path) -> Path:
    """``base`` with ``adapter`` merged, saved as one self-contained folder (safetensors, tokenizer, config,
    ``tianci.json``), written beside ``out`` and renamed into place."""
    model, tokenizer = load_model(base, device="cpu", adapter=adapter)
    out = Path(out)
    with replacing_dir(out) as tmp:
        save_model_folder(tmp, model, tokenizer, hints=bool(getattr(model.config, "tianci_hints", False)),
                          keywords_from=[Path(f) for f in (adapter, base) if f])
        if out.exists():
            keep = [p for p in out.iterdir() if p.suffix in (".md", ".png") and not (tmp / p.name).exists()]
            for extra in keep:  # the model card and figures stay
                shutil.copy2(extra, tmp / extra.name)
        for path in tmp.iterdir():
            path.chmod(0o644)
    return out


def save_model_folder(folder: Path, model, tokenizer, keywords_from: list[Path] = (), state_dict: dict | None = None,
                      **settings) -> None:
    """A self-contained generator (or scorer) folder: safetensors weights (``state_dict``: gathered ones of a
    sharded model), tokenizer, ``tianci.json`` with ``settings``, and the first ``keywords.json`` found in
    ``keywords_from`` (keyword tables travel with the weights)."""
    model.save_pretrained(folder, safe_serialization=True, state_dict=state_dict)
    tokenizer.save_pretrained(folder)
    write_settings(folder, **settings)
    for source in keywords_from:
        if (source / KEYWORDS_FILE).is_file():
            shutil.copy2(source / KEYWORDS_FILE, folder / KEYWORDS_FILE)
            break


def one_line(err: Exception) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:200]
