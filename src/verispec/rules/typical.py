"""Typical acceptance (Medusa, Cai et al. 2024): keep tokens the verifier finds typical enough.

Keep ``x`` iff ``p(x) > min(ε, δ·exp(−H(p)))``, OR the exact test keeps it (so the verifier's own
token is never refused). Lossy. Medusa's defaults: ``ε = 0.09``, ``δ = 0.3``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from verispec.errors import ConfigError
from verispec.rules.base import Keep, VerificationRule, VerifyInput, exact_keep


@dataclass
class TypicalRule(VerificationRule):
    """Entropy-adaptive threshold on the verifier's probability of the drafted token."""

    epsilon: float = 0.09
    delta: float = 0.3
    name = "typical"

    def __post_init__(self) -> None:
        if not 0 < self.epsilon <= 1:
            raise ConfigError(f"typical: epsilon must be in (0, 1], got {self.epsilon}")
        if self.delta <= 0:
            raise ConfigError(f"typical: delta must be > 0, got {self.delta}")

    def keep(self, inp: VerifyInput) -> Keep:
        p = inp.target_probs[:-1]
        entropy = -(p * torch.log(p.clamp_min(1e-30))).sum(dim=-1)
        threshold = torch.clamp(self.delta * torch.exp(-entropy), max=self.epsilon)
        px = p.gather(-1, inp.draft_tokens.unsqueeze(-1)).squeeze(-1)
        return Keep(exact=exact_keep(inp), relaxed=px > threshold)
