"""On the real Qwen pair on llama.cpp, greedy speculative decoding writes what llama.cpp's own greedy decoding writes.

The reference is llama-cpp-python's high-level ``Llama.generate`` (top-k 1, temperature 0, no
repeat penalty) on the verifier's GGUF, with the same thread count and flash attention as
verispec's backend, cut after the first end token as verispec cuts its output. It decodes one
token per forward; ``sd`` verifies a whole draft in one forward, and llama.cpp's quantized kernels
round differently for a batch of k tokens than for one (activations are quantized per batch). So
where the two outputs differ, the verifier's own top-2 logit margin at the first differing token
(one token at a time, the reference's way) must be small: a near-tie that batching flips, not a
wrong token. The test prints every difference; ``make proofs`` writes them to its log.

The configurations are those of the torch proof, with cost-aware drafting (llama.cpp's default)
off where a draft length is fixed, so that drafts of that length really are verified.
"""

from __future__ import annotations

import os

import pytest
from qwen_cases import COPY_HEAVY, CONFIGS, MAX_NEW_TOKENS, PROMPTS, first_difference, matrix

from verispec import Pipeline
from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER

pytestmark = pytest.mark.integration

# Batched and single-token decoding of the Q4_K_M 1.5B differ by up to about 0.6 in a logit
# (tests/backends/test_llamacpp_backend.py prints it); a flip needs a margin below that.
NEAR_TIE = 0.6
THREADS = os.cpu_count() or 1


@pytest.fixture(scope="module")
def llama_cpp():
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (`make llama-cpp`)")
    from verispec.backends.llamacpp_backend import embedded_gguf, import_llama_cpp
    from verispec.errors import ModelNotPulledError

    try:
        paths = {name: embedded_gguf(name) for name in (DEFAULT_DRAFT, DEFAULT_VERIFIER)}
    except ModelNotPulledError as err:
        pytest.skip(str(err))
    return import_llama_cpp(), paths


@pytest.fixture(scope="module")
def pipe(llama_cpp):
    return Pipeline(backend="llama.cpp")


@pytest.fixture(scope="module")
def reference(llama_cpp):
    """llama-cpp-python's greedy continuation of prompt ids, and its model for margins."""
    module, paths = llama_cpp
    model = module.Llama(
        str(paths[DEFAULT_VERIFIER]), n_ctx=1024, n_threads=THREADS, n_threads_batch=THREADS, flash_attn=True,
        logits_all=True, verbose=False,
    )
    yield model
    model.close()


def llama_greedy(model, prompt_ids: list[int], end_ids: frozenset[int]) -> list[int]:
    model.reset()  # no reuse of the previous prompt's cache: the prompt is read in one batch, as verispec reads it
    out: list[int] = []
    for token in model.generate(prompt_ids, top_k=1, temp=0.0, repeat_penalty=1.0, reset=True):
        out.append(token)
        if token in end_ids or len(out) == MAX_NEW_TOKENS:
            break
    return out


def top2_margin(model, ids: list[int]) -> float:
    """The verifier's top-2 logit margin after ``ids``, fed one token at a time as the reference decodes."""
    model.reset()
    for token in ids:
        model.eval([token])
    top = sorted(model.scores[model.n_tokens - 1], reverse=True)[:2]
    return float(top[0] - top[1])


@pytest.fixture(scope="module")
def references(pipe, reference):
    computed: dict[str, tuple[list[int], list[int]]] = {}

    def get(name: str) -> tuple[list[int], list[int]]:
        if name not in computed:
            prompt_ids = pipe.verifier.tokenizer.apply_chat_template(
                [{"role": "user", "content": PROMPTS[name]}], add_generation_prompt=True
            )["input_ids"]
            computed[name] = prompt_ids, llama_greedy(reference, prompt_ids, pipe.verifier.eos_token_ids)
        return computed[name]

    return get


def llama_method(config: str) -> str:
    method = CONFIGS[config][0]
    return method if "adaptive" in method else f"{method},cost_aware=false"


# In the suite: both drafters, gamma 4, 8 and adaptive, four prompts (the rest: `make proofs`).
IN_SUITE = {("code", "model-gamma8"), ("chat", "model-adaptive"), ("copy-text", "lookup-gamma4"), ("copy-code", "lookup-adaptive")}


@pytest.mark.parametrize(("prompt", "config"), matrix(IN_SUITE))
def test_greedy_sd_on_llama_cpp_matches_llama_cpp_generate(pipe, reference, references, prompt, config):
    _, least_acceptance, least_tokens_per_pass = CONFIGS[config]
    prompt_ids, expected = references(prompt)
    got = pipe.generate(PROMPTS[prompt], chat=True, method=llama_method(config), max_new_tokens=MAX_NEW_TOKENS)
    assert got.prompt_token_ids == prompt_ids
    if got.token_ids != expected:
        at = first_difference(got.token_ids, expected)
        margin = top2_margin(reference, prompt_ids + expected[:at])
        print(f"{prompt}/{config}: first difference at token {at} of {len(expected)}, top-2 margin {margin:.3f}")
        assert margin < NEAR_TIE, f"{prompt}/{config} differs at token {at} where the verifier is sure (margin {margin:.3f})"
    stats = got.stats
    assert stats.proposed > 0 and stats.accepted > 0, f"no drafted token was kept: {stats}"
    if config.startswith("model") or prompt in COPY_HEAVY:
        assert stats.acceptance_rate >= least_acceptance, stats
        assert stats.mean_accepted_length >= least_tokens_per_pass, stats
