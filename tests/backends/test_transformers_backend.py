"""The KV cache rolls back to any length and then gives the logits of a fresh forward pass."""

import pytest
import torch

from tiny_models import tiny_model
from verispec.backends import TransformersBackend


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rollback_then_extend_matches_fresh_forward(seed):
    model = tiny_model(seed)
    backend = TransformersBackend(model)
    prompt, rejected, accepted = [5, 17, 99, 3, 42], [7, 8, 9, 10], [11, 12, 13]
    backend.forward(prompt)
    backend.forward(rejected)
    backend.rollback(len(prompt) + 1)  # keep one drafted token, drop three
    assert backend.cached_length == len(prompt) + 1
    after_rollback = backend.forward(accepted).logits
    with torch.no_grad():
        fresh = model(torch.tensor([prompt + rejected[:1] + accepted])).logits[0, -len(accepted):]
    assert torch.allclose(after_rollback, fresh, atol=1e-5)


def test_the_output_layer_reads_plain_strides_when_only_the_last_logits_are_asked():
    """A strided [1, 1, d] slice sends torch's matmul down a path that copies the whole head."""
    model = tiny_model(0)
    backend = TransformersBackend(model)
    TransformersBackend(model)  # a second backend on the model adds no second hook
    seen = []
    model.lm_head.register_forward_pre_hook(lambda module, args: seen.append(args[0].stride()))
    out = backend.forward([1, 2, 3, 4], last_only=True)
    assert seen == [(model.config.hidden_size, model.config.hidden_size, 1)]
    with torch.no_grad():
        assert torch.allclose(out.logits[0], model(torch.tensor([[1, 2, 3, 4]])).logits[0, -1], atol=1e-5)
    assert len(model.lm_head._forward_pre_hooks) == 2


def test_last_only_and_hidden_states():
    backend = TransformersBackend(tiny_model(0))
    out = backend.forward([1, 2, 3], last_only=True, hidden=True)
    assert out.logits.shape == (1, backend.vocab_size)
    assert out.hidden.shape == (3, backend.hidden_size)
    assert backend.clock.count == 1


def test_rollback_beyond_cache_is_refused():
    backend = TransformersBackend(tiny_model(0))
    backend.forward([1, 2])
    with pytest.raises(ValueError, match="cannot roll back"):
        backend.rollback(3)


def test_restricted_vocabulary_gives_the_same_logits_on_its_tokens():
    model = tiny_model(0)
    full, restricted = TransformersBackend(model), TransformersBackend(model)
    subset = torch.tensor([0, 3, 7, 100, 256])
    assert restricted.restrict_vocabulary(subset)
    expected = full.forward([5, 6, 7]).logits
    got = restricted.forward([5, 6, 7]).logits
    assert torch.allclose(got[:, subset], expected[:, subset], atol=1e-5)
    outside = torch.ones(got.shape[-1], dtype=torch.bool)
    outside[subset] = False
    assert torch.isinf(got[:, outside]).all()
    restricted.reset()  # a new sequence gets the full vocabulary back
    assert torch.allclose(restricted.forward([5]).logits, TransformersBackend(model).forward([5]).logits)
