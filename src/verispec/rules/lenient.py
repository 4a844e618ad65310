"""Lenient acceptance (Leviathan et al. 2023, appendix): a lossy relaxation with factor ``l``.

Keep with probability ``min(1, p(x) / (l·q(x)))``; on rejection sample from
``normalize(max(0, p − l·q))``. ``l = 1`` is the lossless rule. With greedy decoding the test reads
the untempered softmax of both models and the replacement is the verifier's argmax.
"""

from __future__ import annotations

from dataclasses import dataclass

from verispec.errors import ConfigError
from verispec.rules.base import Keep, VerificationRule, VerifyInput, exact_keep, gather_token_probs, residual_sample


@dataclass
class LenientRule(VerificationRule):
    """Keep ``x`` when ``u·l·q(x) < p(x)``; tokens the lossless test keeps too count as exact."""

    leniency: float = 0.5
    name = "lenient"

    def __post_init__(self) -> None:
        if not 0 < self.leniency <= 1:
            raise ConfigError(f"lenient: l must be in (0, 1] (1 = lossless), got {self.leniency}")

    def keep(self, inp: VerifyInput) -> Keep:
        u = inp.uniforms()
        px, qx = gather_token_probs(inp)
        lenient = u * self.leniency * qx < px
        exact = exact_keep(inp, u)
        return Keep(exact=exact, relaxed=lenient)

    def replacement(self, inp: VerifyInput, position: int) -> int:
        if inp.params.greedy:
            return super().replacement(inp, position)
        p = inp.target_probs[position]
        q = inp.draft_probs[position]
        return residual_sample(p, q, inp.generator, scale=self.leniency)
