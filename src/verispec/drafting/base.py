"""The drafter interface: propose up to γ tokens after the committed context, and own the schedule of γ."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from verispec.backends.base import ModelBackend
from verispec.schedule import CostAwareSchedule, DraftSchedule


@dataclass(frozen=True)
class Draft:
    """Proposed tokens ``[γ]`` and the draft logits each was chosen from ``[γ, V]``."""

    tokens: torch.Tensor
    logits: torch.Tensor

    @property
    def length(self) -> int:
        return int(self.tokens.shape[0])


class Drafter(ABC):
    """Proposes continuations of the committed context, and decides how long the next one may be.

    Like transformers' candidate generators, a drafter has two verbs: ``propose`` a draft, and
    ``update`` its draft length from what verification kept. ``backend`` is the model it runs
    (None for drafters without a model), so the engine can book its cost.
    """

    backend: ModelBackend | None = None
    # When set and false, rounds draft nothing for now (a crowded batch, where drafting does not pay).
    gate: Callable[[], bool] | None = None

    def __init__(self, schedule: DraftSchedule | CostAwareSchedule | None = None) -> None:
        self.schedule = schedule or DraftSchedule()
        self._gamma = self.schedule.first()

    def length(self) -> int:
        """How many tokens the next round should draft."""
        if self.gate is not None and not self.gate():
            return 0
        return self._gamma

    def update(self, proposed: int, accepted: int) -> None:
        """Adapt the draft length after verification kept ``accepted`` of ``proposed`` drafted tokens."""
        self._gamma = self.schedule.next(self._gamma, proposed, accepted)

    def reset(self, prompt: Sequence[int]) -> None:
        """Start a new sequence that begins with ``prompt``."""
        self._gamma = self.schedule.first()

    @abstractmethod
    def propose(self, context: Sequence[int], gamma: int, generator: torch.Generator | None) -> Draft:
        """Up to ``gamma`` tokens that follow ``context`` (fewer when drafting stops early)."""
