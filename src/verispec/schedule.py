"""How many tokens to draft in the next round."""

from __future__ import annotations

from dataclasses import dataclass

from verispec.errors import ConfigError

# The one default draft length. Measured with `verispec bench` on the Qwen 0.5B -> 1.5B pair on a
# 2-core CPU without AMX, where verifying k tokens costs more than one (1.5B: ~200 ms for 1, ~290 ms
# for 8 tokens): short drafts won there (see docs/lossless.md).
DEFAULT_GAMMA = 5


@dataclass(frozen=True)
class DraftSchedule:
    """Fixed ``gamma``, or adaptive: grow by ``grow`` after a fully kept draft, shrink by ``shrink``
    after a rejection, within ``[min_gamma, max_gamma]`` (the heuristic of HF assisted generation).
    """

    gamma: int = DEFAULT_GAMMA
    adaptive: bool = False
    min_gamma: int = 1
    max_gamma: int = 32
    grow: int = 2
    shrink: int = 1

    def __post_init__(self) -> None:
        if self.gamma < 1:
            raise ConfigError(f"gamma (draft length) must be >= 1, got {self.gamma}")
        if not 1 <= self.min_gamma <= self.max_gamma:
            raise ConfigError(f"need 1 <= min_gamma <= max_gamma, got {self.min_gamma} and {self.max_gamma}")
        if self.adaptive and self.gamma > self.max_gamma:
            raise ConfigError(f"adaptive drafting starts at gamma={self.gamma}, above max_gamma={self.max_gamma}; raise max_gamma")

    def first(self) -> int:
        return self.gamma

    def next(self, current: int, proposed: int, accepted: int) -> int:
        """The draft length after a round that proposed ``proposed`` and kept ``accepted``."""
        if not self.adaptive:
            return current
        if accepted < proposed:
            return max(self.min_gamma, current - self.shrink)
        if proposed == current:
            return min(self.max_gamma, current + self.grow)
        return current  # drafting stopped early on low confidence and all of it was kept
