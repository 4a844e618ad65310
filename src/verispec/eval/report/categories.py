"""Rows per category for tasks whose items have one (MT-Bench, Spec-Bench files).

Speculative methods gain very differently on writing, coding or math, so Spec-Bench reports
speed per category. A category becomes a task of its own, ``TASK/CATEGORY``, that the report
summarises beside the whole task; the categories come from the task's data, as records do not
repeat them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from verispec.errors import ConfigError
from verispec.eval.records import RunManifest, SampleRecord
from verispec.eval.report.summary import MethodRow
from verispec.eval.runner import parse_task


@dataclass(frozen=True)
class CategorySplit:
    """Copies of the records with ``task`` set to ``TASK/CATEGORY``, and the task order to report in."""

    records: list[SampleRecord]
    task_order: list[str]


def split_by_category(records: Sequence[SampleRecord], manifest: RunManifest | None) -> CategorySplit:
    """Per-category copies of the records of every task whose items carry a category.

    Raises ConfigError when no task of the records has categories, or the run has no manifest
    (the task options and split that say which items the run used).
    """
    if manifest is None:
        raise ConfigError("per-category rows need the run's run.json, which says how its tasks were built")
    copies: list[SampleRecord] = []
    order: list[str] = []
    for task in dict.fromkeys(r.task for r in records):
        categories = _categories(task, manifest)
        order.append(task)
        order += [f"{task}/{name}" for name in dict.fromkeys(categories.values())]
        copies += [replace(r, task=f"{task}/{categories[r.item_id]}") for r in records
                   if r.task == task and r.item_id in categories]
    if not copies:
        raise ConfigError(f"no task here has categories ({', '.join(order)}); MT-Bench and Spec-Bench files do")
    return CategorySplit(copies, order)


def _categories(task: str, manifest: RunManifest) -> dict[str, str]:
    """Item id → category, in the data's order, for the items of ``task`` that have one."""
    spec = manifest.tasks.get(task, task)
    items = parse_task(spec).items(manifest.settings.split)
    return {item.item_id: str(item.meta["category"]) for item in items if "category" in item.meta}


def whole_tasks(rows: Sequence[MethodRow]) -> list[MethodRow]:
    """The rows of whole tasks, without the per-category rows (``TASK/CATEGORY``) that repeat their samples."""
    tasks = {row.task for row in rows}
    return [row for row in rows if row.task.rpartition("/")[0] not in tasks]
