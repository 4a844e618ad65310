"""Summary numbers of a benchmark, computed only from its per-run records.

Speeds are compared as ratios measured in the same run: a method's speedup is the median over
prompts of (its tokens/s ÷ verifier-only tokens/s on that prompt). With repeats, a prompt's
tokens/s is the median over its repeats. Mean accepted length and acceptance rate are pooled over
all runs (total tokens ÷ total verifier passes; total kept ÷ total proposed), as Spec-Bench does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from statistics import median
from typing import Any

from verispec.bench.methods import BASELINE, DRAFT_ONLY
from verispec.bench.records import RunRecord


@dataclass(frozen=True)
class GroupSpeed:
    """Median tokens/s and median speedup over the prompts of one group (all, or one category)."""

    prompts: int
    tokens_per_second: float
    speedup: float | None


@dataclass(frozen=True)
class MethodSummary:
    """One row of the results table."""

    method: str
    runs: int
    new_tokens: int
    tokens_per_second: float
    speedup: float | None
    by_category: dict[str, GroupSpeed]
    mean_accepted_length: float | None
    acceptance_rate: float | None
    identical: int
    compared: int
    overhead_fraction: float | None
    baseline: str = BASELINE  # the verifier-only run its speedup and identity compare with
    draft_only: str | None = None  # the draft-only run its cost ratio comes from
    cost_ratio: float | None = None


@dataclass(frozen=True)
class BenchSummary:
    """Every method's row, plus the draft/verifier cost ratio ``c`` and the ceiling ``1/c``.

    ``c`` is the median over prompts of (draft-only seconds per token ÷ verifier-only seconds per
    token); no draft-model method can beat ``1/c`` over verifier-only on this machine. These are
    the benchmark's own pair's; a method with another draft or backend has its own ``c`` in its row.
    """

    methods: list[MethodSummary]
    cost_ratio: float | None
    ceiling: float | None
    categories: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize_runs(
    runs: Sequence[RunRecord],
    methods: Sequence[str],
    baselines: Mapping[str, str] | None = None,
    drafts: Mapping[str, str] | None = None,
) -> BenchSummary:
    """The summary of ``runs`` for ``methods`` (in that order).

    ``baselines`` names each method's verifier-only run (default: ``verifier``, which must have
    run); ``drafts`` each draft-model method's draft-only run, for its own cost ratio.
    """
    baselines, drafts = baselines or {}, drafts or {}
    speeds = per_prompt_speeds(runs)
    categories = list(dict.fromkeys(r.category for r in runs))
    rows = []
    for m in methods:
        base = baselines.get(m, BASELINE)
        row = _method_summary(m, [r for r in runs if r.method == m], speeds[m], speeds[base], categories)
        cost = _cost_ratio(speeds[base], speeds[drafts[m]]) if m in drafts else None
        rows.append(replace(row, baseline=base, draft_only=drafts.get(m), cost_ratio=cost))
    cost = _cost_ratio(speeds[BASELINE], speeds.get(DRAFT_ONLY, {}))
    return BenchSummary(rows, cost, 1 / cost if cost else None, categories)


def per_prompt_speeds(runs: Sequence[RunRecord]) -> dict[str, dict[tuple[str, str], float]]:
    """tokens/s per method and (category, prompt id): the median over repeats."""
    grouped: dict[str, dict[tuple[str, str], list[float]]] = {}
    for run in runs:
        grouped.setdefault(run.method, {}).setdefault((run.category, run.prompt_id), []).append(run.tokens_per_second)
    return {m: {key: median(values) for key, values in by_prompt.items()} for m, by_prompt in grouped.items()}


def _method_summary(
    method: str,
    runs: Sequence[RunRecord],
    speed: dict[tuple[str, str], float],
    baseline: dict[tuple[str, str], float],
    categories: Sequence[str],
) -> MethodSummary:
    proposed = sum(r.proposed for r in runs)
    rounds = sum(r.rounds for r in runs)
    compared = [r for r in runs if r.identical is not None]
    overall = _group_speed(speed, baseline, lambda key: True)
    return MethodSummary(
        method=method,
        runs=len(runs),
        new_tokens=sum(r.new_tokens for r in runs),
        tokens_per_second=overall.tokens_per_second,
        speedup=overall.speedup,
        by_category={c: _group_speed(speed, baseline, lambda key, c=c: key[0] == c) for c in categories},
        mean_accepted_length=sum(r.new_tokens for r in runs) / rounds if proposed and rounds else None,
        acceptance_rate=sum(r.accepted for r in runs) / proposed if proposed else None,
        identical=sum(1 for r in compared if r.identical),
        compared=len(compared),
        overhead_fraction=_median_known(r.overhead_fraction for r in runs),
    )


def _group_speed(
    speed: dict[tuple[str, str], float],
    baseline: dict[tuple[str, str], float],
    member: Callable[[tuple[str, str]], bool],
) -> GroupSpeed:
    keys = [k for k in speed if member(k)]
    ratios = [speed[k] / baseline[k] for k in keys if baseline.get(k)]
    return GroupSpeed(
        prompts=len(keys),
        tokens_per_second=median(speed[k] for k in keys) if keys else 0.0,
        speedup=median(ratios) if ratios else None,
    )


def _cost_ratio(baseline: dict[tuple[str, str], float], draft: dict[tuple[str, str], float]) -> float | None:
    """Median over prompts of verifier tokens/s ÷ draft tokens/s (= draft cost per token ÷ verifier's)."""
    ratios = [baseline[k] / draft[k] for k in draft if draft[k] and k in baseline]
    return median(ratios) if ratios else None


def _median_known(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return median(known) if known else None
