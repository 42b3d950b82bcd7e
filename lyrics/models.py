"""Loading generators: a local directory or hub id, safetensors weights only, no remote code."""

from __future__ import annotations


class ModelLoadError(RuntimeError):
    """A model or tokenizer that cannot be loaded; the message is one line naming the path."""


def load_model(path_or_id: str, device: str | None = None, adapter: str | None = None):
    """``(model, tokenizer)`` from ``path_or_id``, in eval mode, on CUDA when there is one; with
    ``adapter``, a LoRA adapter directory (``tianci train --stage sft``) merged into it.

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
        raise ModelLoadError(f"cannot load model {path_or_id!r}: {_reason(err)}") from None
    if adapter is not None:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"cannot load adapter {adapter!r}: {_reason(err)}") from None
    return model.to(device).eval(), tokenizer


def _reason(err: Exception) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:200]
