"""Statistics of one generation, all derived from round records and token provenance."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from verispec.engine import RoundRecord


@dataclass(frozen=True)
class GenerationStats:
    """Speed and acceptance numbers of one generation.

    ``mean_accepted_length`` is committed tokens per verifier forward pass (Spec-Bench's τ);
    ``acceptance_rate`` is kept drafted tokens / proposed drafted tokens (None without drafts).
    ``accepted_histogram[n]`` counts rounds that kept exactly ``n`` drafted tokens.
    ``exact_only`` counts kept drafted tokens that a relaxed rule's own test (judge, lenient, typical)
    would have rejected; None for rules without such a test.
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(
    records: Sequence[RoundRecord], *, prompt_tokens: int, new_tokens: int, total_seconds: float
) -> GenerationStats:
    """Fold round records into stats. ``new_tokens`` may be fewer than committed (stop strings)."""
    decode = [r for r in records if not r.is_prefill]
    proposed = sum(r.proposed for r in decode)
    accepted = sum(r.accepted for r in decode)
    forward_seconds = sum(r.draft_seconds + r.verifier_seconds for r in records)
    # Forward passes of the model that commits tokens: the verifier, or the draft decoding alone.
    decode_forwards = sum(r.verifier_forwards or r.draft_forwards for r in decode)
    committed = sum(len(r.tokens) for r in decode)
    return GenerationStats(
        prompt_tokens=prompt_tokens,
        new_tokens=new_tokens,
        rounds=len(decode),
        proposed=proposed,
        accepted=accepted,
        draft_forwards=sum(r.draft_forwards for r in records),
        verifier_forwards=sum(r.verifier_forwards for r in records),
        draft_seconds=sum(r.draft_seconds for r in records),
        verifier_seconds=sum(r.verifier_seconds for r in records),
        prefill_seconds=sum(r.seconds for r in records if r.is_prefill),
        total_seconds=total_seconds,
        mean_accepted_length=committed / decode_forwards if decode_forwards else 0.0,
        acceptance_rate=accepted / proposed if proposed else None,
        tokens_per_second=new_tokens / total_seconds if total_seconds > 0 else 0.0,
        overhead_fraction=max(0.0, 1 - forward_seconds / total_seconds) if total_seconds > 0 else 0.0,
        accepted_histogram=_histogram([r.accepted for r in decode if r.proposed]),
        provenance_counts=dict(Counter(p.value for r in decode for p in r.provenance)),
        exact_only=_sum_known([r.exact_only for r in decode]),
    )


def _sum_known(values: Sequence[int | None]) -> int | None:
    """The sum of the values that are known; None when none is."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _histogram(values: Sequence[int]) -> list[int]:
    if not values:
        return []
    counts = Counter(values)
    return [counts.get(n, 0) for n in range(max(values) + 1)]
