"""The generation prompt for a spec, and the per-line hint: the same text in training and at inference.

Prompt: a plain brief (topic, keyword plan, language, structure, rhymes, tones), wrapped in the tokenizer's chat
template when it has one. Hint: a line of its own before each lyric line,

    〔7|江阳|平平**仄平平〕

giving the line's syllables, its rhyme group (``-`` for none) and its tone pattern (``*`` free). It stands
on its own line because Qwen's pre-tokenizer lets one punctuation mark attach to the letters after it:
on its own line the hint tokenizes the same whether it was written in training data or forced by the
decoder.
"""

from __future__ import annotations

from lyrics.data.keywords import keyword_line
from lyrics.decoding.spec import LyricSpec
from phonetics import language


def brief(spec: LyricSpec) -> str:
    """The user's request as text: topic, keyword plan, language, structure, rhymes, tones."""
    lines = [f"主题：{spec.topic}"]
    if spec.keywords:
        lines.append(keyword_line(spec.keywords))
    spoken = language(spec.lang)
    lines += [f"语言：{spoken.native_name}", f"结构：{spec.structure}"]
    if spec.genre:
        lines.append(f"风格：{spec.genre}")
    if spec.mood:
        lines.append(f"情绪：{spec.mood}")
    if spec.register:
        lines.append(f"语体：{spoken.lyric_registers[spec.register]}")
    if spec.rhymes:
        lines.append("押韵：" + "，".join(f"{label}={group}" for label, group in spec.rhymes.items()))
    if any(line.tones for line in spec.lines):
        lines.append("声调：" + "，".join(line.tones or "*" * line.syllables for line in spec.lines))
    return "\n".join(lines)


HINT_RATE_WITH_TONES = 0.5  # share of training hints that carry the line's tone pattern (the rest: all *)
HINT_OPEN, HINT_CLOSE = "〔", "〕"


def hint(syllables: int, group: str | None, tones: str | None) -> str:
    return f"{HINT_OPEN}{syllables}|{group or '-'}|{tones or '*' * syllables}{HINT_CLOSE}"


def spec_hints(spec: LyricSpec) -> list[str]:
    """Each line's hint: its syllables, its label's pinned group (``-`` unlabelled or unpinned), its tones."""
    return [hint(line.syllables, spec.rhymes.get(line.label), line.tones) for line in spec.lines]


def hinted_answer(spec: LyricSpec, lines: list[str]) -> str:
    """The assistant's side of a training exchange: each lyric line after its hint line."""
    return "\n".join(f"{h}\n{text}" for h, text in zip(spec_hints(spec), lines, strict=True))


def exchange(spec: LyricSpec, lines: list[str]) -> list[dict[str, str]]:
    """A hinted sft exchange (chat ``messages``): the brief, then the lines under their hints."""
    return [{"role": "user", "content": user_message(spec)},
            {"role": "assistant", "content": hinted_answer(spec, lines)}]


def user_message(spec: LyricSpec) -> str:
    return f"请按要求填词。\n{brief(spec)}"


def build_prompt(spec: LyricSpec, tokenizer) -> str:
    text = user_message(spec)
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                             add_generation_prompt=True, enable_thinking=False)
    return text + "\n\n"
