"""Sliding-window caches (Gemma 3) roll back past the window and then give a fresh forward's logits."""

import pytest
import torch
from transformers import Gemma3ForCausalLM, Gemma3TextConfig

from verispec.backends import TransformersBackend

WINDOW = 8


def tiny_gemma(seed: int) -> Gemma3ForCausalLM:
    torch.manual_seed(seed)
    config = Gemma3TextConfig(
        vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, sliding_window=WINDOW, max_position_embeddings=256,
        layer_types=["sliding_attention", "full_attention", "sliding_attention"],
    )
    return Gemma3ForCausalLM(config).float().eval().requires_grad_(False)


@pytest.mark.parametrize(
    ("feeds", "keep"),
    [
        ([12, 3], 13),  # past the window, drop part of the last forward
        ([12, 1, 1, 1, 1], 13),  # drop several one-token forwards (a drafter's rollback)
        ([5, 2], 6),  # still inside the window
        ([20, 4, 4], 21),  # drop most of two forwards, well past the window
    ],
)
def test_rollback_past_the_window_matches_a_fresh_forward(feeds, keep):
    model = tiny_gemma(0)
    backend = TransformersBackend(model)
    ids = [(7 * i + 3) % 300 for i in range(sum(feeds) + 10)]
    start = 0
    for n in feeds:
        backend.forward(ids[start : start + n])
        start += n
    backend.rollback(keep)
    more = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
    after = backend.forward(more).logits
    with torch.no_grad():
        fresh = model(torch.tensor([ids[:keep] + more])).logits[0, keep:]
    assert torch.allclose(after, fresh, atol=1e-5)


def test_repeated_rollbacks_stay_exact():
    model = tiny_gemma(1)
    backend = TransformersBackend(model)
    context: list[int] = []
    for step in range(6):
        block = [(step * 31 + j) % 300 for j in range(5)]
        backend.forward(block)
        context += block
        backend.rollback(len(context) - 2)
        del context[-2:]
    probe = backend.forward([42]).logits
    with torch.no_grad():
        fresh = model(torch.tensor([context + [42]])).logits[0, -1:]
    assert torch.allclose(probe, fresh, atol=1e-5)
