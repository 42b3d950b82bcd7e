"""Loading generators: a local directory or hub id, safetensors weights only, no remote code."""

from __future__ import annotations


class ModelLoadError(RuntimeError):
    """A model or tokenizer that cannot be loaded; the message is one line naming the path."""


def load_model(path_or_id: str, device: str | None = None):
    """``(model, tokenizer)`` from ``path_or_id``, in eval mode, on CUDA when there is one.

    Weights load only from safetensors (``use_safetensors=True``) and ``trust_remote_code`` stays off:
    a checkpoint cannot run code on load.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path_or_id, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(path_or_id, trust_remote_code=False, use_safetensors=True)
    except (OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelLoadError(f"cannot load model {path_or_id!r}: {reason[:200]}") from None
    return model.to(device).eval(), tokenizer
