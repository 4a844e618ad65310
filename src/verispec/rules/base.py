"""The verification-rule interface: a pure function from one round's tensors to a verdict.

A rule never touches a model. It receives the drafted tokens with the draft's logits and the
verifier's logits (one row per drafted token plus one for the bonus position), and decides how many
drafted tokens to keep and which token the verifier commits after them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import torch

from verispec.provenance import Provenance
from verispec.sampling import SamplingParams, sample, warp_probs


@dataclass(frozen=True)
class VerifyInput:
    """Everything a rule may look at for one round.

    ``target_logits[i]`` is the verifier's prediction for the position of ``draft_tokens[i]``;
    the last row (index γ) predicts the bonus token. ``hidden[i]`` is the verifier's last hidden
    state after reading ``draft_tokens[i]``, ``context_hidden[i]`` the one that predicted it.
    """

    draft_tokens: torch.Tensor
    draft_logits: torch.Tensor
    target_logits: torch.Tensor
    params: SamplingParams
    generator: torch.Generator | None = None
    hidden: torch.Tensor | None = None
    context_hidden: torch.Tensor | None = None

    @property
    def gamma(self) -> int:
        return int(self.draft_tokens.shape[0])

    @cached_property
    def target_probs(self) -> torch.Tensor:
        """Warped verifier distributions, ``[γ+1, V]``."""
        return warp_probs(self.target_logits, self.params)

    @cached_property
    def draft_probs(self) -> torch.Tensor:
        """Warped draft distributions, ``[γ, V]`` (the distributions the draft sampled from)."""
        return warp_probs(self.draft_logits, self.params)

    def uniforms(self) -> torch.Tensor:
        """One uniform draw per drafted position, from the round's generator."""
        return torch.rand(self.gamma, generator=self.generator, device=self.draft_tokens.device)


@dataclass(frozen=True)
class Verdict:
    """How a round ends: ``n_accepted`` drafted tokens kept, then ``next_token`` from the verifier.

    ``exact_only[i]`` marks kept token ``i`` when the rule's own relaxed test would have rejected it
    (only the exact test kept it); None for rules with no test besides the exact one. ``scores[i]``
    is the rule's score of kept token ``i`` (the judge's), None for rules that score nothing.
    Where the rule rejected a drafted token, ``stop_score`` is its score and ``stop_check`` the
    first of the relaxed test's checks it failed (:attr:`Keep.checks`); None otherwise.
    """

    n_accepted: int
    next_token: int
    provenance: tuple[Provenance, ...]
    exact_only: tuple[bool, ...] | None = None
    scores: tuple[float, ...] | None = None
    stop_score: float | None = None
    stop_check: str | None = None

    @property
    def tokens_committed(self) -> int:
        return self.n_accepted + 1


@dataclass(frozen=True)
class Keep:
    """Per drafted position: kept by the exact (lossless) test, and by the rule's own relaxed test
    (None: the rule has none). A rule keeps what either test keeps. ``scores``: what the relaxed
    test compared with its threshold (recorded with the output), if it scores. ``checks``: the
    named masks whose AND is ``relaxed``, in the order the rule applies them, so a rejection can
    say which check stopped it (the judge: its score, then its guards, then its familiarity gate)."""

    exact: torch.Tensor
    relaxed: torch.Tensor | None = None
    scores: torch.Tensor | None = None
    checks: tuple[tuple[str, torch.Tensor], ...] = ()

    def failed_check(self, position: int) -> str | None:
        """The first check that rejected the drafted token at ``position`` (None: none did, or none named)."""
        return next((name for name, passed in self.checks if not bool(passed[position])), None)

    @property
    def overall(self) -> torch.Tensor:
        return self.exact if self.relaxed is None else self.exact | self.relaxed


class VerificationRule(ABC):
    """Decides, position by position, which drafted tokens survive.

    Subclasses say which positions they keep (``keep``) and may override how the verifier's
    replacement token is chosen at the first rejected position (``replacement``).
    """

    name: ClassVar[str]
    lossless: ClassVar[bool] = False
    needs_hidden: ClassVar[bool] = False

    def decide(self, inp: VerifyInput) -> Verdict:
        """Keep the longest prefix the rule accepts; commit the verifier's token after it."""
        keep = self.keep(inp)
        n = _leading_true(keep.overall)
        kept = [Provenance.EXACT if bool(e) else Provenance.RELAXED for e in keep.exact[:n].tolist()]
        exact_only = None if keep.relaxed is None else tuple((keep.exact[:n] & ~keep.relaxed[:n]).tolist())
        scores = None if keep.scores is None else tuple(float(s) for s in keep.scores[:n].tolist())
        if n < inp.gamma:
            stop_score = None if keep.scores is None else float(keep.scores[n])
            return Verdict(n, self.replacement(inp, n), (*kept, Provenance.REPLACED), exact_only, scores,
                           stop_score=stop_score, stop_check=keep.failed_check(n))
        return Verdict(n, self.bonus(inp), (*kept, Provenance.BONUS), exact_only, scores)

    @abstractmethod
    def keep(self, inp: VerifyInput) -> Keep:
        """Boolean masks of shape ``[γ]``."""

    def replacement(self, inp: VerifyInput, position: int) -> int:
        """The verifier's token at the first rejected position (lossless residual when sampling)."""
        if inp.params.greedy:
            return int(inp.target_logits[position].argmax())
        p = inp.target_probs[position]
        q = inp.draft_probs[position]
        return residual_sample(p, q, inp.generator)

    def bonus(self, inp: VerifyInput) -> int:
        """The verifier's token after a fully kept draft."""
        if inp.params.greedy:
            return int(inp.target_logits[-1].argmax())
        return int(sample(inp.target_probs[-1], inp.generator))


def exact_keep(inp: VerifyInput, uniforms: torch.Tensor | None = None) -> torch.Tensor:
    """The lossless test: greedy ``x == argmax p``; sampling ``u < p(x) / q(x)``."""
    if inp.params.greedy:
        return inp.draft_tokens == inp.target_logits[:-1].argmax(dim=-1)
    u = inp.uniforms() if uniforms is None else uniforms
    px, qx = gather_token_probs(inp)
    # u < min(1, p/q)  ⇔  u·q < p  (q > 0 because x was sampled from q)
    return u * qx < px


def gather_token_probs(inp: VerifyInput) -> tuple[torch.Tensor, torch.Tensor]:
    """``p_i(x_i)`` and ``q_i(x_i)`` for every drafted token, from the warped distributions."""
    index = inp.draft_tokens.unsqueeze(-1)
    px = inp.target_probs[:-1].gather(-1, index).squeeze(-1)
    qx = inp.draft_probs.gather(-1, index).squeeze(-1)
    return px, qx


def residual_distribution(p: torch.Tensor, q: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``normalize(max(0, p − scale·q))``; ``p`` itself when the residual is empty (q covers p)."""
    residual = torch.clamp(p - scale * q, min=0.0)
    total = residual.sum()
    return residual / total if total > 0 else p


def residual_sample(p: torch.Tensor, q: torch.Tensor, generator: torch.Generator | None, scale: float = 1.0) -> int:
    """One token from :func:`residual_distribution`."""
    return int(sample(residual_distribution(p, q, scale), generator))


def _leading_true(mask: torch.Tensor) -> int:
    """Length of the run of ``True`` at the start of a 1-D boolean tensor."""
    return int(torch.cumprod(mask.to(torch.int64), dim=0).sum())
