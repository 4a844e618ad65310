"""What a model that decodes many sequences at once offers: llama.cpp's and torch's versions alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from verispec.backends.base import ForwardClock, ForwardOutput, ModelBackend


@dataclass(frozen=True)
class SequenceInput:
    """New ``tokens`` for sequence ``seq``; ``all_logits``: every position's logits, else the last one's."""

    seq: int
    tokens: Sequence[int]
    all_logits: bool = False


class SequenceModel(Protocol):
    """Up to ``sequences`` sequences of one model (``backend``'s weights), advanced by one call.

    ``n_batch`` bounds the tokens of one :meth:`decode`; no sequence grows past ``max_position``.
    """

    backend: ModelBackend
    sequences: int
    n_batch: int
    max_position: int
    vocab_size: int
    clock: ForwardClock

    def length(self, seq: int) -> int:
        """How many positions sequence ``seq`` holds."""

    def decode(self, inputs: Sequence[SequenceInput], *, hidden: bool = False) -> list[ForwardOutput]:
        """Append every input's tokens to its sequence; per input its logits (``[k, V]`` or ``[1, V]``)
        and with ``hidden`` the last-layer hidden states of its new positions."""

    def fork(self, source: int, target: int, length: int) -> None:
        """Sequence ``target`` becomes the first ``length`` positions of ``source``."""

    def truncate(self, seq: int, length: int) -> None:
        """Keep the first ``length`` positions of ``seq`` (0 frees it)."""

    def close(self) -> None:
        """Free what the sequences hold (the weights belong to the backend)."""


def check_inputs(inputs: Sequence[SequenceInput], model: SequenceModel) -> None:
    """Refuse, before any work, a decode that names a sequence twice, overflows a batch or a context."""
    if not inputs or any(not i.tokens for i in inputs):
        raise ValueError("decode needs at least one input, each with at least one token")
    seqs = [i.seq for i in inputs]
    if len(set(seqs)) != len(seqs) or not all(0 <= s < model.sequences for s in seqs):
        raise ValueError(f"each input needs its own sequence id in 0..{model.sequences - 1}, got {seqs}")
    total = sum(len(i.tokens) for i in inputs)
    if total > model.n_batch:
        raise ValueError(f"{total} tokens exceed the batch of {model.n_batch}; decode them in parts")
    for item in inputs:
        if model.length(item.seq) + len(item.tokens) > model.max_position:
            raise ValueError(f"sequence {item.seq} would pass the {model.max_position}-token context")


def greedy_tokens(outputs: Sequence[ForwardOutput]) -> list[int]:
    """The argmax of each output's last logits row."""
    return torch.stack([o.logits[-1] for o in outputs]).argmax(dim=-1).tolist()
