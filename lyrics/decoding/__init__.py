"""Constrained decoding: the spec, the prompt and hint text, the token table, the logits processors, checks."""
