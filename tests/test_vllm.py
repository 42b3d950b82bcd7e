"""Serving with vLLM (``lyrics.vllm_processor``): the shipped model decoded by vLLM on CPU under Tianci's logits
processor, every candidate passing the independent checks; a bad spec refused in one line; the processor's masks
equal to the Hugging Face processor's, step by step, on the token ids vLLM wrote; and greedy vLLM writing what the
Hugging Face decoder writes.

Runs in the vLLM venv (``make vllm``: ``.venv-vllm/bin/python -m pytest tests/test_vllm.py``; ``make test`` runs it
there after the main suite, which leaves this file out).
"""

from __future__ import annotations

import itertools
import json
import os

import pytest

# One process: the engine core runs in the test's own process (no worker to spawn on two busy cores), on few threads.
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

import torch
from vllm import LLM, SamplingParams
from vllm.exceptions import VLLMValidationError
from vllm.v1.sample.logits_processor import BatchUpdate

from lyrics.data.keywords import KEYWORD_PULL
from lyrics.decoding.checks import check_lyrics
from lyrics.decoding.constraints import RowConstraintsProcessor
from lyrics.decoding.spec import LyricSpec, SpecError
from lyrics.generation import Decoder
from lyrics.models import DEFAULT_MODEL, load_model
from lyrics.vllm_processor import (
    MEMORY_KEY,
    PULL_KEY,
    RENAMED_PULL_KEY,
    SPEC_KEY,
    ConstrainedBatch,
    LyricRequests,
    TianciLogitsProcessor,
    request_pull,
)

SPECS = [
    {"lang": "cmn", "topic": "月光", "structure": "7A 7A 7B 7A"},
    {"lang": "yue", "topic": "海港", "structure": "7A 7A 7B 7A"},
    {"lang": "cmn", "topic": "春风", "structure": "5A 5A 5B 5A", "rhymes": {"A": "光"},
     "tones": ["平平仄仄平", "*", "*", "仄仄仄平平"]},
]
PER_SPEC = 2


@pytest.fixture(scope="module")
def llm():
    engine = LLM(model=str(DEFAULT_MODEL), logits_processors=[TianciLogitsProcessor], dtype="float32",
                 max_model_len=512, max_num_seqs=8, enforce_eager=True, seed=0)
    yield engine
    del engine


