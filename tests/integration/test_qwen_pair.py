"""On the real Qwen pair in fp32, greedy speculative decoding writes exactly what transformers' greedy generate() writes.

The reference is not verispec's own verifier-only decoding but transformers' ``model.generate``
(greedy, fp32) on the verifier's model object, from the prompt ids of the tokenizer's own chat
template, cut after the first end token as verispec cuts its output (the end token included).
It is computed once per prompt and shared by every configuration: the model drafter and prompt
lookup, each with gamma 1, 4, 8 and the adaptive schedule. Each (prompt, configuration) pair is its
own test. Every run must also have kept drafted tokens, so a drafter that proposes nothing, or a
rule that rejects everything, cannot pass.

Slow: on a shared 2-core CPU the whole matrix (6 references + 48 runs, about 11 GB of memory)
took about an hour, so the test suite runs 2 of its pairs and ``make proofs`` all of it;
one 128-token reference takes 45-115 s, one run 10-200 s (load-dependent).
"""

from __future__ import annotations

import os

import pytest
import torch
from qwen_cases import COPY_HEAVY, CONFIGS, MAX_NEW_TOKENS, PROMPTS, first_difference, matrix

from verispec import Pipeline
from verispec.models import cache
from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipe():
    missing = [n for n in (DEFAULT_DRAFT, DEFAULT_VERIFIER) if not cache.is_complete(cache.model_dir(n))]
    if missing:
        pytest.skip(f"needs `verispec models pull` for {', '.join(missing)}")
    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    yield Pipeline(dtype="fp32")
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def references(pipe):
    """transformers' greedy output per prompt name, computed on first use and shared by all configurations."""
    computed: dict[str, tuple[list[int], list[int]]] = {}

    def reference(name: str) -> tuple[list[int], list[int]]:
        if name not in computed:
            computed[name] = transformers_greedy(pipe.verifier.model, pipe.verifier.tokenizer, PROMPTS[name])
        return computed[name]

    return reference


def end_token_ids(model, tokenizer) -> list[int]:
    """The ids that end a reply: the generation config's, plus the chat format's end-of-turn and
    end-of-text tokens (upstream Qwen2.5-Instruct lists both in its generation config; the GGUF
    conversion keeps only the first)."""
    configured = model.generation_config.eos_token_id
    ids = set(configured if isinstance(configured, list) else [configured])
    ids.update(tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>") if t in tokenizer.get_vocab())
    return sorted(ids)


def transformers_greedy(model, tokenizer, prompt: str) -> tuple[list[int], list[int]]:
    """(prompt ids, new ids) of transformers' greedy generate() for one user message, cut after the first end token."""
    encoded = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    ends = end_token_ids(model, tokenizer)
    with torch.no_grad():
        output = model.generate(
            input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"], max_new_tokens=MAX_NEW_TOKENS,
            do_sample=False, temperature=None, top_p=None, top_k=None, repetition_penalty=1.0,
            eos_token_id=ends, pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else ends[0],
        )
    prompt_ids = encoded["input_ids"][0].tolist()
    new = output[0, len(prompt_ids):].tolist()
    cut = next((i + 1 for i, t in enumerate(new) if t in ends), len(new))
    return prompt_ids, new[:cut]


def divergence(pipe: Pipeline, prompt_ids: list[int], got: list[int], expected: list[int]) -> str:
    """Where two outputs first differ, with the verifier's top-2 logit margin there (a tiny margin is fp32 noise)."""
    at = first_difference(got, expected)
    with torch.no_grad():
        logits = pipe.verifier.model(torch.tensor([prompt_ids + expected[:at]])).logits[0, -1]
    top = torch.topk(logits.float(), 2).values
    decode = pipe.verifier.tokenizer.decode
    return (
        f"first difference at new token {at} of {len(got)} (sd) vs {len(expected)} (transformers); "
        f"verifier top-2 logit margin there {float(top[0] - top[1]):.2e}; "
        f"text so far {decode(expected[:at])[-80:]!r}; sd {decode(got[at:at + 8])!r} vs {decode(expected[at:at + 8])!r}"
    )


# In the suite: both drafters, fixed and adaptive drafts, one reference (fp32 costs minutes).
IN_SUITE = {("copy-code", "model-gamma4"), ("copy-code", "lookup-adaptive")}


@pytest.mark.parametrize(("prompt", "config"), matrix(IN_SUITE))
def test_greedy_sd_is_token_identical_to_transformers_generate(pipe, references, prompt, config):
    method, least_acceptance, least_tokens_per_pass = CONFIGS[config]
    prompt_ids, expected = references(prompt)
    got = pipe.generate(PROMPTS[prompt], chat=True, method=method, max_new_tokens=MAX_NEW_TOKENS)
    assert got.prompt_token_ids == prompt_ids
    assert got.token_ids == expected, divergence(pipe, prompt_ids, got.token_ids, expected)
    stats = got.stats
    assert stats.proposed > 0 and stats.accepted > 0, f"no drafted token was kept: {stats}"
    if config.startswith("model") or prompt in COPY_HEAVY:
        assert stats.acceptance_rate >= least_acceptance, stats
        assert stats.mean_accepted_length >= least_tokens_per_pass, stats
