"""tools/grow_layers.py: a deeper model that computes what the trained one did, ready to train on."""

import subprocess
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

TOOL = Path(__file__).resolve().parent.parent / "tools" / "grow_layers.py"


def test_grown_model_has_twice_the_layers_and_the_same_logits(tmp_path, char_generator_dir, char_tokenizer):
    out = tmp_path / "grown"
    done = subprocess.run([sys.executable, str(TOOL), str(char_generator_dir), str(out)], capture_output=True,
                          text=True, check=True)
    assert "logits equal the source's" in done.stdout
    source = AutoModelForCausalLM.from_pretrained(char_generator_dir).eval()
    grown = AutoModelForCausalLM.from_pretrained(out).eval()
    assert grown.config.num_hidden_layers == 2 * source.config.num_hidden_layers
    assert len(grown.config.layer_types) == grown.config.num_hidden_layers
    ids = char_tokenizer("春风吹又生\n明月照高楼", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.allclose(source(ids).logits, grown(ids).logits, atol=1e-5)
    # the copies are live: a gradient reaches their zeroed output projections
    grown.train()
    grown(ids, labels=ids).loss.backward()
    assert grown.model.layers[1].self_attn.o_proj.weight.grad.abs().sum() > 0
    assert not (out.with_name("grown.tmp")).exists()


def test_a_factor_below_two_is_refused_in_one_line(tmp_path, char_generator_dir):
    done = subprocess.run([sys.executable, str(TOOL), str(char_generator_dir), str(tmp_path / "g"), "--factor", "1"],
                          capture_output=True, text=True)
    assert done.returncode != 0 and done.stderr.strip() == "error: --factor must be at least 2"
