"""An independent reference for the sampling tests: the logits warp and exact joint laws, in float64 numpy.

Written from the textbook definitions, following the convention of transformers' logits warpers
(temperature, then top-k keeping every token tied with the k-th logit, then top-p keeping the
smallest set of most likely tokens whose mass reaches p, the token that crosses p included).
Nothing here calls ``verispec.sampling``, so a mistake in the engine's warp cannot hide in the
expected law a test compares the engine against.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import chisquare


def reference_warp(logits, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0) -> np.ndarray:
    """The sampling distribution for one row of ``logits`` (1-D), in float64.

    Temperature divides the logits; top-k keeps the logits at least as large as the k-th largest
    (ties with it stay); top-p keeps the most likely tokens, one by one, while the mass kept so far
    is below ``top_p`` (ties in probability go to the lower token id); the rest get probability 0.
    """
    z = np.asarray(logits, dtype=np.float64) / temperature
    if 0 < top_k < z.size:
        kth = np.sort(z)[::-1][top_k - 1]
        z = np.where(z >= kth, z, -np.inf)
    probs = np.exp(z - z.max())
    probs /= probs.sum()
    if top_p < 1:
        kept = np.zeros_like(probs)
        mass = 0.0
        for token in sorted(range(probs.size), key=lambda t: (-probs[t], t)):
            if mass >= top_p:
                break
            kept[token] = probs[token]
            mass += probs[token]
        probs = kept / kept.sum()
    return probs


def exact_joint(model, prompt: list[int], length: int, **warp) -> np.ndarray:
    """P(first ``length`` sampled tokens) for ``model`` after ``prompt``, shape ``[V] * length``.

    Enumerates every prefix depth by depth (one batched fp32 forward per depth) and multiplies the
    reference-warped next-token distributions: the law of plain ancestral sampling from ``model``.
    """
    vocab = model.config.vocab_size
    prefixes: list[list[int]] = [[]]
    joint = np.ones(1)
    for _ in range(length):
        with torch.no_grad():
            logits = model(torch.tensor([prompt + p for p in prefixes])).logits[:, -1].double().numpy()
        step = np.stack([reference_warp(row, **warp) for row in logits])
        joint = (joint[:, None] * step).reshape(-1)
        prefixes = [p + [t] for p in prefixes for t in range(vocab)]
    return joint.reshape((vocab,) * length)


def pooled_pvalue(counts: np.ndarray, probs: np.ndarray, min_expected: float = 5.0) -> float:
    """Chi-square goodness-of-fit p-value of ``counts`` against ``probs`` (same shape).

    Cells expecting fewer than ``min_expected`` samples are pooled into one cell. A sample in a cell
    of probability 0 is impossible under ``probs``: the p-value is then 0.
    """
    counts, probs = np.asarray(counts, dtype=np.float64).ravel(), np.asarray(probs, dtype=np.float64).ravel()
    if counts[probs == 0].sum() > 0:
        return 0.0
    expected = probs / probs.sum() * counts.sum()
    small = expected < min_expected
    observed = np.append(counts[~small], counts[small].sum())
    expected = np.append(expected[~small], expected[small].sum())
    keep = expected > 0
    return float(chisquare(observed[keep], expected[keep]).pvalue)
