"""Standard speculative decoding (Leviathan et al. 2023; Chen et al. 2023): lossless verification.

Greedy: keep ``x_i`` iff it is the verifier's argmax; the output equals verifier-only greedy decoding.
Sampling: keep with probability ``min(1, p(x)/q(x))``, replace from ``normalize(max(0, p − q))``;
the output follows the verifier's (warped) distribution exactly.
"""

from __future__ import annotations

from verispec.rules.base import Keep, VerificationRule, VerifyInput, exact_keep


class ExactRule(VerificationRule):
    """The lossless rule of standard speculative decoding."""

    name = "sd"
    lossless = True

    def keep(self, inp: VerifyInput) -> Keep:
        return Keep(exact=exact_keep(inp))
