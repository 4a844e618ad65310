"""The engine's warp (``warp_probs``) equals an independent one, and both follow transformers' convention.

``reference_sampling.reference_warp`` is the warp the lossless tests build their expected laws
from; here it is checked against ``verispec.sampling.warp_probs`` and against transformers' own
logits warpers (temperature, then top-k, then top-p), on random logits and on edge cases: ties,
top_k = 1, top_k >= V, tiny top_p, top_p = 1, a top-p set whose mass is exactly p, -inf logits.

Top-p convention (transformers' ``TopPLogitsWarper``, vLLM's sampler, and verispec): keep the
smallest set of most likely tokens whose mass reaches p; the token that crosses p is kept, and a
set whose mass equals p exactly needs no more tokens.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference_sampling import reference_warp
from transformers.generation.logits_process import (
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from verispec.sampling import SamplingParams, warp_probs

SETTINGS = [
    {"temperature": t, "top_k": k, "top_p": p}
    for t in (0.3, 1.0, 2.5)
    for k in (0, 1, 3, 7, 11, 50)
    for p in (1e-6, 0.3, 0.75, 0.95, 1.0)
]


def engine_warp(logits: np.ndarray, **warp) -> np.ndarray:
    """verispec's warp of float32 logits, as float64 numpy."""
    probs = warp_probs(torch.tensor(logits, dtype=torch.float32), SamplingParams(**warp))
    return probs.double().numpy()


def transformers_warp(logits: np.ndarray, temperature: float, top_k: int, top_p: float) -> np.ndarray:
    """transformers' generate() warpers in their default order, in float64."""
    scores = torch.tensor(logits, dtype=torch.float64).reshape(1, -1)
    if temperature != 1.0:
        scores = TemperatureLogitsWarper(temperature)(None, scores)
    if top_k:
        scores = TopKLogitsWarper(top_k)(None, scores)
    if top_p < 1.0:
        scores = TopPLogitsWarper(top_p)(None, scores)
    return torch.softmax(scores, dim=-1)[0].numpy()


def near_top_p_boundary(logits: np.ndarray, temperature: float, top_k: int, top_p: float, slack: float = 1e-5) -> bool:
    """Whether some cumulative mass of the top-k distribution lies within ``slack`` of top_p (float32 vs
    float64 rounding may then decide differently whether the next token is kept)."""
    if top_p >= 1:
        return False
    probs = np.sort(reference_warp(logits, temperature, top_k))[::-1]
    return bool(np.any(np.abs(np.cumsum(probs) - top_p) < slack))


@pytest.mark.parametrize("vocab", [2, 10, 64])
def test_engine_and_transformers_warps_equal_the_reference_on_random_logits(vocab):
    rng = np.random.default_rng(vocab)
    compared = 0
    for _ in range(20):
        logits = rng.normal(0.0, 3.0, vocab)
        for warp in SETTINGS:
            if near_top_p_boundary(logits, **warp):
                continue
            expected = reference_warp(logits, **warp)
            np.testing.assert_allclose(engine_warp(logits, **warp), expected, atol=1e-6, err_msg=str(warp))
            np.testing.assert_allclose(transformers_warp(logits, **warp), expected, atol=1e-12, err_msg=str(warp))
            compared += 1
    assert compared >= 0.95 * 20 * len(SETTINGS)  # the boundary skip is rare


def test_top_p_keeps_the_token_that_crosses_p():
    logits = np.log([0.5, 0.3, 0.2])
    for probs in (reference_warp(logits, top_p=0.6), engine_warp(logits, top_p=0.6), transformers_warp(logits, 1.0, 0, 0.6)):
        np.testing.assert_allclose(probs, [0.625, 0.375, 0.0], atol=1e-6)


def test_top_p_stops_at_a_set_whose_mass_is_exactly_p():
    """Four equal logits (each exactly 0.25): top_p = 0.5 keeps two of them, not three."""
    logits = np.zeros(4)
    for probs in (reference_warp(logits, top_p=0.5), engine_warp(logits, top_p=0.5), transformers_warp(logits, 1.0, 0, 0.5)):
        assert sorted(probs.tolist(), reverse=True) == [0.5, 0.5, 0.0, 0.0]


def test_top_k_keeps_every_token_tied_with_the_kth():
    logits = np.array([2.0, 1.0, 3.0, 1.0, 1.0, 0.0])
    for k, kept in [(1, {2}), (2, {0, 2}), (3, {0, 1, 2, 3, 4}), (4, {0, 1, 2, 3, 4})]:
        for probs in (reference_warp(logits, top_k=k), engine_warp(logits, top_k=k), transformers_warp(logits, 1.0, k, 1.0)):
            assert set(np.flatnonzero(probs)) == kept, (k, probs)
    tied_top = np.array([1.0, 4.0, 4.0, 0.0])
    for probs in (reference_warp(tied_top, top_k=1), engine_warp(tied_top, top_k=1)):
        np.testing.assert_allclose(probs, [0.0, 0.5, 0.5, 0.0], atol=1e-7)


def test_ties_at_the_top_p_boundary_keep_the_right_number_of_tokens():
    """Which of several tied tokens top-p keeps is arbitrary (it follows the sort order); how many
    and how much probability each gets is not. Compare the kept probabilities as multisets."""
    logits = np.log([0.3, 0.15, 0.15, 0.15, 0.15, 0.1])
    for top_p in (0.35, 0.5, 0.6, 0.8, 0.95):
        expected = np.sort(reference_warp(logits, top_p=top_p))
        np.testing.assert_allclose(np.sort(engine_warp(logits, top_p=top_p)), expected, atol=1e-6, err_msg=str(top_p))
        np.testing.assert_allclose(np.sort(transformers_warp(logits, 1.0, 0, top_p)), expected, atol=1e-12)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_edge_settings(temperature):
    rng = np.random.default_rng(1)
    logits = rng.normal(0.0, 2.0, 12)
    top = int(np.argmax(logits))
    one_hot = np.eye(12)[top]
    np.testing.assert_allclose(engine_warp(logits, temperature=temperature, top_k=1), one_hot, atol=1e-7)
    np.testing.assert_allclose(engine_warp(logits, temperature=temperature, top_p=1e-9), one_hot, atol=1e-7)
    softmax = reference_warp(logits, temperature)
    for off in ({"top_p": 1.0}, {"top_k": 12}, {"top_k": 1000}, {"top_k": 0}):
        np.testing.assert_allclose(engine_warp(logits, temperature=temperature, **off), softmax, atol=1e-6)
    # A copied (prompt-lookup) draft's logits: one finite entry, the rest -inf, stay one-hot.
    copied = np.full(12, -np.inf)
    copied[5] = 0.0
    for warp in ({}, {"top_k": 3}, {"top_p": 0.5}, {"top_k": 2, "top_p": 0.9}):
        np.testing.assert_allclose(engine_warp(copied, temperature=temperature, **warp), np.eye(12)[5])
        np.testing.assert_allclose(reference_warp(copied, temperature, **warp), np.eye(12)[5])

