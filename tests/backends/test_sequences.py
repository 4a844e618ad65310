"""What every multi-sequence model refuses before decoding: a sequence named twice, an overfull batch
or context."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch

from verispec.backends.base import ForwardOutput
from verispec.backends.sequences import SequenceInput, check_inputs, greedy_tokens


@dataclass
class Lengths:
    """Just what ``check_inputs`` reads of a sequence model."""

    sequences: int = 2
    n_batch: int = 8
    max_position: int = 12
    held: list[int] = field(default_factory=lambda: [0, 10])

    def length(self, seq: int) -> int:
        return self.held[seq]


@pytest.mark.parametrize(("inputs", "message"), [
    ([], "at least one input"),
    ([SequenceInput(0, [])], "at least one token"),
    ([SequenceInput(0, [4]), SequenceInput(0, [5])], "own sequence id in 0..1"),
    ([SequenceInput(2, [4])], "own sequence id in 0..1"),
    ([SequenceInput(0, list(range(9)))], "9 tokens exceed the batch of 8"),
    ([SequenceInput(1, [4, 5, 6])], "sequence 1 would pass the 12-token context"),
])
def test_bad_inputs_are_refused(inputs, message):
    with pytest.raises(ValueError, match=message):
        check_inputs(inputs, Lengths())  # type: ignore[arg-type]


def test_good_inputs_pass_and_greedy_tokens_read_the_last_row():
    check_inputs([SequenceInput(0, [1, 2]), SequenceInput(1, [3, 4])], Lengths())  # type: ignore[arg-type]
    outputs = [ForwardOutput(torch.tensor([[0.0, 9.0], [3.0, 1.0]])), ForwardOutput(torch.tensor([[0.0, 2.0]]))]
    assert greedy_tokens(outputs) == [0, 1]
