"""Tiny pipelines to batch on both backends, and what a batched decode may change: on llama.cpp
the argmax at a near-tie (its rounding differs); on torch in fp32 nothing."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import pytest
from tiny_gguf import write_tiny_gguf
from tiny_models import byte_tokenizer, noisy_copy, tiny_model

from verispec import Pipeline
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


NO_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is None
BACKENDS = [
    pytest.param("llama.cpp", marks=pytest.mark.skipif(NO_LLAMA_CPP, reason="needs llama-cpp-python (`make llama-cpp`)")),
    "torch",
]


def gguf_pipeline(folder: Path) -> Pipeline:
    verifier = write_tiny_gguf(folder / "verifier.gguf", scale=0.5)
    draft = write_tiny_gguf(folder / "draft.gguf", scale=0.5, noise=0.35)
    return Pipeline(draft=str(draft), verifier=str(verifier), backend="llama.cpp")


def torch_pipeline() -> Pipeline:
    verifier = tiny_model(0)
    return Pipeline(draft=(noisy_copy(verifier, 1, 0.05), byte_tokenizer()), verifier=(verifier, byte_tokenizer()),
                    dtype="fp32")


def unbatched_output(pipe: Pipeline, writer: ModelBackend, prompt: list[int], alone: list[int], joint: list[int]) -> bool:
    """Equal tokens on torch; on llama.cpp equal, or split first at a near-tie."""
    if pipe.backend_of("verifier") == "torch":
        return alone == joint
    return same_or_split_at_a_near_tie(writer, prompt, alone, joint)
