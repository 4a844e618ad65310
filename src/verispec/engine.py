"""The one round loop of every method: a strategy plays a round (draft, verify, decide), the loop commits.

A round strategy says what one round commits: standard draft-and-verify with a verification rule
(:class:`SpeculativeRounds`), one model decoding alone (:class:`SoloRounds`), or a collaborative
method's draft-and-review (``verispec.cosd``). The loop owns what every method shares: the token
budget, the end of text, the per-model cost of each round, and the round records that all
statistics are folded from.

Models sit in fixed seats, the same in every method: seat 0 is the draft, seat 1 the verifier
(CoSD's assistant 1), seats 2+ extra assistants. A token's author is its writer's seat.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import torch

from verispec.backends.base import ModelBackend
from verispec.drafting.base import Draft, Drafter
from verispec.provenance import Provenance
from verispec.rules.base import Verdict, VerificationRule, VerifyInput
from verispec.sampling import SamplingParams, choose

DRAFT_SEAT = 0
VERIFIER_SEAT = 1


@dataclass(frozen=True)
class RoundOutcome:
    """What a strategy's round commits, before the loop applies the budget and the end of text.

    ``authors[i]`` is the seat of the model that wrote ``tokens[i]``; ``proposed`` counts drafted
    tokens; ``ended`` says the round ended the text without an end token (an assistant chose to
    stop). ``exact_only[i]`` (rules with a relaxed test) marks kept drafted tokens that only the
    exact test kept; ``scores[i]`` is a scoring rule's score of token ``i`` (None: not scored), at
    a replaced token the score of the drafted token it replaced; ``stop_check`` names the check
    of the rule's relaxed test that rejected that drafted token (:meth:`Keep.failed_check`).
    """

    tokens: tuple[int, ...]
    provenance: tuple[Provenance, ...]
    authors: tuple[int, ...]
    proposed: int = 0
    ended: bool = False
    exact_only: tuple[bool, ...] | None = None
    scores: tuple[float | None, ...] | None = None
    stop_check: str | None = None


@dataclass(frozen=True)
class RoundRecord:
    """What one round committed and what it cost, per token and per model seat.

    ``forwards[s]`` and ``model_seconds[s]`` are seat ``s``'s forward passes and their time;
    ``seconds`` is the round's whole wall time. The prefill is its own record with no tokens.
    Every count of kept tokens is read from ``provenance``, so a record cut at EOS, at the budget
    or at a stop string stays consistent.
    """

    tokens: tuple[int, ...]
    provenance: tuple[Provenance, ...]
    authors: tuple[int, ...]
    proposed: int
    forwards: tuple[int, ...]
    model_seconds: tuple[float, ...]
    seconds: float
    is_prefill: bool = False
    ended: bool = False
    exact_only: tuple[bool, ...] | None = None
    scores: tuple[float | None, ...] | None = None
    stop_check: str | None = None  # as in RoundOutcome: what rejected the drafted token the last token replaced

    def __post_init__(self) -> None:
        if not len(self.tokens) == len(self.provenance) == len(self.authors):
            raise ValueError("a round record needs one provenance and one author per token")

    @property
    def accepted(self) -> int:
        """Drafted tokens this round committed."""
        return sum(p.accepted_draft for p in self.provenance)

    @property
    def draft_forwards(self) -> int:
        return self.forwards[DRAFT_SEAT] if self.forwards else 0

    @property
    def verifier_forwards(self) -> int:
        return sum(self.forwards[VERIFIER_SEAT:])

    @property
    def draft_seconds(self) -> float:
        return self.model_seconds[DRAFT_SEAT] if self.model_seconds else 0.0

    @property
    def verifier_seconds(self) -> float:
        return sum(self.model_seconds[VERIFIER_SEAT:])

    def truncated(self, keep: int) -> RoundRecord:
        """This round with only its first ``keep`` tokens committed (EOS, budget or stop string)."""
        exact_only = self.exact_only[:keep] if self.exact_only is not None else None
        scores = self.scores[:keep] if self.scores is not None else None
        stop_check = self.stop_check if keep == len(self.tokens) else None  # the replaced token was cut
        return replace(
            self, tokens=self.tokens[:keep], provenance=self.provenance[:keep], authors=self.authors[:keep],
            exact_only=exact_only, scores=scores, stop_check=stop_check,
        )


class RoundStrategy(ABC):
    """What one round of a method does; the :class:`Engine` runs it until the text ends.

    ``seats`` holds the models the strategy runs (None for an empty seat), so the loop can book
    each model's forward passes.
    """

    seats: tuple[ModelBackend | None, ...]

    @abstractmethod
    def room(self, prompt_length: int) -> int:
        """How many new tokens fit in every model's context after the prompt."""

    @abstractmethod
    def prefill(self, prompt: Sequence[int]) -> None:
        """Start a new sequence: read the prompt into the caches."""

    @abstractmethod
    def round(
        self, context: Sequence[int], budget: int, params: SamplingParams, generator: torch.Generator | None
    ) -> RoundOutcome:
        """Play one round after ``context`` (prompt and committed tokens); ``budget`` tokens are left."""