@pytest.fixture(scope="module")
def requests():
    return LyricRequests.for_model(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def written(llm, requests):
    """(request, generated token ids) for every candidate of every spec, decoded in one vLLM call."""
    rows = [row for k, spec in enumerate(SPECS) for row in requests.build(spec, n=PER_SPEC, seed=k)]
    outputs = llm.generate([row.prompt for row in rows], [row.params for row in rows], use_tqdm=False)
    return [(row, list(out.outputs[0].token_ids)) for row, out in zip(rows, outputs, strict=True)]


def checked_candidates(written, requests) -> list:
    """Each written row's candidate, asserting it passes the independent checks, unrelaxed, line for line."""
    out = []
    for request, token_ids in written:
        candidate = requests.candidate(request, token_ids)
        checks = check_lyrics(candidate.lyrics, request.spec)
        assert checks.ok, (request.data, candidate.lyrics, checks.to_dict())
        assert len(candidate.lyrics.split("\n")) == len(request.spec.lines)
        assert candidate.checks.relaxed == []
        out.append(candidate)
    return out


def test_every_vllm_candidate_passes_the_independent_checks(written, requests):
    assert len(written) == len(SPECS) * PER_SPEC
    checked_candidates(written, requests)


def test_a_bad_spec_is_refused_with_the_one_line_spec_error(llm):
    bad = {"lang": "xx", "topic": "月光", "structure": "7A 7A"}
    with pytest.raises(SpecError) as expected:
        LyricSpec.from_dict(bad)
    with pytest.raises(VLLMValidationError, match="lang") as refused:
        llm.generate(["月光"], SamplingParams(max_tokens=4, extra_args={SPEC_KEY: bad}), use_tqdm=False)
    assert str(refused.value) == str(expected.value)
    assert "\n" not in str(refused.value)


def test_a_bad_memory_share_is_refused_in_one_line(llm):
    spec = {"lang": "cmn", "topic": "月光", "structure": "7A 7A"}
    with pytest.raises(VLLMValidationError) as refused:
        llm.generate(["月光"], SamplingParams(max_tokens=4, extra_args={SPEC_KEY: spec, MEMORY_KEY: 1.5}),
                     use_tqdm=False)
    assert str(refused.value) == f"{MEMORY_KEY}: give a number from 0 (off) to below 1, e.g. 0.8"


def test_the_old_pull_key_still_sets_the_pull_with_a_one_line_warning(capsys):
    old = SamplingParams(extra_args={RENAMED_PULL_KEY: 2.0})
    assert request_pull(old) == 2.0 and capsys.readouterr().err == ""  # the row's read: no second warning
    assert request_pull(old, warn=True) == 2.0  # the request's validation
    assert capsys.readouterr().err == f"warning: {RENAMED_PULL_KEY} is deprecated; use {PULL_KEY}\n"
    assert request_pull(SamplingParams(extra_args={PULL_KEY: 1.0, RENAMED_PULL_KEY: 2.0}), warn=True) == 1.0
    assert capsys.readouterr().err == ""


def test_a_request_without_a_spec_is_decoded_freely(llm):
    out = llm.generate(["请按要求填词。"], SamplingParams(max_tokens=8, temperature=0), use_tqdm=False)
    assert len(out[0].outputs[0].token_ids) > 0


def test_vllm_masks_equal_the_hugging_face_masks_step_by_step(written, requests):
    """Every candidate's recorded ids fed through both processors, all rows in one batch as vLLM holds them: at
    each step, each row allows exactly the tokens ``RowConstraintsProcessor`` allows it."""
    _assert_masks_equal_step_by_step(written, requests)


def _assert_masks_equal_step_by_step(written, requests) -> None:
    compiler = requests.compiler
    constraints = [compiler.constraint(request.spec) for request, _ in written]
    batch = ConstrainedBatch(compiler)
    live: list[list[int]] = [[] for _ in written]
    batch.update(BatchUpdate(batch_size=len(written), removed=[], moved=[],
                             added=[(i, request.params, None, live[i]) for i, (request, _) in enumerate(written)]))
    reference = RowConstraintsProcessor(constraints)
    vocab = compiler.decoder.table.vocab_size
    steps = max(len(ids) for _, ids in written)
    for step in range(steps):
        # a one-token prompt (the trackers take what they first see as prompt), the ids so far, finished rows padded
        ids = [[0, *row_ids[:step]] + [0] * (step - len(row_ids[:step])) for _, row_ids in written]
        hf = reference(torch.tensor(ids), torch.zeros(len(written), vocab)).isfinite()
        ours = batch.apply(torch.zeros(len(written), vocab)).isfinite()
        for row, (_, row_ids) in enumerate(written):
            if step <= len(row_ids):
                assert torch.equal(ours[row], hf[row]), (row, step)
        for row, (_, row_ids) in enumerate(written):
            if step < len(row_ids):
                live[row].append(row_ids[step])


def test_a_spec_the_vocabulary_cannot_meet_ends_its_request_at_once(requests):
    """Only the engine's compile can find it (``validate_params`` has no tokenizer): the row is then allowed only an
    end token, so the request ends empty instead of failing the engine."""
    compiler = requests.compiler
    rules = compiler.constraint(compiler.spec({"lang": "cmn", "topic": "月", "structure": "2A",
                                               "rhymes": {"A": "光"}})).rules
    by_group_and_tone: dict[tuple[str, str], list[str]] = {}
    for char in rules.writable:
        if (group := rules.group_of(char)) and len(rules.classes[char]) == 1:
            by_group_and_tone.setdefault((group, next(iter(rules.classes[char]))), []).append(char)
    (group, tone), chars = min(by_group_and_tone.items(), key=lambda item: len(item[1]))
    lines = len(chars) + 1  # more lines than characters to end them on, each on its own (no 重韵)
    data = {"lang": "cmn", "topic": "月", "structure": " ".join(["2A"] * lines), "rhymes": {"A": group},
            "tones": ["*" + tone] * lines}
    batch = ConstrainedBatch(compiler)
    batch.update(BatchUpdate(batch_size=1, removed=[], moved=[],
                             added=[(0, SamplingParams(extra_args={SPEC_KEY: data}), None, [])]))
    allowed = batch.apply(torch.zeros(1, compiler.decoder.table.vocab_size + 3)).isfinite()[0]
    assert allowed.nonzero().flatten().tolist() == compiler.decoder.eos_ids


def test_over_http_the_spec_comes_as_a_json_string(requests):
    """``vllm_xargs`` values are flat, so the server gets the spec as JSON text: read like the object, and text that
    is not JSON refused in one line."""
    request = requests.build(SPECS[1], n=1, seed=0)[0]
    as_text = SamplingParams(extra_args={SPEC_KEY: json.dumps(request.data, ensure_ascii=False)})
    TianciLogitsProcessor.validate_params(as_text)
    batch = ConstrainedBatch(requests.compiler)
    batch.update(BatchUpdate(batch_size=2, removed=[], moved=[],
                             added=[(0, as_text, None, []), (1, request.params, None, [])]))
    allowed = batch.apply(torch.zeros(2, requests.compiler.decoder.table.vocab_size)).isfinite()
    assert torch.equal(allowed[0], allowed[1]) and 0 < int(allowed[0].sum()) < allowed.shape[1]
    with pytest.raises(VLLMValidationError, match=r"^tianci_spec: not valid JSON \(.*\)$"):
        TianciLogitsProcessor.validate_params(SamplingParams(extra_args={SPEC_KEY: "{lang: cmn"}))


def test_greedy_vllm_writes_what_the_hugging_face_decoder_writes(llm, requests):
    """End to end, the same plan: greedy decoding of the same specs and seeds (so the same pinned rhymes, keyword
    plans, prompts and hints) gives the same lyrics through vLLM as through ``Decoder.generate``, with the keyword
    pull at its default and off, and the phrase memory off and on."""
    model, tokenizer = load_model(str(DEFAULT_MODEL), device="cpu")
    decoder = Decoder(model, tokenizer)
    for (k, spec), pull, mix in itertools.product(enumerate(SPECS), (KEYWORD_PULL, 0.0), (0.0, 0.8)):
        expected = [c.lyrics for c in decoder.generate(spec, PER_SPEC, seed=k, do_sample=False, keyword_pull=pull,
                                                       memory_mix=mix)]
        rows = requests.build(spec, n=PER_SPEC, seed=k, temperature=0.0)
        for row in rows:
            row.params.extra_args[PULL_KEY] = pull
            row.params.extra_args[MEMORY_KEY] = mix
        outputs = llm.generate([row.prompt for row in rows], [row.params for row in rows], use_tqdm=False)
        got = [requests.candidate(row, out.outputs[0].token_ids).lyrics
               for row, out in zip(rows, outputs, strict=True)]
        assert got == expected, (spec, pull, mix)


# The real Qwen3 tokenizer (byte-level BPE: multi-character tokens, characters split over byte tokens) on a
# random-weight Qwen3 saved with it, trained-with-hints settings as the shipped model: what a random model writes
# right is the processor's doing.
QWEN_SPECS = [
    {"lang": "cmn", "topic": "月光", "structure": "7A 7A 7B 7A", "tones": ["平平仄仄仄平平", "仄仄平平仄仄平"]},
    {"lang": "cmn", "topic": "春风", "structure": "2A 2B 2A 2B 2A 2B"},  # no 重韵 on every other line
    {"lang": "yue", "topic": "笑", "structure": "3A 2A", "rhymes": {"A": "eu"}},  # two characters, both byte-split
]


@pytest.fixture(scope="module")
def qwen_dir(tmp_path_factory):
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    from lyrics.data.assets import asset_dir

    folder = tmp_path_factory.mktemp("qwen3-random")
    tokenizer = AutoTokenizer.from_pretrained(asset_dir("qwen3-tokenizer"))
    torch.manual_seed(0)
    config = Qwen3Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=64, max_position_embeddings=1024,
                         tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id)
    Qwen3ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "tianci.json").write_text(json.dumps({"hints": True}))
    return folder


