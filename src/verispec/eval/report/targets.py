"""Does a relaxed method meet Judge Decoding's targets, task by task, and by how much?

The targets, from the Judge Decoding issue: a mean accepted length at least ``min_length_ratio``
times that of lossless speculative decoding, a speed close to the draft-only ceiling ``1/c`` (the
draft's speedup over the verifier in the same run), and an accuracy inside the 95% interval of
verifier-only, all on the items the method completed. Each check keeps its numbers so a missed
target can be explained, not only flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from verispec.eval.records import SampleRecord
from verispec.eval.report.machines import MachineOf
from verispec.eval.report.stats import Interval
from verispec.eval.report.summary import BASELINE, MethodRow, summarize
from verispec.eval.report.tables import DASH, accuracy_cell, difference_cell, number_cell, table_line

MIN_LENGTH_RATIO = 1.5

TARGETS_NOTE = (
    "Each task is checked on the items the method completed; every number in its row, the other methods' "
    "included, is for those items. Share of 1/c: the method's speedup over draft-only's. Draft-only computes "
    "the draft's whole output layer, while drafting inside speculative methods reads only its first "
    "`draft_vocab` tokens (32768 by default), so a method can pass 100%."
)


@dataclass(frozen=True)
class TargetCheck:
    """One task's numbers for ``method`` against the reference method, the ceiling and the baseline.

    A field is None when the run lacks what it needs (a method not run on the task, no timed items).
    """

    task: str
    method: str
    items: int
    mean_accepted_length: float | None
    reference_accepted_length: float | None
    speedup: float | None
    ceiling_speedup: float | None
    accuracy: Interval | None
    baseline_accuracy: Interval | None
    difference: Interval | None  # paired, method minus baseline
    min_length_ratio: float = MIN_LENGTH_RATIO

    @property
    def length_ratio(self) -> float | None:
        """The method's mean accepted length over the reference's."""
        return _ratio(self.mean_accepted_length, self.reference_accepted_length)

    @property
    def ceiling_share(self) -> float | None:
        """The method's speedup over the ceiling method's (1.0: as fast as drafting alone)."""
        return _ratio(self.speedup, self.ceiling_speedup)

    @property
    def length_met(self) -> bool | None:
        return None if self.length_ratio is None else self.length_ratio >= self.min_length_ratio

    @property
    def accuracy_met(self) -> bool | None:
        if self.accuracy is None or self.baseline_accuracy is None:
            return None
        return self.baseline_accuracy.low <= self.accuracy.estimate <= self.baseline_accuracy.high


def check_targets(
    records: Sequence[SampleRecord],
    method: str,
    *,
    reference: str = "sd",
    ceiling: str = "draft",
    baseline: str = BASELINE,
    min_length_ratio: float = MIN_LENGTH_RATIO,
    machine_of: MachineOf | None = None,
) -> list[TargetCheck]:
    """One check per task on which ``method`` ran, in the records' task order.

    Each task is summarised on the items ``method`` completed only, for every method the check
    reads, so that a run still under way compares the same items (easy first items would
    otherwise flatter or sink a method that has done fewer of them). ``machine_of`` pairs speedups
    on alike machines only, as in :func:`.summary.summarize`.
    """
    checks = []
    for task in dict.fromkeys(r.task for r in records):
        items = {r.item_id for r in records if r.task == task and r.method == method}
        if not items:
            continue
        wanted = {method, reference, ceiling, baseline}
        paired = [r for r in records if r.task == task and r.item_id in items and r.method in wanted]
        rows = {row.method: row for row in summarize(paired, baseline=baseline, machine_of=machine_of)}
        row = rows[method]
        ref, top, base = (rows.get(name) for name in (reference, ceiling, baseline))
        checks.append(TargetCheck(
            task=task,
            method=method,
            items=row.items,
            mean_accepted_length=row.mean_accepted_length,
            reference_accepted_length=ref.mean_accepted_length if ref else None,
            speedup=_speedup(row),
            ceiling_speedup=_speedup(top),
            accuracy=row.accuracy,
            baseline_accuracy=base.accuracy if base else None,
            difference=row.comparison.difference if row.comparison else None,
            min_length_ratio=min_length_ratio,
        ))
    return checks


def targets_markdown(checks: Sequence[TargetCheck], reference: str = "sd", ceiling: str = "draft") -> str:
    """A markdown table of the checks, one row per task, each target marked met or missed."""
    header = [
        "task", "method", "n", "τ", f"τ {reference}", "τ ratio", "speedup", f"{ceiling} speedup (1/c)",
        "share of 1/c", "accuracy [95% CI]", "verifier accuracy [95% CI]", "Δ vs verifier [95% CI]",
        "accuracy in verifier CI",
    ]
    lines = [table_line(header), table_line(["---"] * len(header))]
    for c in checks:
        lines.append(table_line([
            c.task, c.method, str(c.items),
            number_cell(c.mean_accepted_length, "{:.2f}"), number_cell(c.reference_accepted_length, "{:.2f}"),
            f"{number_cell(c.length_ratio, '{:.2f}×')} (≥ {c.min_length_ratio:g}×: {_verdict(c.length_met)})",
            number_cell(c.speedup, "{:.2f}×"), number_cell(c.ceiling_speedup, "{:.2f}×"),
            number_cell(c.ceiling_share, "{:.0%}"), accuracy_cell(c.accuracy), accuracy_cell(c.baseline_accuracy),
            difference_cell(c.difference), _verdict(c.accuracy_met),
        ]))
    return "\n".join(lines) + "\n"


def _speedup(row: MethodRow | None) -> float | None:
    return row.comparison.speedup if row is not None and row.comparison is not None else None


def _ratio(value: float | None, reference: float | None) -> float | None:
    return value / reference if value is not None and reference else None


def _verdict(met: bool | None) -> str:
    return DASH if met is None else ("met" if met else "missed")
