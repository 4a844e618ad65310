"""The round loop shared by every method: draft, verify in one pass, decide, commit, roll back."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import torch

from verispec.backends.base import ModelBackend
from verispec.drafting.base import Draft, Drafter
from verispec.provenance import Provenance
from verispec.rules.base import Verdict, VerificationRule, VerifyInput
from verispec.sampling import SamplingParams, choose
from verispec.schedule import DraftSchedule


@dataclass(frozen=True)
class RoundRecord:
    """What one round committed and what it cost.

    ``verifier_forwards`` is 1 for every decoding round (the prefill is its own record with 0
    tokens); ``seconds`` is the round's whole wall time, forward passes and bookkeeping.
    ``exact_only`` is the verdict's count of kept tokens that only the exact test kept.
    """

    tokens: tuple[int, ...]
    provenance: tuple[Provenance, ...]
    proposed: int
    accepted: int
    draft_forwards: int
    draft_seconds: float
    verifier_forwards: int
    verifier_seconds: float
    seconds: float
    is_prefill: bool = False
    exact_only: int | None = None


class Engine:
    """Runs rounds until EOS, the token budget or the context limit.

    With no drafter the verifier decodes alone, one token per round, and its tokens carry
    ``solo`` provenance (``VERIFIER``, or ``DRAFT`` when the "verifier" is the draft model).
    """

    def __init__(
        self,
        verifier: ModelBackend,
        *,
        drafter: Drafter | None = None,
        rule: VerificationRule | None = None,
        eos_token_ids: frozenset[int] = frozenset(),
        solo: Provenance = Provenance.VERIFIER,
        needs_hidden: bool = False,
    ) -> None:
        if (drafter is None) != (rule is None):
            raise ValueError("a drafter needs a verification rule and a rule needs a drafter")
        self.verifier = verifier
        self.drafter = drafter
        self.rule = rule
        self.eos_token_ids = eos_token_ids
        self.solo = solo
        self.needs_hidden = needs_hidden or bool(rule and rule.needs_hidden)

    def rounds(
        self,
        prompt: Sequence[int],
        *,
        max_new_tokens: int,
        params: SamplingParams,
        schedule: DraftSchedule,
        generator: torch.Generator | None = None,
    ) -> Iterator[RoundRecord]:
        """Yield the prefill record, then one record per round, until generation ends."""
        context = list(prompt)
        budget = min(max_new_tokens, self.verifier.max_context - len(context))
        yield self._attributed(self._prefill(context))
        gamma = schedule.first()
        while budget > 0:
            record = self._attributed(self._round(context, min(gamma, budget - 1), params, generator))
            tokens = _cut_after_eos(record.tokens, self.eos_token_ids)
            context.extend(tokens)
            budget -= len(tokens)
            yield record if len(tokens) == len(record.tokens) else _truncated(record, len(tokens))
            if len(tokens) < len(record.tokens) or tokens[-1] in self.eos_token_ids:
                return
            gamma = schedule.next(gamma, record.proposed, record.accepted) if record.proposed else gamma

    def _prefill(self, context: list[int]) -> RoundRecord:
        """Cache all prompt tokens but the last: each round feeds the newest committed token."""
        start = time.perf_counter()
        self.verifier.reset()
        if self.drafter:
            self.drafter.reset(context)
        clock = self.verifier.clock
        before = (clock.count, clock.seconds)
        if len(context) > 1:
            self.verifier.forward(context[:-1], last_only=True)
        return RoundRecord(
            tokens=(), provenance=(), proposed=0, accepted=0, draft_forwards=0, draft_seconds=0.0,
            verifier_forwards=clock.count - before[0], verifier_seconds=clock.seconds - before[1],
            seconds=time.perf_counter() - start, is_prefill=True,
        )

    def _round(
        self, context: list[int], gamma: int, params: SamplingParams, generator: torch.Generator | None
    ) -> RoundRecord:
        start = time.perf_counter()
        draft_clock, verify_clock = self._clocks()
        draft = self._draft(context, gamma, generator)
        verdict = self._verify(context[-1], draft, params, generator)
        self.verifier.rollback(len(context) + verdict.n_accepted)
        tokens = (*draft.tokens[: verdict.n_accepted].tolist(), verdict.next_token)
        draft_after, verify_after = self._clocks()
        return RoundRecord(
            tokens=tokens,
            provenance=verdict.provenance,
            proposed=draft.length,
            accepted=verdict.n_accepted,
            draft_forwards=draft_after[0] - draft_clock[0],
            draft_seconds=draft_after[1] - draft_clock[1],
            verifier_forwards=verify_after[0] - verify_clock[0],
            verifier_seconds=verify_after[1] - verify_clock[1],
            seconds=time.perf_counter() - start,
            exact_only=verdict.exact_only,
        )

    def _draft(self, context: list[int], gamma: int, generator: torch.Generator | None) -> Draft:
        if self.drafter is None or gamma < 1:
            return _EMPTY_DRAFT
        return self.drafter.propose(context, gamma, generator)

    def _verify(
        self, last_token: int, draft: Draft, params: SamplingParams, generator: torch.Generator | None
    ) -> Verdict:
        """One verifier pass over the newest committed token and the whole draft."""
        out = self.verifier.forward([last_token, *draft.tokens.tolist()], hidden=self.needs_hidden)
        if draft.length == 0:
            token = int(choose(out.logits[-1], params, generator))
            return Verdict(0, token, (self.solo,))
        assert self.rule is not None
        hidden = out.hidden[1:] if out.hidden is not None else None
        return self.rule.decide(
            VerifyInput(
                draft_tokens=draft.tokens,
                draft_logits=draft.logits,
                target_logits=out.logits,
                params=params,
                generator=generator,
                hidden=hidden,
            )
        )

    def _attributed(self, record: RoundRecord) -> RoundRecord:
        """Book the work of a draft model decoding alone (in the verifier's seat) as draft work."""
        if self.drafter is not None or self.solo is not Provenance.DRAFT:
            return record
        return replace(
            record, draft_forwards=record.verifier_forwards, draft_seconds=record.verifier_seconds,
            verifier_forwards=0, verifier_seconds=0.0,
        )

    def _clocks(self) -> tuple[tuple[int, float], tuple[int, float]]:
        draft_backend = getattr(self.drafter, "backend", None)
        draft = (draft_backend.clock.count, draft_backend.clock.seconds) if draft_backend else (0, 0.0)
        verify = (self.verifier.clock.count, self.verifier.clock.seconds)
        return draft, verify


_EMPTY_DRAFT = Draft(tokens=torch.empty(0, dtype=torch.long), logits=torch.empty(0, 0))


def _cut_after_eos(tokens: tuple[int, ...], eos: frozenset[int]) -> tuple[int, ...]:
    for i, token in enumerate(tokens):
        if token in eos:
            return tokens[: i + 1]
    return tokens


def _truncated(record: RoundRecord, keep: int) -> RoundRecord:
    """The record of a round whose commit ended early at EOS."""
    return replace(record, tokens=record.tokens[:keep], provenance=record.provenance[:keep])
