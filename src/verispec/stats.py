"""Statistics of one generation, all derived from round records and token provenance."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from verispec.engine import RoundRecord
from verispec.provenance import Provenance


@dataclass(frozen=True)
class GenerationStats:
    """Speed and acceptance numbers of one generation, folded from its committed round records.

    ``mean_accepted_length`` is committed tokens per round, and a round is one verification pass
    (Spec-Bench's τ: tokens per verifier forward for speculative methods, 1 for one model alone).
    ``acceptance_rate`` is kept drafted tokens / proposed drafted tokens (None without drafts).
    ``accepted_histogram[n]`` counts drafting rounds that kept exactly ``n`` drafted tokens.
    ``exact_only`` counts kept drafted tokens that a relaxed rule's own test (judge, lenient, typical)
    would have rejected; None for rules without such a test. ``relaxed_histogram[n]`` counts drafting
    rounds where the relaxed test alone (the judge) kept exactly ``n`` tokens. ``stopped_by[c]`` counts
    the rounds whose rejected drafted token failed check ``c`` first (the judge: ``score``, a guard,
    ``gate``); empty for rules without named checks. ``model_forwards[s]`` and
    ``model_seconds[s]`` are per engine seat (0 the draft, 1 the verifier, 2+ extra assistants).
    Times are wall-clock seconds; ``total_seconds`` covers prefill to last token.
    """

    prompt_tokens: int
    new_tokens: int
    rounds: int
    proposed: int
    accepted: int
    draft_forwards: int
    verifier_forwards: int
    draft_seconds: float
    verifier_seconds: float
    prefill_seconds: float
    total_seconds: float
    mean_accepted_length: float
    acceptance_rate: float | None
    tokens_per_second: float
    overhead_fraction: float
    accepted_histogram: list[int] = field(default_factory=list)
    provenance_counts: dict[str, int] = field(default_factory=dict)
    exact_only: int | None = None
    relaxed_histogram: list[int] = field(default_factory=list)
    stopped_by: dict[str, int] = field(default_factory=dict)
    model_forwards: list[int] = field(default_factory=list)
    model_seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(records: Sequence[RoundRecord], *, prompt_tokens: int, total_seconds: float) -> GenerationStats:
    """Fold committed round records (cut to what the output kept) into stats."""
    decode = [r for r in records if not r.is_prefill]
    proposed = sum(r.proposed for r in decode)
    accepted = sum(r.accepted for r in decode)
    committed = sum(len(r.tokens) for r in decode)
    seats = max((len(r.forwards) for r in records), default=0)
    model_forwards = [sum(r.forwards[s] for r in records if s < len(r.forwards)) for s in range(seats)]
    model_seconds = [sum(r.model_seconds[s] for r in records if s < len(r.model_seconds)) for s in range(seats)]
    return GenerationStats(
        prompt_tokens=prompt_tokens,
        new_tokens=committed,
        rounds=len(decode),
        proposed=proposed,
        accepted=accepted,
        draft_forwards=sum(r.draft_forwards for r in records),
        verifier_forwards=sum(r.verifier_forwards for r in records),
        draft_seconds=sum(r.draft_seconds for r in records),
        verifier_seconds=sum(r.verifier_seconds for r in records),
        prefill_seconds=sum(r.seconds for r in records if r.is_prefill),
        total_seconds=total_seconds,
        mean_accepted_length=committed / len(decode) if decode else 0.0,
        acceptance_rate=accepted / proposed if proposed else None,
        tokens_per_second=committed / total_seconds if total_seconds > 0 else 0.0,
        overhead_fraction=max(0.0, 1 - sum(model_seconds) / total_seconds) if total_seconds > 0 else 0.0,
        accepted_histogram=_histogram([r.accepted for r in decode if r.proposed]),
        provenance_counts=dict(Counter(p.value for r in decode for p in r.provenance)),
        exact_only=_count_flags([r.exact_only for r in decode]),
        relaxed_histogram=_histogram([sum(p is Provenance.RELAXED for p in r.provenance) for r in decode if r.proposed]),
        stopped_by=dict(Counter(r.stop_check for r in decode if r.stop_check is not None)),
        model_forwards=model_forwards,
        model_seconds=model_seconds,
    )


def committed_records(records: Sequence[RoundRecord], tokens: int) -> list[RoundRecord]:
    """The records cut to the first ``tokens`` committed tokens (a stop string may end the output
    inside an earlier round than the last). Rounds past the cut keep their cost but commit nothing."""
    kept: list[RoundRecord] = []
    left = tokens
    for record in records:
        kept.append(record if len(record.tokens) <= left else record.truncated(left))
        left -= len(kept[-1].tokens)
    return kept


def _count_flags(values: Sequence[tuple[bool, ...] | None]) -> int | None:
    """How many flags are set, over the rounds that have flags; None when none has."""
    known = [v for v in values if v is not None]
    return sum(sum(v) for v in known) if known else None


def _histogram(values: Sequence[int]) -> list[int]:
    if not values:
        return []
    counts = Counter(values)
    return [counts.get(n, 0) for n in range(max(values) + 1)]
