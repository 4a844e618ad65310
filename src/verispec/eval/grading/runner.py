"""Grade the chat answers of a run with a grader model, appending each grade as it is made.

Answers already graded by the same grader (and unchanged since) are skipped, so an interrupted
grading resumes where it stopped. Answers go item by item, every method of an item together,
so that a grading cut short still compares methods on the same items.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from verispec.errors import ConfigError
from verispec.eval.grading.prompts import Conversation, grading_messages, prompt_for
from verispec.eval.grading.rater import Rater
from verispec.eval.grading.records import GRADES_FILE, GradeRecord, answer_hash, read_grades
from verispec.eval.records import RecordWriter, RunManifest, SampleRecord, load_run
from verispec.eval.report.summary import natural_order
from verispec.eval.runner import parse_task
from verispec.eval.tasks.base import TaskItem
from verispec.eval.tasks.chat import QuestionsTask


@dataclass(frozen=True)
class GradingJob:
    """One answer to grade and the conversation the grader reads."""

    sample: SampleRecord
    conversation: Conversation


@dataclass(frozen=True)
class GradingPlan:
    """The answers still to grade and how many the grader has already graded."""

    jobs: list[GradingJob]
    done: int


def plan_grading(
    run_dir: Path, grader: str, *, tasks: Sequence[str] = (), methods: Sequence[str] = (), limit: int | None = None
) -> GradingPlan:
    """What ``grader`` has left to grade in the run: its chat tasks (or ``tasks``), every method (or ``methods``).

    ``limit`` grades only the first items of each task (in the run's item order).
    """
    manifest, records = load_run(run_dir)
    if manifest is None:
        raise ConfigError(f"{run_dir} has no run.json, which says how its tasks were built; grading needs it")
    chat = _chat_tasks(manifest, tasks)
    order = list(dict.fromkeys(manifest.methods + [r.method for r in records]))
    wanted = sorted((r for r in records if r.task in chat and (not methods or r.method in methods)),
                    key=lambda r: (list(chat).index(r.task), natural_order(r.item_id), r.turn, order.index(r.method)))
    wanted = _first_items(wanted, limit)
    grades = read_grades(run_dir / GRADES_FILE)
    undone = [r for r in wanted if not ((g := grades.get((*r.key, grader))) is not None and g.rates(r))]
    items = {name: {i.item_id: i for i in task.items(manifest.settings.split)} for name, task in chat.items()}
    jobs = [GradingJob(r, conversation(r, chat[r.task], items[r.task].get(r.item_id))) for r in undone]
    return GradingPlan(jobs, len(wanted) - len(undone))


def _chat_tasks(manifest: RunManifest, wanted: Sequence[str]) -> dict[str, QuestionsTask]:
    """The run's chat tasks by name, narrowed to ``wanted``; a wanted task that is not a run chat task is an error."""
    chat = {name: task for name, spec in manifest.tasks.items() if isinstance(task := parse_task(spec), QuestionsTask)}
    unknown = [name for name in wanted if name not in chat]
    if unknown:
        raise ConfigError(f"{', '.join(unknown)}: not a chat task of this run (its chat tasks: {', '.join(chat) or 'none'}); "
                          "scored tasks are graded by their own checks in `verispec report`")
    return {name: task for name, task in chat.items() if not wanted or name in wanted}


def _first_items(records: list[SampleRecord], limit: int | None) -> list[SampleRecord]:
    if limit is None:
        return records
    firsts: dict[str, dict[str, None]] = {}
    for record in records:
        firsts.setdefault(record.task, {})
        if len(firsts[record.task]) < limit:
            firsts[record.task].setdefault(record.item_id)
    return [r for r in records if r.item_id in firsts[r.task]]


def conversation(sample: SampleRecord, task: QuestionsTask, item: TaskItem | None) -> Conversation:
    """The questions and answers of the sample's conversation, with its item's category and references."""
    if item is None:
        raise ConfigError(f"{sample.task} has no item {sample.item_id!r} in the run's split; "
                          "was the task's data changed since the run?")
    return Conversation(
        questions=tuple(m["content"] for m in sample.prompt if m["role"] == "user"),
        answers=(*(m["content"] for m in sample.prompt if m["role"] == "assistant"), sample.output),
        category=item.meta.get("category"),
        references=task.grading_reference(item),
    )


def grade(run_dir: Path, rater: Rater, grader: str, jobs: Sequence[GradingJob], *, progress: bool = True) -> int:
    """Grade every job, appending each grade to the run's ``grades.jsonl``; returns how many were graded."""
    writer = RecordWriter(run_dir / GRADES_FILE)
    bar = tqdm(total=len(jobs), unit="answer", desc=f"grading with {grader}", dynamic_ncols=True,
               disable=not progress, file=sys.stderr)
    with bar:
        for job in jobs:
            start = time.perf_counter()
            prompt = prompt_for(job.conversation)
            rating = rater.rate(grading_messages(job.conversation, prompt))
            sample = job.sample
            writer.append(GradeRecord(
                task=sample.task, item_id=sample.item_id, turn=sample.turn, method=sample.method, grader=grader,
                prompt=prompt.name, category=job.conversation.category,
                answer=answer_hash(sample.output), rating=rating.expected, probabilities=list(rating.probabilities),
                mass=rating.mass, seconds=time.perf_counter() - start, explanation=rating.explanation,
            ))
            bar.set_postfix_str(f"{sample.task} {sample.method} rated {rating.expected:.1f}", refresh=False)
            bar.update()
    return len(jobs)