class Engine:
    """Runs a strategy's rounds until an end token, the end of text, the token budget or the context limit."""

    def __init__(self, strategy: RoundStrategy, *, eos_token_ids: frozenset[int] = frozenset()) -> None:
        self.strategy = strategy
        self.eos_token_ids = eos_token_ids

    def rounds(
        self,
        prompt: Sequence[int],
        *,
        max_new_tokens: int,
        params: SamplingParams,
        generator: torch.Generator | None = None,
    ) -> Iterator[RoundRecord]:
        """Yield the prefill record, then one record per round, until generation ends."""
        context = list(prompt)
        budget = min(max_new_tokens, self.strategy.room(len(context)))
        yield self._measured(lambda: self.strategy.prefill(context))
        while budget > 0:
            record = self._measured(lambda: self.strategy.round(context, budget, params, generator))
            keep = _committed_length(record.tokens, budget, self.eos_token_ids)
            record = record.truncated(keep) if keep < len(record.tokens) else record
            context.extend(record.tokens)
            budget -= len(record.tokens)
            ended = record.ended or any(t in self.eos_token_ids for t in record.tokens)
            yield replace(record, ended=ended)
            if ended or not record.tokens:
                return

    def _measured(self, play) -> RoundRecord:  # type: ignore[no-untyped-def]
        """Run one round (or the prefill, which returns None) and book what each seat spent on it."""
        start = time.perf_counter()
        seats = self.strategy.seats
        before = [(s.clock.count, s.clock.seconds) if s else (0, 0.0) for s in seats]
        outcome: RoundOutcome | None = play()
        after = [(s.clock.count, s.clock.seconds) if s else (0, 0.0) for s in seats]
        cost = dict(
            forwards=tuple(a[0] - b[0] for a, b in zip(after, before)),
            model_seconds=tuple(a[1] - b[1] for a, b in zip(after, before)),
            seconds=time.perf_counter() - start,
        )
        if outcome is None:
            return RoundRecord(tokens=(), provenance=(), authors=(), proposed=0, is_prefill=True, **cost)
        return RoundRecord(
            tokens=outcome.tokens, provenance=outcome.provenance, authors=outcome.authors, proposed=outcome.proposed,
            ended=outcome.ended, exact_only=outcome.exact_only, scores=outcome.scores, stop_check=outcome.stop_check,
            **cost,
        )


_NO_DRAFT = Draft(tokens=torch.empty(0, dtype=torch.long), logits=torch.empty(0, 0))


def _committed_length(tokens: Sequence[int], budget: int, eos: frozenset[int]) -> int:
    """How many of a round's tokens stay: up to the budget, and through the first end token."""
    for i, token in enumerate(tokens[:budget]):
        if token in eos:
            return i + 1
    return min(len(tokens), budget)


