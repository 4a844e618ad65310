"""Judge Decoding (Bachmann et al., ICLR 2025): keep what the exact check keeps OR what the judge trusts.

The judge is a linear head on the verifier's hidden state at each drafted token, ``s = σ(w·h + b)``.
A drafted token is kept when the lossless test keeps it (greedy: it is the verifier's argmax;
sampling: ``u < p/q``) or when ``s ≥ θ``; the longest kept prefix is committed and, at the first
rejection, the verifier's token (the lossless replacement). The OR matters: the verifier's own
replacement would equal a draft token the exact check keeps, so rejecting it would gain nothing.
Tokens kept only by the judge carry ``relaxed`` provenance. ``θ > 1`` never trusts the judge (this is
standard speculative decoding); ``θ = 0`` keeps every drafted token.

A head with a familiarity gate (:mod:`verispec.judge.familiarity`) trusts itself only on hidden
states like its training ones; elsewhere the exact check alone decides (``gate=False`` turns it off).

The careful guard (``strict=θ'``) asks for a higher score θ' where the drafted token or the
verifier's own choice holds a digit or an operator (``strict_tokens``, a vocabulary mask): in math
and code a swapped number or sign is rarely harmless.

The look-ahead guard (``lookahead=True``) trusts the judge at a mismatch only when the verifier,
having read the drafted token, predicts the next drafted token itself: a swap the text recovers
from at once, not one that sends it elsewhere. It needs nothing beyond the verification pass; the
last drafted token has nothing to look ahead to and is left to the exact check.

The checks are named (``score``, ``strict``, ``lookahead``, ``gate``, in that order), so where a
round ends at a rejected drafted token its output records that token's score and the first check
it failed: whether the head doubted the token or a guard or the gate overruled it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from verispec.errors import ConfigError
from verispec.judge.head import JudgeHead
from verispec.rules.base import Keep, VerificationRule, VerifyInput, exact_keep


@dataclass(frozen=True)
class JudgeRule(VerificationRule):
    """The disjunctive judge rule: a pure function of the round's tensors and a loaded head.

    Built from method options alone it only describes itself (``threshold``); the method binds a
    head loaded for the running verifier (:meth:`with_head`). ``threshold`` left ``None`` takes
    the head's calibrated θ.
    """

    head: JudgeHead | None = None
    threshold: float | None = None
    lookahead: bool = False
    gate: bool = True
    strict: float | None = None
    strict_tokens: torch.Tensor | None = None  # [V] bool: tokens that need the strict score
    name = "judge"

    @property
    def needs_hidden(self) -> bool:  # type: ignore[override]
        """A head that reads only logit features, and has no gate, needs no hidden states (a cheaper pass)."""
        return self.head is None or self.head.reads_hidden or self._gated

    @property
    def _gated(self) -> bool:
        return self.gate and self.head is not None and self.head.familiarity is not None

    def __post_init__(self) -> None:
        if self.threshold is not None and not self.threshold >= 0:
            raise ConfigError(f"judge: threshold must be >= 0 (above 1 never trusts the judge), got {self.threshold}")

    def with_head(self, head: JudgeHead, strict_tokens: torch.Tensor | None = None) -> JudgeRule:
        """This rule reading ``head`` (its calibrated θ unless a threshold was given); ``strict_tokens``
        marks the vocabulary's digit and operator tokens for the careful guard."""
        threshold = head.meta.threshold if self.threshold is None else self.threshold
        if self.strict is not None and strict_tokens is None:
            raise ConfigError("judge: strict= needs the verifier's vocabulary to know its digits and operators")
        return replace(self, head=head, threshold=threshold, strict_tokens=strict_tokens)

    def keep(self, inp: VerifyInput) -> Keep:
        if self.head is None or self.threshold is None:
            raise ConfigError("the judge rule has no head: build it with Method.rule(RuleContext(verifier)) or JudgeRule(head=...)")
        if inp.hidden is None and self.needs_hidden:
            raise ConfigError("the judge rule needs the verifier's hidden states; run it on an Engine (needs_hidden)")
        scores = self.head.round_scores(inp.hidden, inp.target_logits[:-1], inp.draft_logits, inp.draft_tokens,
                                        inp.context_hidden)
        checks = [("score", scores >= self.threshold)]  # in float32, as θ was calibrated
        if self.strict is not None and self.strict_tokens is not None:
            checks.append(("strict", (scores >= self.strict) | ~self._careful(inp)))
        if self.lookahead:
            checks.append(("lookahead", _next_is_predicted(inp)))
        if self._gated:
            checks.append(("gate", self.head.familiar(inp.hidden)))
        judged = torch.stack([passed for _, passed in checks]).all(dim=0)
        return Keep(exact=exact_keep(inp), relaxed=judged, scores=scores, checks=tuple(checks))

    def _careful(self, inp: VerifyInput) -> torch.Tensor:
        """Per drafted position: the drafted token or the verifier's choice is a digit or operator token."""
        assert self.strict_tokens is not None
        mask = self.strict_tokens.to(inp.draft_tokens.device)
        size = mask.shape[0]
        drafted = inp.draft_tokens.clamp(max=size - 1)
        chosen = inp.target_logits[:-1].argmax(dim=-1).clamp(max=size - 1)
        return mask[drafted] | mask[chosen]


def _next_is_predicted(inp: VerifyInput) -> torch.Tensor:
    """Per drafted position: the verifier's next prediction (after reading the token) is the next drafted token."""
    following = inp.target_logits[1:-1].argmax(dim=-1) == inp.draft_tokens[1:]
    return torch.cat([following, following.new_zeros(1)])
