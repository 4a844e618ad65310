"""The model-backend interface: a causal LM with a KV cache that can grow by k tokens and roll back."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class ForwardOutput:
    """Logits for the requested positions (``[k, V]``) and, on request, last-layer hidden states."""

    logits: torch.Tensor
    hidden: torch.Tensor | None = None


@dataclass
class ForwardClock:
    """Counts forward passes and the wall time spent inside them.

    ``by_length[k]`` is a running average of the seconds one forward over ``k`` new tokens takes
    on this model and machine: what a cost-aware draft schedule weighs (verifying k tokens is not
    free on a CPU). Each new measurement weighs ``recent`` against what was seen before.
    """

    count: int = 0
    seconds: float = 0.0
    by_length: dict[int, float] = field(default_factory=dict)
    recent: float = field(default=0.3, repr=False)
    _synchronize: bool = field(default=False, repr=False)

    @contextmanager
    def measure(self, tokens: int = 0) -> Iterator[None]:
        start = time.perf_counter()
        yield
        if self._synchronize:
            torch.cuda.synchronize()
        self.add(time.perf_counter() - start, tokens)

    def add(self, seconds: float, tokens: int = 0) -> None:
        """Book one forward pass over ``tokens`` new tokens that took ``seconds``."""
        self.seconds += seconds
        self.count += 1
        if tokens:
            before = self.by_length.get(tokens)
            self.by_length[tokens] = seconds if before is None else before + self.recent * (seconds - before)


@dataclass(frozen=True)
class ModelIdentity:
    """Which model a backend runs, as far as anything trained on its outputs must know.

    ``name`` is the model as verispec names it (registry name, local path or hub id); ``layers``
    counts its decoder layers (the hidden states a backend returns come after the last one).
    """

    name: str
    vocab_size: int
    hidden_size: int
    layers: int


class ModelBackend(ABC):
    """A causal language model plus its KV cache, driven a few tokens at a time.

    ``cached_length`` tokens are in the cache. ``forward`` appends tokens and returns their logits;
    ``rollback`` drops cached tokens from the end so that a rejected draft is never recomputed.
    """

    name: str
    vocab_size: int
    max_context: int
    device: torch.device
    clock: ForwardClock

    @property
    @abstractmethod
    def cached_length(self) -> int:
        """Number of tokens whose keys and values are cached."""

    @abstractmethod
    def forward(self, tokens: Sequence[int], *, last_only: bool = False, hidden: bool = False) -> ForwardOutput:
        """Append ``tokens`` to the cache; logits of every new position, or only the last one."""

    @abstractmethod
    def rollback(self, length: int) -> None:
        """Keep only the first ``length`` cached tokens."""

    @abstractmethod
    def reset(self) -> None:
        """Empty the cache (a new sequence starts)."""

    @property
    @abstractmethod
    def hidden_size(self) -> int:
        """Width of the last-layer hidden states ``forward(..., hidden=True)`` returns."""

    @abstractmethod
    def identity(self) -> ModelIdentity:
        """The model's name and shape, for checking a judge head or a classifier trained on it."""

    def clear_prefix_cache(self) -> None:
        """Forget what ``reset`` keeps for the next prompt to reuse, if this backend keeps anything
        (llama.cpp's prefix cache); a benchmark calls it so that every run starts cold."""

    def precision(self) -> str:
        """How the numbers are computed (``"torch.bfloat16"``, ``"gguf:<file>"``): features extracted
        under one precision are not those of another. Backends say; the default names the class."""
        return type(self).__name__

    def restrict_vocabulary(self, token_ids: torch.Tensor | None) -> bool:
        """Compute logits only for ``token_ids`` (the rest read -inf); ``None`` restores the full output.

        Returns whether the backend did it. A backend that cannot (the default) keeps full logits,
        which is always correct: restricting only saves time.
        """
        return token_ids is None