@pytest.fixture(scope="module")
def qwen_requests(qwen_dir):
    return LyricRequests.for_model(qwen_dir)


@pytest.fixture(scope="module")
def qwen_written(qwen_dir, qwen_requests, llm):
    """As ``written``, by a second engine on the random Qwen3 (``llm`` first: one engine is started at a time)."""
    engine = LLM(model=str(qwen_dir), logits_processors=[TianciLogitsProcessor], dtype="float32", max_model_len=1024,
                 max_num_seqs=8, enforce_eager=True, seed=0)
    rows = [row for k, spec in enumerate(QWEN_SPECS) for row in qwen_requests.build(spec, n=PER_SPEC, seed=k)]
    outputs = engine.generate([row.prompt for row in rows], [row.params for row in rows], use_tqdm=False)
    del engine
    return [(row, list(out.outputs[0].token_ids)) for row, out in zip(rows, outputs, strict=True)]


def test_every_vllm_candidate_on_the_qwen3_tokenizer_passes_the_independent_checks(qwen_written, qwen_requests):
    assert len(qwen_written) == len(QWEN_SPECS) * PER_SPEC
    table = qwen_requests.compiler.decoder.table
    for candidate in checked_candidates(qwen_written, qwen_requests):
        assert "\ufffd" not in candidate.lyrics
    # the byte-level vocabulary was exercised: tokens of several characters, and characters written byte by byte
    used = [t for _, ids in qwen_written for t in ids]
    assert any(int(table.n_chars[t]) > 1 for t in used) and any(int(table.tail[t]) >= 0 for t in used)


def test_vllm_masks_on_the_qwen3_tokenizer_equal_the_hugging_face_masks(qwen_written, qwen_requests):
    _assert_masks_equal_step_by_step(qwen_written, qwen_requests)
