"""How many tokens to draft in the next round."""

from __future__ import annotations

from dataclasses import dataclass, field

from verispec.backends.base import ForwardClock
from verispec.costs import best_draft_length, verify_cost
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


@dataclass
class CostAwareSchedule:
    """Re-chooses the draft length every round for the most expected tokens per second.

    Costs come from the backends' clocks (``by_length``: seconds of a forward over k new tokens,
    measured as decoding runs), acceptance from the rounds so far: kept and rejected drafted
    tokens, each round's evidence weighing ``1 - decay`` against the past, over a uniform prior.
    The choice may be 0 (no draft); then after ``probe_every`` idle rounds one round drafts
    ``gamma`` tokens again, so that a text that starts to suit drafting (copying its prompt) is
    noticed. Probes cost (the idle drafter catches up, the verifier checks a long draft), so the
    wait doubles after each probe that does not bring drafting back (up to ``max_probe_wait``),
    and there is none where drafting would not gain ``probe_gain`` over decoding alone even at
    the acceptance of text that copies (``probe_alpha``): a draft model that costs too much next
    to verifying several tokens, as on llama.cpp on a CPU, is then never woken. (Testing at
    α = 1 is not enough: measured costs are noisy, and a gain of a few percent at perfect
    acceptance never pays back the probe.) Drafting resumes after idle rounds only for a gain of
    at least ``switch_gain``: the idle drafter must first catch up, and a noisy cost (another
    process on the CPU slowing single steps) should not flip the choice. Until the verifier's cost
    is measured it drafts ``base.gamma`` tokens.
    """

    base: DraftSchedule
    verifier: ForwardClock
    draft: ForwardClock | None = None
    decay: float = 0.9
    probe_every: int = 8
    max_probe_wait: int = 128
    probe_alpha: float = 0.95
    probe_gain: float = 0.1
    switch_gain: float = 0.05
    _kept: float = field(default=1.0, repr=False)
    _rejected: float = field(default=1.0, repr=False)
    _idle: int = field(default=0, repr=False)
    _probe_wait: int = field(default=0, repr=False)

    @property
    def acceptance(self) -> float:
        """The per-token acceptance rate α the rounds so far suggest."""
        return self._kept / (self._kept + self._rejected)

    def first(self) -> int:
        """A new sequence: acceptance starts afresh; costs, measured on the same models, carry over,
        so a sequence where drafting cannot pay does not open with a draft."""
        self._kept, self._rejected, self._idle, self._probe_wait = 1.0, 1.0, 0, self.probe_every
        draft_cost = self.draft.by_length.get(1) if self.draft is not None else 0.0
        if draft_cost is not None and self.verifier.by_length and not self._worth_probing(draft_cost):
            return 0
        return self.base.gamma

    def next(self, current: int, proposed: int, accepted: int) -> int:
        """Book a round that kept ``accepted`` of ``proposed`` drafted tokens; the next round's length."""
        if proposed:
            self._kept = self.decay * self._kept + accepted
            self._rejected = self.decay * self._rejected + (accepted < proposed)
            self._idle = 0
        else:
            self._idle += 1
        draft_cost = self.draft.by_length.get(1) if self.draft is not None else 0.0
        if draft_cost is None:
            return self.base.gamma
        best = best_draft_length(self.verifier.by_length, draft_cost, self.acceptance, self.base.max_gamma)
        if best is None:
            return self.base.gamma
        if best[0] > 0 and (proposed or best[1] >= (1 + self.switch_gain) * self._rate_alone()):
            self._probe_wait = self.probe_every
            return best[0]
        if self._idle >= self._probe_wait and self._worth_probing(draft_cost):
            self._idle = 0
            self._probe_wait = min(2 * self._probe_wait, self.max_probe_wait)
            return self.base.gamma
        return 0

    def _rate_alone(self) -> float:
        """Tokens per second of the verifier decoding alone, one token per forward."""
        return 1.0 / verify_cost(self.verifier.by_length, 1)

    def _worth_probing(self, draft_cost: float) -> bool:
        """Whether drafting at ``probe_alpha`` would beat decoding alone by ``probe_gain``."""
        best = best_draft_length(self.verifier.by_length, draft_cost, self.probe_alpha, self.base.max_gamma)
        alone = best_draft_length(self.verifier.by_length, draft_cost, self.probe_alpha, 0)
        return best is not None and alone is not None and best[1] >= (1 + self.probe_gain) * alone[1]
