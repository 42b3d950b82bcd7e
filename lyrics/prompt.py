"""The generation prompt for a spec: a plain brief, wrapped in the tokenizer's chat template when it has one."""

from __future__ import annotations

from .spec import LyricSpec

LANG_NAMES = {"cmn": "普通话", "yue": "粤语"}


def brief(spec: LyricSpec) -> str:
    """The user's request as text: topic, language, structure, rhymes, tones."""
    lines = [f"主题：{spec.topic}", f"语言：{LANG_NAMES[spec.lang]}", f"结构：{spec.structure}"]
    if spec.genre:
        lines.append(f"风格：{spec.genre}")
    if spec.rhymes:
        lines.append("押韵：" + "，".join(f"{label}={group}" for label, group in spec.rhymes.items()))
    if any(line.tones for line in spec.lines):
        lines.append("声调：" + "，".join(line.tones or "*" * line.syllables for line in spec.lines))
    return "\n".join(lines)


def build_prompt(spec: LyricSpec, tokenizer) -> str:
    text = f"请按要求填词。\n{brief(spec)}"
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                             add_generation_prompt=True, enable_thinking=False)
    return text + "\n\n"
