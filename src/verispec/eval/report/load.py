"""A run directory read once and summarised: what the report command and pages are built from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from verispec.errors import ConfigError
from verispec.eval.records import RunManifest, SampleRecord, load_run
from verispec.eval.report.categories import split_by_category
from verispec.eval.report.machines import MachineOf, machine_lookup, machine_notes
from verispec.eval.report.summary import BASELINE, MethodRow, summarize
from verispec.eval.report.tables import markdown_report


@dataclass(frozen=True)
class RunReport:
    """A run's manifest, its readable records, and one summary row per task and method.

    ``records`` are those the report shows; ``task_records`` every record of the chosen tasks,
    whichever methods are shown, for checks that compare with methods left out of the table.
    ``machine_of`` tells which machine ran a record, for speedups that pair alike machines only.
    """

    run_dir: Path
    manifest: RunManifest | None
    records: list[SampleRecord]
    rows: list[MethodRow]
    baseline: str
    task_records: list[SampleRecord]
    machine_of: MachineOf

    @property
    def title(self) -> str:
        return f"verispec report: {self.run_dir.resolve().name}"

    def settings(self) -> dict[str, Any]:
        """The run's fixed settings, for page headers (empty without a manifest)."""
        return asdict(self.manifest.settings) if self.manifest else {}

    def machines(self) -> list[str]:
        """Which machines ran the shown samples, with their measured speed (see :mod:`.machines`)."""
        return machine_notes(self.manifest, self.records)

    def markdown(self) -> str:
        return markdown_report(self.rows, self.baseline, self.title, self.machines())


def load_report(
    run_dir: Path, baseline: str = BASELINE, *, tasks_only: Sequence[str] = (), methods_only: Sequence[str] = (),
    by_category: bool = False,
) -> RunReport:
    """Read ``run_dir`` (broken lines are skipped with a warning) and summarise it.

    Tasks and methods keep the order in which the run first met them. ``tasks_only`` and
    ``methods_only`` (method labels) narrow the report; the baseline stays for comparisons.
    ``by_category`` adds a row per category (``TASK/CATEGORY``) after each task whose items have one.
    """
    manifest, records = load_run(run_dir)
    task_records = _narrow(records, "task", tasks_only, lambda r: r.task)
    records = _narrow(task_records, "method", methods_only, lambda r: r.method, also=[baseline])
    tasks = list(manifest.tasks) if manifest else []
    methods = manifest.methods if manifest else []
    summarized = records
    if by_category:
        split = split_by_category(records, manifest)
        summarized, tasks = [*records, *split.records], split.task_order
    machine_of = machine_lookup(manifest)
    rows = summarize(summarized, baseline=baseline, tasks=tasks, methods=methods, machine_of=machine_of)
    return RunReport(run_dir, manifest, records, rows, baseline, task_records, machine_of)


def _narrow(
    records: list[SampleRecord], kind: str, wanted: Sequence[str], key: Callable[[SampleRecord], str],
    also: Sequence[str] = (),
) -> list[SampleRecord]:
    """The records whose ``key`` is wanted, or in ``also`` (all when nothing is wanted); unknown names are an error."""
    if not wanted:
        return records
    present = list(dict.fromkeys(map(key, records)))
    unknown = [name for name in wanted if name not in present]
    if unknown:
        raise ConfigError(f"no {kind} {', '.join(map(repr, unknown))} in this run; it has: {', '.join(present)}")
    keep = {*wanted, *also}
    return [r for r in records if key(r) in keep]
