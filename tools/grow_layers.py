"""Deepen a trained Qwen3 model without changing what it computes: after each layer, a copy of it whose output
projections (attention ``o_proj``, MLP ``down_proj``) are zero, so the copy adds nothing to the residual stream
until training moves them (the grown model's logits equal the original's at step 0). A larger arm can then start
from everything a smaller model learnt instead of from scratch, which two CPU cores cannot afford to redo.

    python tools/grow_layers.py models/tiny runs/grown-8l [--factor 2]

The folder written is a model folder as ``from_pretrained`` reads it (safetensors, the tokenizer and Tianci's
side files copied), and the script checks that the grown model's logits equal the original's on a sample text.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

SIDE_FILES = ("tianci.json", "keywords.json", "generation_config.json")
ZEROED = ("self_attn.o_proj", "mlp.down_proj")  # a layer's writes into the residual stream


def grow(model, factor: int):
    """A new model with ``factor`` layers for each of ``model``'s: the layer itself, then ``factor - 1`` copies
    that write nothing yet."""
    config = model.config.__class__.from_dict(model.config.to_dict())
    layers = model.config.num_hidden_layers
    config.num_hidden_layers = layers * factor
    if getattr(config, "layer_types", None):
        config.layer_types = [kind for kind in model.config.layer_types for _ in range(factor)]
    grown = model.__class__(config)
    state = model.state_dict()
    new_state = {}
    for key, value in state.items():
        if not key.startswith("model.layers."):
            new_state[key] = value
            continue
        index, rest = key.removeprefix("model.layers.").split(".", 1)
        for copy in range(factor):
            silent = copy > 0 and rest.startswith(ZEROED)
            key = f"model.layers.{int(index) * factor + copy}.{rest}"
            new_state[key] = torch.zeros_like(value) if silent else value
    missing, unexpected = grown.load_state_dict(new_state, strict=False)
    missing = [key for key in missing if key != "lm_head.weight"]  # tied to the embeddings
    if missing or unexpected:
        raise SystemExit(f"error: the grown model's weights do not line up: missing {missing}, unexpected {unexpected}")
    grown.tie_weights()
    return grown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="a model folder (safetensors)")
    parser.add_argument("out", type=Path, help="the folder to write")
    parser.add_argument("--factor", type=int, default=2, help="layers in the grown model per layer of the source")
    args = parser.parse_args()
    if args.factor < 2:
        sys.exit("error: --factor must be at least 2")
    model = AutoModelForCausalLM.from_pretrained(args.source, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.source)
    grown = grow(model, args.factor).eval()
    ids = tokenizer("我把钥匙放回桌上\n说这次不用送了", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        gap = (model(ids).logits - grown(ids).logits).abs().max().item()
    if gap > 1e-4:
        sys.exit(f"error: the grown model computes something else (logits differ by {gap:.2g})")
    tmp = args.out.with_name(args.out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    grown.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    for name in SIDE_FILES:
        if (args.source / name).is_file():
            shutil.copy2(args.source / name, tmp / name)
    shutil.rmtree(args.out, ignore_errors=True)
    tmp.rename(args.out)
    params = sum(p.numel() for p in grown.parameters())
    print(f"{args.out}: {config_line(grown.config)}, {params / 1e6:.1f}M parameters; logits equal the source's "
          f"(largest gap {gap:.1e})")


def config_line(config) -> str:
    return f"{config.num_hidden_layers} layers, hidden {config.hidden_size}"


if __name__ == "__main__":
    main()
