"""Many sequences of one transformers model in a padded batch: each decodes as if alone (fp32: ~1e-6)."""

from __future__ import annotations

import pytest
import torch
from tiny_models import tiny_model
from transformers import Qwen2Config, Qwen2ForCausalLM

from verispec.backends.sequences import SequenceInput, greedy_tokens
from verispec.backends.torch_sequences import TorchSequences
from verispec.backends.transformers_backend import TransformersBackend
from verispec.errors import ConfigError

PROMPT = [4, 9, 17, 5, 30, 12, 8]
CLOSE = {"atol": 1e-4, "rtol": 1e-4}


def sliding_model(attention: str = "sdpa") -> Qwen2ForCausalLM:
    """A tiny Qwen2 whose second layer sees a window of 4 tokens (as Gemma 3's and Mistral's do)."""
    torch.manual_seed(5)
    config = Qwen2Config(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, use_sliding_window=True, sliding_window=4, max_window_layers=1,
        attn_implementation=attention,
    )
    return Qwen2ForCausalLM(config).float().eval().requires_grad_(False)


def alone(model: torch.nn.Module, tokens: list[int], steps: int) -> tuple[list[int], torch.Tensor]:
    """Greedy tokens after ``tokens`` and the first step's logits, on the one-sequence backend."""
    backend = TransformersBackend(model)
    logits = backend.forward(tokens, last_only=True).logits[-1]
    out = [int(logits.argmax())]
    while len(out) < steps:
        out.append(int(backend.forward([out[-1]], last_only=True).logits[-1].argmax()))
    return out, logits


@pytest.mark.parametrize("model", [tiny_model(0), sliding_model(), sliding_model("eager")],
                         ids=["full", "sliding-window", "eager"])
def test_sequences_of_different_lengths_decoded_together_match_each_alone(model):
    sequences = TorchSequences(TransformersBackend(model), sequences=4, n_ctx=128, n_batch=64)
    sequences.decode([SequenceInput(0, PROMPT)])
    starts = {1: PROMPT + [20], 2: PROMPT + [21, 22], 3: PROMPT[:-2] + [6]}
    for seq, start in starts.items():
        sequences.fork(0, seq, len(PROMPT) if seq != 3 else len(PROMPT) - 2)
    written: dict[int, list[int]] = {seq: [] for seq in starts}
    outputs = sequences.decode([SequenceInput(seq, start[sequences.length(seq):]) for seq, start in starts.items()])
    first_logits = {seq: out.logits[-1] for seq, out in zip(starts, outputs, strict=True)}
    for _ in range(8):  # past the window of 4
        for seq, token in zip(starts, greedy_tokens(outputs), strict=True):
            written[seq].append(token)
        outputs = sequences.decode([SequenceInput(seq, [written[seq][-1]]) for seq in starts])
    for seq, start in starts.items():
        expected, logits = alone(model, start, 8)
        assert written[seq] == expected
        torch.testing.assert_close(first_logits[seq], logits, **CLOSE)
        assert sequences.length(seq) == len(start) + 8
    assert sequences.length(0) == len(PROMPT)


def test_all_logits_hidden_states_rollback_and_a_prompt_beside_steps():
    backend = TransformersBackend(tiny_model(0))
    sequences = TorchSequences(backend, sequences=3, n_ctx=128, n_batch=128)
    long_prompt = list(range(30, 90))
    out = sequences.decode([SequenceInput(0, PROMPT, all_logits=True), SequenceInput(1, PROMPT[:3]),
                            SequenceInput(2, long_prompt)], hidden=True)
    assert out[0].logits.shape == (len(PROMPT), backend.vocab_size) and out[1].logits.shape == (1, backend.vocab_size)
    assert out[0].hidden.shape == (len(PROMPT), backend.hidden_size) and out[1].hidden.shape == (3, backend.hidden_size)
    reference = TransformersBackend(backend.model).forward(PROMPT, hidden=True)
    torch.testing.assert_close(out[0].logits, reference.logits, **CLOSE)
    torch.testing.assert_close(out[0].hidden, reference.hidden, **CLOSE)
    torch.testing.assert_close(out[1].logits[0], reference.logits[2], **CLOSE)
    lone = TransformersBackend(backend.model).forward(long_prompt, last_only=True)
    torch.testing.assert_close(out[2].logits, lone.logits, **CLOSE)
    sequences.truncate(0, 3)  # a rejected draft: what lies beyond is masked, then overwritten
    again = sequences.decode([SequenceInput(0, PROMPT[3:]), SequenceInput(2, [5])])
    torch.testing.assert_close(again[0].logits[0], reference.logits[-1], **CLOSE)


def test_bad_inputs_and_unbatchable_models_are_refused():
    model = tiny_model(0)
    sequences = TorchSequences(TransformersBackend(model), sequences=2, n_ctx=64, n_batch=8)
    with pytest.raises(ValueError, match="exceed the batch"):  # the checks of test_sequences.py apply
        sequences.decode([SequenceInput(0, [4]), SequenceInput(1, list(range(4, 12)))])
    with pytest.raises(ValueError, match="holds 0 positions"):
        sequences.fork(0, 1, 3)
    assert sequences.length(0) == sequences.length(1) == 0
    chunked = TransformersBackend(tiny_model(0))
    chunked.model.config.layer_types = ["full_attention", "chunked_attention"]  # as Llama 4's
    with pytest.raises(ConfigError, match="sdpa or eager attention over full or sliding-window layers"):
        TorchSequences(chunked)
