"""Per-run numbers of the benchmark: one record per prompt, method and repeat."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from verispec.pipeline import GenerationResult


@dataclass(frozen=True)
class RunRecord:
    """One generation of one method on one prompt.

    ``wall_seconds`` is ``perf_counter`` around the whole generate call, for every method alike;
    ``tokens_per_second`` is ``new_tokens / wall_seconds``. ``new_tokens`` counts up to and
    including the first end token. ``rounds`` is the number of verifier forward passes that
    produced tokens (one per round; for transformers' assisted generation the first one also
    reads the prompt). ``overhead_fraction`` is the share of wall time outside forward passes.
    ``identical`` and ``matching_prefix`` compare ``token_ids`` with verifier-only decoding of
    the same prompt in the same repeat.
    """

    prompt_id: str
    category: str
    method: str
    repeat: int
    position: int
    prompt_tokens: int
    new_tokens: int
    wall_seconds: float
    rounds: int
    proposed: int
    accepted: int
    draft_forwards: int
    verifier_forwards: int
    draft_seconds: float
    verifier_seconds: float
    finish_reason: str
    token_ids: list[int]
    text: str
    identical: bool | None = None
    matching_prefix: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def mean_accepted_length(self) -> float | None:
        """Tokens per verifier forward pass (τ); None for a method that drafts nothing."""
        return self.new_tokens / self.rounds if self.proposed and self.rounds else None

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.proposed if self.proposed else None

    @property
    def overhead_fraction(self) -> float | None:
        """None where the forward passes were not timed (a peer program timing only itself)."""
        forward = self.draft_seconds + self.verifier_seconds
        if forward == 0 and self.new_tokens:
            return None
        return max(0.0, 1 - forward / self.wall_seconds) if self.wall_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "tokens_per_second": self.tokens_per_second,
            "mean_accepted_length": self.mean_accepted_length,
            "acceptance_rate": self.acceptance_rate,
            "overhead_fraction": self.overhead_fraction,
        }


@dataclass(frozen=True)
class RunContext:
    """Where a run sits in the benchmark: which prompt, method, repeat and position in its block."""

    prompt_id: str
    category: str
    method: str
    repeat: int
    position: int


def from_result(ctx: RunContext, result: GenerationResult, wall_seconds: float) -> RunRecord:
    """A record from a verispec generation."""
    s = result.stats
    return RunRecord(
        **asdict(ctx), prompt_tokens=s.prompt_tokens, new_tokens=s.new_tokens, wall_seconds=wall_seconds,
        rounds=s.rounds, proposed=s.proposed, accepted=s.accepted,
        draft_forwards=s.draft_forwards, draft_seconds=s.draft_seconds,
        verifier_forwards=s.verifier_forwards, verifier_seconds=s.verifier_seconds,
        finish_reason=result.finish_reason, token_ids=list(result.token_ids), text=result.text,
        details={"library_stats": s.to_dict()},
    )


def compare_with_baseline(run: RunRecord, baseline: RunRecord) -> RunRecord:
    """``run`` with ``identical`` and ``matching_prefix`` set against the baseline's tokens."""
    return replace(
        run, identical=run.token_ids == baseline.token_ids,
        matching_prefix=matching_prefix(run.token_ids, baseline.token_ids),
    )


def matching_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """The number of leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
