"""Score a run's stored samples again with the tasks' current scorers, without generating anything.

When a scorer changes (say, how the final answer is read out of the text), the verdicts stored in
``results.jsonl`` are stale; reports read them as they are. :func:`rescore_run` scores each sample
again from its stored output (and, for later turns, the answers in its prompt) and rewrites only
the ``score`` of records whose verdict, extracted answer or detail changed. Every other byte of the
file stays as it was, unreadable lines included.

The file is rewritten safely: the new content goes to a temporary file in the same directory,
synced to disk, then replaces ``results.jsonl`` in one atomic rename; a crash leaves the old file
or the new one. A run still appending to the file meanwhile would lose its newest records to the
rename, so the rewrite is refused (:class:`RunChangedError`) when the file changed since it was read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verispec.errors import ConfigError
from verispec.eval.records import MANIFEST_FILE, RESULTS_FILE, RunManifest, SampleRecord, refuse_packed
from verispec.eval.runner import parse_task
from verispec.eval.tasks import Task, TaskItem


class RunChangedError(ConfigError):
    """``results.jsonl`` changed while it was being rescored (a run is still writing to it)."""


@dataclass(frozen=True)
class ScoreChange:
    """One sample whose stored score differs from its score now."""

    task: str
    item_id: str
    method: str
    turn: int
    before: dict[str, Any]
    after: dict[str, Any]

    def describe(self) -> str:
        """``task item method (turn): extracted and verdict, before -> after``."""
        def side(score: dict[str, Any]) -> str:
            return f"{score['extracted']!r} {'correct' if score['correct'] else 'wrong'}"
        turn = f" turn {self.turn + 1}" if self.turn else ""
        return f"{self.task} {self.item_id} {self.method}{turn}: {side(self.before)} -> {side(self.after)}"


@dataclass(frozen=True)
class RescoreResult:
    """What rescoring found: how many records were scored again, and which scores changed."""

    scored: int
    changes: list[ScoreChange]
    written: bool  # whether results.jsonl was rewritten (False for a dry run or when nothing changed)

    @property
    def flips(self) -> list[ScoreChange]:
        """The changes that turn a verdict (correct to wrong or back), not only the extracted answer."""
        return [c for c in self.changes if bool(c.before["correct"]) != bool(c.after["correct"])]


def rescore_run(run_dir: Path, tasks: Sequence[str] = (), *, dry_run: bool = False) -> RescoreResult:
    """Score every scored sample of ``run_dir`` again (only those of ``tasks`` when given) and store
    the scores that changed, unless ``dry_run``.

    Raises ConfigError when the run has no ``run.json`` (its split and task options are unknown),
    names a task the run does not have, or holds a sample of an item its task no longer has; and
    RunChangedError when the file changes before it is replaced.
    """
    path, manifest_path = run_dir / RESULTS_FILE, run_dir / MANIFEST_FILE
    refuse_packed(run_dir, "rescore it")
    if not path.exists():
        raise ConfigError(f"{run_dir} holds no {RESULTS_FILE}; is it the --out directory of `verispec eval`?")
    if not manifest_path.exists():
        raise ConfigError(f"{run_dir} has no {MANIFEST_FILE}, so its split and task options are unknown; cannot rescore")
    manifest = RunManifest.load(manifest_path)
    unknown = [name for name in tasks if name not in manifest.tasks]
    if unknown:
        raise ConfigError(f"no task {', '.join(map(repr, unknown))} in {run_dir}; it has: {', '.join(manifest.tasks)}")
    stamp = _stamp(path)
    lines = path.read_bytes().split(b"\n")
    scorer = _Scorer(manifest, set(tasks or manifest.tasks))
    changes: list[ScoreChange] = []
    for index, line in enumerate(lines):
        rescored = scorer.rescore(line)
        if rescored is not None:
            lines[index], change = rescored
            changes.append(change)
    written = bool(changes) and not dry_run
    if written:
        _replace(path, b"\n".join(lines), stamp)
    return RescoreResult(scorer.scored, changes, written)


class _Scorer:
    """Scores records of the chosen tasks, building each task and indexing its items once."""

    def __init__(self, manifest: RunManifest, tasks: set[str]) -> None:
        self.manifest = manifest
        self.tasks = tasks
        self.scored = 0
        self._items: dict[str, tuple[Task, dict[str, TaskItem]]] = {}

    def rescore(self, line: bytes) -> tuple[bytes, ScoreChange] | None:
        """The line with its score brought up to date and the change, or None to keep the line as it is:
        unreadable (readers skip it), unscored, of another task, or scored the same now."""
        try:
            data = json.loads(line)
            record = SampleRecord.from_dict(data)
        except (ValueError, TypeError):
            return None
        if record.score is None or record.task not in self.tasks:
            return None
        after = self._score(record)
        self.scored += 1
        if after == record.score:
            return None
        data["score"] = after  # the record's other fields and their order stay as written
        change = ScoreChange(record.task, record.item_id, record.method, record.turn, record.score, after)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), change

    def _score(self, record: SampleRecord) -> dict[str, Any]:
        """The record's score by its task's scorer now, as the runner stores it."""
        task, items = self._task(record.task)
        item = items.get(record.item_id)
        if item is None:
            raise ConfigError(f"{record.task} has no item {record.item_id!r} in the {self.manifest.settings.split} "
                              "split now; was its data package changed?")
        # The answers to earlier turns are the assistant messages of the prompt, as the model saw them.
        outputs = [m["content"] for m in record.prompt if m["role"] == "assistant"] + [record.output]
        score = task.score(item, outputs)
        if score is None:
            raise ConfigError(f"{record.task} no longer scores its samples; the stored scores cannot be redone")
        return {"correct": score.correct, "extracted": score.extracted, "detail": score.detail}

    def _task(self, name: str) -> tuple[Task, dict[str, TaskItem]]:
        if name not in self._items:
            if name not in self.manifest.tasks:
                raise ConfigError(f"a record names task {name!r}, which run.json does not list")
            task = parse_task(self.manifest.tasks[name])
            items = task.items(self.manifest.settings.split)
            self._items[name] = (task, {item.item_id: item for item in items})
        return self._items[name]


def _stamp(path: Path) -> tuple[int, int]:
    """Size and modification time: what changes when a run appends a record."""
    status = path.stat()
    return status.st_size, status.st_mtime_ns


def _replace(path: Path, content: bytes, stamp: tuple[int, int]) -> None:
    """Write ``content`` to a temporary file beside ``path``, sync it, and rename it over ``path``."""
    temporary = path.with_name(path.name + ".rescore.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if _stamp(path) != stamp:
            raise RunChangedError(f"{path} changed while it was rescored (is a run still writing to it?); "
                                  "nothing was replaced: rescore again when the run has stopped")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
