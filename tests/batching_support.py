"""What a batched llama.cpp decode may change: the argmax at a near-tie (its rounding differs)."""

from __future__ import annotations

from collections.abc import Sequence

from verispec.backends.base import ModelBackend

# A batched decode can move a tiny model's logits by about 5e-4 (measured); a margin under this is a tie.
NEAR_TIE = 1e-2


def margin_before(backend: ModelBackend, prompt: Sequence[int], written: Sequence[int]) -> float:
    """The gap between the two most likely next tokens after ``prompt`` and ``written``, decoded alone."""
    backend.clear_prefix_cache()
    backend.reset()
    top = backend.forward([*prompt, *written], last_only=True).logits[-1].topk(2).values
    return float(top[0] - top[1])


def same_or_split_at_a_near_tie(
    backend: ModelBackend, prompt: Sequence[int], alone: Sequence[int], batched: Sequence[int]
) -> bool:
    """True if ``batched`` equals ``alone``, or first differs where ``backend`` alone had a near-tie."""
    split = next((i for i, (a, b) in enumerate(zip(alone, batched, strict=False)) if a != b), None)
    if split is None:
        return len(alone) == len(batched)
    return margin_before(backend, prompt, alone[:split]) < NEAR_TIE
