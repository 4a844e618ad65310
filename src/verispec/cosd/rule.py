"""Verifiers decide at each slot whose token to keep; the rule-based one is CoSD's ``α``/``β`` rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from verispec.cosd.features import Slot
from verispec.errors import ConfigError


class Verifier(Protocol):
    """Picks the writer at one slot: 0 keeps the draft's token, ``k >= 1`` takes assistant ``k``'s top token.

    Picking an assistant that agrees with the draft keeps the draft's token too.
    """

    def choose(self, slot: Slot) -> int: ...

    def label(self) -> str:
        """The method's name with its options, for results files."""
        ...


@dataclass(frozen=True)
class RuleVerifier:
    """CoSD's rule: replace the drafted token ``x`` by an assistant's top token ``y`` iff
    ``y != x``, ``q(x) < α`` and ``p(y) > β · q(x)``.

    With several assistants the most confident qualifying one wins (largest ``p(y)``; the first on a tie).
    """

    alpha: float = 0.5
    beta: float = 0.5

    def __post_init__(self) -> None:
        for name, value in (("alpha", self.alpha), ("beta", self.beta)):
            if not 0 < value <= 1:
                raise ConfigError(
                    f"cosd-rule: {name} must be in (0, 1], got {value}; the paper's default is 0.5 "
                    "(smaller alpha replaces less often, smaller beta lets less confident assistants replace)"
                )

    def choose(self, slot: Slot) -> int:
        if slot.draft_prob >= self.alpha:
            return 0
        qualifying = [
            (review.top_prob, -k)  # on equal confidence the first assistant wins
            for k, review in enumerate(slot.reviews, start=1)
            if review is not None and not review.agrees and review.top_prob > self.beta * slot.draft_prob
        ]
        return -max(qualifying)[1] if qualifying else 0

    def label(self) -> str:
        return f"cosd-rule:alpha={self.alpha},beta={self.beta}"
