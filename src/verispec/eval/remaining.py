"""What a run has done and what it still has to do, with a time estimate; loads no model.

Long evaluation runs go on for days on a CPU, so before starting (or resuming) one it helps to
know how much is left. The estimate uses the run's own samples: for each task and method, the
mean generation time of its finished samples that no other process disturbed. With ``retime``,
samples that would be re-timed count as pending, not done.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import fmean

from verispec.eval.records import SampleRecord, open_manifest, read_records, results_file
from verispec.eval.runner import RunConfig, needs_run, plan_run


@dataclass(frozen=True)
class RemainingRow:
    """One task and method: samples planned, done and pending, and the estimated time left.

    ``seconds_per_sample`` is None when none of its samples has an undisturbed timing yet.
    """

    task: str
    method: str
    planned: int
    done: int
    seconds_per_sample: float | None

    @property
    def pending(self) -> int:
        return self.planned - self.done

    @property
    def seconds_left(self) -> float | None:
        if self.pending == 0:
            return 0.0
        return None if self.seconds_per_sample is None else self.pending * self.seconds_per_sample


def remaining_work(config: RunConfig) -> list[RemainingRow]:
    """Per task and method of ``config``, what ``config.out`` holds and what a run would add.

    Checks names, data and the run directory's settings as a real run does, but writes nothing.
    """
    plan = plan_run(config)
    open_manifest(config.out, config.settings(config.pipeline().backend_label()))
    records = {record.key: record for record in read_records(results_file(config.out))}
    timings = _undisturbed_seconds(records.values())
    every_sample = plan.samples(config.turns)
    rows = []
    for _, task, _ in plan.tasks:
        samples = [(item, turn) for t, item, turn in every_sample if t is task]
        for method in plan.methods:
            label = method.label()
            done = sum(not needs_run(records.get((task.name, item.item_id, label, turn)), config.retime)
                       for item, turn in samples)
            seconds = timings.get((task.name, label))
            rows.append(RemainingRow(task.name, label, len(samples), done, fmean(seconds) if seconds else None))
    return rows


def _undisturbed_seconds(records: Iterable[SampleRecord]) -> dict[tuple[str, str], list[float]]:
    """Generation seconds per (task, method), leaving out samples that other jobs slowed down."""
    seconds: dict[tuple[str, str], list[float]] = defaultdict(list)
    for record in records:
        if not record.disturbed:
            seconds[(record.task, record.method)].append(record.timing["generate_seconds"])
    return seconds


def format_remaining(rows: Sequence[RemainingRow]) -> str:
    """A plain-text table of the rows and a total line."""
    header = ("task", "method", "planned", "done", "pending", "s/sample", "time left")
    lines = [header] + [
        (row.task, row.method, str(row.planned), str(row.done), str(row.pending),
         _number(row.seconds_per_sample), "done" if row.pending == 0 else _duration(row.seconds_left))
        for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    table = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]
    return "\n".join([*table, "", _total(rows)])


def _total(rows: Sequence[RemainingRow]) -> str:
    pending = sum(row.pending for row in rows)
    if not pending:
        return "nothing pending"
    untimed = sum(row.pending for row in rows if row.seconds_left is None)
    known = sum(row.seconds_left for row in rows if row.seconds_left is not None)
    parts = [f"{pending} samples pending"]
    if pending > untimed:
        parts.append(f"about {_duration(known)} for the {pending - untimed} of timed methods")
    if untimed:
        parts.append(f"{untimed} of methods with no timing in this run yet")
    return ", ".join(parts)


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"
