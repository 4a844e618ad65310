"""Many sequences in one llama.cpp context: forks share a prefix, each sequence decodes as if alone."""

from __future__ import annotations

import pytest
import torch
from tiny_gguf import write_tiny_gguf

pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (`make llama-cpp`)")

from verispec.backends.llamacpp_backend import LlamaCppBackend  # noqa: E402
from verispec.backends.llamacpp_sequences import LlamaCppSequences  # noqa: E402
from verispec.backends.sequences import SequenceInput, greedy_tokens  # noqa: E402

PROMPT = [4, 9, 17, 5, 30, 12, 8]


@pytest.fixture(scope="module")
def backend(tmp_path_factory) -> LlamaCppBackend:
    made = LlamaCppBackend(write_tiny_gguf(tmp_path_factory.mktemp("seq") / "m.gguf", scale=0.5), n_threads=1)
    yield made
    made.close()


def alone(backend: LlamaCppBackend, tokens: list[int], steps: int) -> tuple[list[int], torch.Tensor]:
    """Greedy tokens after ``tokens`` and the first step's logits, on the one-sequence backend."""
    backend.clear_prefix_cache()
    logits = backend.forward(tokens, last_only=True).logits[-1]
    out = [int(logits.argmax())]
    while len(out) < steps:
        out.append(int(backend.forward([out[-1]], last_only=True).logits[-1].argmax()))
    return out, logits


def test_forked_sequences_decoded_together_match_each_alone(backend):
    sequences = LlamaCppSequences(backend, sequences=4, n_ctx=256, n_batch=64)
    sequences.decode([SequenceInput(0, PROMPT)])
    branches = {1: [20], 2: [21, 22], 3: [6]}
    for seq, first in branches.items():
        sequences.fork(0, seq, len(PROMPT) - 2 if seq == 3 else len(PROMPT))
    starts = {1: PROMPT + [20], 2: PROMPT + [21, 22], 3: PROMPT[:-2] + [6]}
    written = {seq: [] for seq in branches}
    outputs = sequences.decode([SequenceInput(seq, first) for seq, first in branches.items()])
    first_logits = {seq: out.logits[-1] for seq, out in zip(branches, outputs)}
    for _ in range(6):
        for seq, token in zip(branches, greedy_tokens(outputs)):
            written[seq].append(token)
        outputs = sequences.decode([SequenceInput(seq, [written[seq][-1]]) for seq in branches])
    for seq, start in starts.items():
        expected, logits = alone(backend, start, 6)
        assert written[seq] == expected
        torch.testing.assert_close(first_logits[seq], logits, atol=1e-3, rtol=1e-3)
        assert sequences.length(seq) == len(start) + 6
    assert sequences.length(0) == len(PROMPT)


def test_all_logits_hidden_states_and_truncation(backend):
    sequences = LlamaCppSequences(backend, sequences=2, n_ctx=128, n_batch=32)
    out = sequences.decode([SequenceInput(0, PROMPT, all_logits=True), SequenceInput(1, PROMPT[:3])], hidden=True)
    assert out[0].logits.shape == (len(PROMPT), backend.vocab_size) and out[1].logits.shape == (1, backend.vocab_size)
    assert out[0].hidden.shape == (len(PROMPT), backend.hidden_size) and out[1].hidden.shape == (3, backend.hidden_size)
    backend.clear_prefix_cache()
    reference = backend.forward(PROMPT, hidden=True)
    torch.testing.assert_close(out[0].logits, reference.logits, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(out[0].hidden, reference.hidden, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(out[1].logits[0], reference.logits[2], atol=1e-3, rtol=1e-3)
    sequences.truncate(0, 3)
    again = sequences.decode([SequenceInput(0, PROMPT[3:])])
    torch.testing.assert_close(again[0].logits[0], reference.logits[-1], atol=1e-3, rtol=1e-3)


def test_bad_inputs_are_refused_before_decoding(backend):
    sequences = LlamaCppSequences(backend, sequences=2, n_ctx=64, n_batch=8)
    with pytest.raises(ValueError, match="exceed the batch"):  # the checks of test_sequences.py apply
        sequences.decode([SequenceInput(0, [4]), SequenceInput(1, list(range(4, 12)))])
    with pytest.raises(ValueError, match="holds 0 positions"):
        sequences.fork(0, 1, 3)
    assert sequences.length(0) == sequences.length(1) == 0