def _prefill(backend: ModelBackend, prompt: Sequence[int]) -> None:
    """Cache all prompt tokens but the last: each round feeds the newest committed token."""
    backend.reset()
    if len(prompt) > 1:
        backend.forward(list(prompt[:-1]), last_only=True)


class SoloRounds(RoundStrategy):
    """One model decodes alone, one token per round: the verifier (seat 1) or the draft (seat 0)."""

    def __init__(self, model: ModelBackend, *, seat: int = VERIFIER_SEAT) -> None:
        self.model = model
        self.seat = seat
        self.seats = tuple(model if s == seat else None for s in range(seat + 1))
        self.provenance = Provenance.VERIFIER if seat else Provenance.DRAFT

    def room(self, prompt_length: int) -> int:
        return self.model.max_context - prompt_length

    def prefill(self, prompt: Sequence[int]) -> None:
        _prefill(self.model, prompt)

    def round(
        self, context: Sequence[int], budget: int, params: SamplingParams, generator: torch.Generator | None
    ) -> RoundOutcome:
        logits = self.model.forward([context[-1]], last_only=True).logits[-1]
        return RoundOutcome((int(choose(logits, params, generator)),), (self.provenance,), (self.seat,))


class SpeculativeRounds(RoundStrategy):
    """Draft up to γ tokens, verify them all in one verifier pass, keep what the rule keeps, roll back.

    The drafter owns its draft length; a round drafts at most ``budget - 1`` tokens so that what
    it commits (the kept draft plus the verifier's token) fits the budget.
    """

    def __init__(self, verifier: ModelBackend, drafter: Drafter, rule: VerificationRule) -> None:
        self.verifier = verifier
        self.drafter = drafter
        self.rule = rule
        self.seats = (drafter.backend, verifier)

    def room(self, prompt_length: int) -> int:
        return self.verifier.max_context - prompt_length

    def prefill(self, prompt: Sequence[int]) -> None:
        _prefill(self.verifier, prompt)
        self.drafter.reset(prompt)

    def round(
        self, context: Sequence[int], budget: int, params: SamplingParams, generator: torch.Generator | None
    ) -> RoundOutcome:
        gamma = min(self.drafter.length(), budget - 1)
        draft = self.drafter.propose(context, gamma, generator) if gamma > 0 else _NO_DRAFT
        verdict = self._verify(context[-1], draft, params, generator)
        self.verifier.rollback(len(context) + verdict.n_accepted)
        self.drafter.update(draft.length, verdict.n_accepted)
        tokens = (*draft.tokens[: verdict.n_accepted].tolist(), verdict.next_token)
        authors = tuple(DRAFT_SEAT if p.accepted_draft else VERIFIER_SEAT for p in verdict.provenance)
        exact_only = None if verdict.exact_only is None else (*verdict.exact_only, False)
        # the verifier's own token carries the score of the drafted token it replaced (a bonus: none)
        scores = None if verdict.scores is None else (*verdict.scores, verdict.stop_score)
        return RoundOutcome(tokens, verdict.provenance, authors, draft.length, exact_only=exact_only, scores=scores,
                            stop_check=verdict.stop_check)

    def _verify(
        self, last_token: int, draft: Draft, params: SamplingParams, generator: torch.Generator | None
    ) -> Verdict:
        """One verifier pass over the newest committed token and the whole draft."""
        needs_hidden = self.rule.needs_hidden and draft.length > 0
        out = self.verifier.forward([last_token, *draft.tokens.tolist()], hidden=needs_hidden)
        if draft.length == 0:
            token = int(choose(out.logits[-1], params, generator))
            return Verdict(0, token, (Provenance.VERIFIER,))
        return self.rule.decide(
            VerifyInput(
                draft_tokens=draft.tokens,
                draft_logits=draft.logits,
                target_logits=out.logits,
                params=params,
                generator=generator,
                hidden=out.hidden[1:] if out.hidden is not None else None,
                context_hidden=out.hidden[:-1] if out.hidden is not None else None,
            )
        )
