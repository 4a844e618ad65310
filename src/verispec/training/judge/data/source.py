"""What every data source (math, code, multiple choice, chat) offers the builder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from verispec.eval.tasks.base import Task, TaskItem
from verispec.training.judge.data.records import Dropped, Sample, Source, Span, sample_id

Outcome = Sample | Dropped


class DataSource(Protocol):
    """Training items of some tasks, and how to label reference and model responses to them."""

    source: Source
    max_new_tokens: int  # for model responses

    def items(self, limit: int | None, seed: int) -> list[tuple[Task, TaskItem]]:
        """Up to `limit` training items (per task), a deterministic choice by `seed`."""
        ...

    def reference_ids(self, task: Task, item: TaskItem) -> list[str]:
        """The ids `reference` decides for this item (to skip items already built)."""
        ...

    def reference(self, task: Task, item: TaskItem) -> Iterator[Outcome]:
        """Samples made without a model: the data set's answer, and corruptions of it."""
        ...

    def label(self, task: Task, item: TaskItem, response: str, model: str, variant: str) -> Iterator[Outcome]:
        """Samples made from a model's response; the first is the response itself (or its drop)."""
        ...


def make_sample(
    source: Source,
    task: Task,
    item: TaskItem,
    response: str,
    model: str,
    variant: str,
    spans: list[Span],
    labelled_by: str,
    labels_from: int = 0,
) -> Sample:
    """A sample for `item` with the task's own prompt wording; `labels_from` characters of context."""
    return Sample(
        id=sample_id(task.name, item.item_id, model, variant),
        source=source,
        task=task.name,
        item_id=item.item_id,
        messages=task.messages(item),
        response=response,
        model=model,
        error_spans=spans,
        labelled_by=labelled_by,
        labels_from=labels_from,
    )


def make_dropped(source: Source, task: Task, item: TaskItem, model: str, variant: str, reason: str) -> Dropped:
    """A record that the response with this id could not be labelled, and why."""
    return Dropped(sample_id(task.name, item.item_id, model, variant), source, task.name, model, reason)
