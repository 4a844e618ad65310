"""The evaluation runner: methods × tasks, one append-only record per sample, resumable.

Methods are interleaved per item (for each item, every method in turn) so that all methods meet
the same machine conditions and the speedup over verifier-only is measured back to back. A
sample is identified by (task, item id, method label, turn): rerunning the same command skips
every sample already in ``results.jsonl`` and carries on where the last run stopped. With
``retime``, finished samples whose timing is not known to be clean (other processes were busy, or
an older runner did not measure the load) run again, and the new record replaces the old one.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from verispec import runinfo
from verispec.errors import ConfigError, VerispecError
from verispec.eval.judge_heads import HEAD_DIGEST, judge_head_digests
from verispec.eval.records import (
    MANIFEST_FILE,
    RESULTS_FILE,
    RecordKey,
    RecordWriter,
    RunSettings,
    SampleRecord,
    open_manifest,
    read_records,
    refuse_packed,
    results_file,
)
from verispec.eval.tasks import Task, TaskItem, get_task
from verispec.methods import Method
from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER
from verispec.pipeline import DEFAULT_DTYPE, Pipeline


@dataclass(frozen=True)
class RunConfig:
    """What to run and where. Tasks and methods are specs: ``name[:key=value,...]``.

    ``max_new_tokens`` None uses each task's default; ``turns`` is how many user turns of
    multi-turn items to run (turn 2 sees the model's own turn-1 answer); ``warmup_tokens`` is the
    length of one unrecorded generation per method before measuring (0: none). ``assistants`` are
    extra models for collaborative methods (CoSD and its baselines), after the verifier.
    ``retime`` also reruns finished samples that were not timed quietly
    (:attr:`SampleRecord.timed_quietly`); the old timing stays in the new record's ``timing["replaces"]``.
    """

    tasks: tuple[str, ...]
    methods: tuple[str, ...]
    out: Path
    draft: str = DEFAULT_DRAFT
    verifier: str = DEFAULT_VERIFIER
    dtype: str | None = None  # None: bf16 on torch (and llama.cpp allowed under backend "auto")
    device: str = "cpu"
    backend: str | dict[str, str] = "auto"
    split: str = "eval"
    limit: int | None = None
    seed: int = 0
    temperature: float = 0.0
    max_new_tokens: int | None = None
    turns: int = 1
    warmup_tokens: int = 16
    progress: bool = True
    assistants: tuple[str, ...] = ()
    retime: bool = False

    def pipeline(self) -> Pipeline:
        """The pipeline of these models and runtime (nothing loads until first use)."""
        return Pipeline(
            self.draft, self.verifier, dtype=self.dtype, device=self.device, backend=self.backend,
            assistants=self.assistants,
        )

    def settings(self, backend: str) -> RunSettings:
        """The run's settings, with ``backend`` as the pipeline resolved it."""
        return RunSettings(
            draft=self.draft, verifier=self.verifier, dtype=self.dtype or DEFAULT_DTYPE, device=self.device,
            split=self.split, seed=self.seed, temperature=self.temperature, max_new_tokens=self.max_new_tokens,
            turns=self.turns, assistants=list(self.assistants), backend=backend,
        )


@dataclass(frozen=True)
class RunOutcome:
    """What one call of :func:`run_eval` did: samples planned, found done, and generated now.

    ``retimed`` counts the generated samples that replaced a finished one (``RunConfig.retime``).
    """

    out: Path
    planned: int
    resumed: int
    generated: int
    retimed: int = 0


@dataclass(frozen=True)
class RunPlan:
    """The tasks with their items, and the methods, all validated before any model loads."""

    tasks: list[tuple[str, Task, list[TaskItem]]]  # (canonical spec, task, items)
    methods: list[Method]

    def samples(self, turns: int) -> list[tuple[Task, TaskItem, int]]:
        """Every (task, item, turn) to run, in run order."""
        return [(task, item, turn) for _, task, items in self.tasks for item in items for turn in range(_turns(item, turns))]


def run_eval(config: RunConfig, pipeline: Pipeline | None = None, argv: Sequence[str] | None = None) -> RunOutcome:
    """Run every method on every task item not yet in ``config.out``; return the counts.

    Names, options, data and the run directory's settings are all checked before models load.
    ``pipeline`` defaults to one built from the config's models; ``argv`` is kept in ``run.json``.
    """
    plan = plan_run(config)
    pipeline = pipeline or config.pipeline()
    manifest = open_manifest(config.out, config.settings(pipeline.backend_label()))
    manifest.merge(
        {task.name: spec for spec, task, _ in plan.tasks},
        [m.label() for m in plan.methods],
        _invocation(config, plan, argv),
    )
    done = {record.key: record for record in read_records(results_file(config.out))}
    pending = _pending(plan, config, done)
    if pending:  # a packed run whose samples are all done is read, not refused
        refuse_packed(config.out, f"add its {len(pending)} pending samples")
    running = {key[2] for _, _, key in pending}  # a finished method cannot mix heads: only these are checked
    heads = judge_head_digests([m for m in plan.methods if m.label() in running], config.verifier, done.values(), config.out)
    # A call with nothing to do leaves run.json alone, so rerunning a finished script logs nothing.
    if pending or not (config.out / MANIFEST_FILE).exists():
        config.out.mkdir(parents=True, exist_ok=True)
        manifest.save(config.out / MANIFEST_FILE)
    return _Runner(config, plan, pipeline, done, pending, heads).run()


def plan_run(config: RunConfig) -> RunPlan:
    """The validated tasks with their items, and the methods; raises ConfigError on bad input."""
    if not config.tasks:
        raise ConfigError("give at least one task")
    if not config.methods:
        raise ConfigError("give at least one method")
    if config.turns < 1:
        raise ConfigError(f"turns must be >= 1, got {config.turns}")
    methods = list({m.label(): m for m in map(Method.parse, config.methods)}.values())
    tasks = [_task_and_label(spec) for spec in config.tasks]
    _refuse_repeated_tasks([task for task, _ in tasks])
    # Loading items now makes a missing data package fail before minutes of model loading.
    return RunPlan([(label, task, task.items(config.split, config.limit, config.seed)) for task, label in tasks], methods)


def _refuse_repeated_tasks(tasks: list[Task]) -> None:
    names = [task.name for task in tasks]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"task {', '.join(repeated)} given twice; give each task once")


def parse_task(spec: str) -> Task:
    """A task from ``name[:key=value,...]``; values read as int, float or bool when they look so.

    Raises TaskNotFoundError or ConfigError listing what exists.
    """
    return _task_and_label(spec)[0]


def _task_and_label(spec: str) -> tuple[Task, str]:
    """The task and its canonical spec (registry name, options sorted), the key kept in ``run.json``."""
    name, _, raw = spec.strip().partition(":")
    options: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"task {name!r}: bad option {part!r}; options are key=value")
        options[key.strip()] = _literal(value.strip())
    task = get_task(name, **options)
    label = ",".join(f"{k}={options[k]}" for k in sorted(options))
    return task, f"{task.name}:{label}" if label else task.name


def _literal(text: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _turns(item: TaskItem, turns: int) -> int:
    return min(turns, len(item.turns))


def _pending(plan: RunPlan, config: RunConfig, done: dict[RecordKey, SampleRecord]) -> list[tuple[Task, TaskItem, RecordKey]]:
    """(task, item, key) of every sample to generate, in run order."""
    return [
        (task, item, key)
        for task, item, turn in plan.samples(config.turns)
        for method in plan.methods
        if needs_run(done.get(key := (task.name, item.item_id, method.label(), turn)), config.retime)
    ]


class _Runner:
    """Walks the plan item by item, generating and appending the samples that are missing."""

    def __init__(
        self, config: RunConfig, plan: RunPlan, pipeline: Pipeline, done: dict[RecordKey, SampleRecord],
        pending: list[tuple[Task, TaskItem, RecordKey]], heads: dict[str, str],
    ) -> None:
        self.config = config
        self.plan = plan
        self.pipeline = pipeline
        self.done = done
        self.pending = pending
        self.heads = heads  # judge method label -> sha256 of its head file

    def run(self) -> RunOutcome:
        planned = len(self.plan.samples(self.config.turns)) * len(self.plan.methods)
        resumed = planned - len(self.pending)
        writer = RecordWriter(self.config.out / RESULTS_FILE)
        with self._bar(planned, resumed) as bar:
            if self.pending and self.config.warmup_tokens:
                task, item, _ = self.pending[0]
                self._warm_up(task, item)
            for _, task, items in self.plan.tasks:
                for item in items:
                    for method in self.plan.methods:
                        self._conversation(task, item, method, writer, bar)
        retimed = sum(key in self.done for _, _, key in self.pending)
        return RunOutcome(self.config.out, planned, resumed, len(self.pending), retimed)

    def _conversation(self, task: Task, item: TaskItem, method: Method, writer: RecordWriter, bar: tqdm) -> None:
        """Every turn of one item with one method; each turn sees the method's own earlier answers."""
        history: list[str] = []
        for turn in range(_turns(item, self.config.turns)):
            record = self.done.get((task.name, item.item_id, method.label(), turn))
            if needs_run(record, self.config.retime):
                record = self._sample(task, item, method, turn, history, replacing=record)
                writer.append(record)
                bar.set_postfix_str(_postfix(record), refresh=False)
                bar.update(1)
            history.append(record.output)

    def _bar(self, planned: int, resumed: int) -> tqdm:
        return tqdm(
            total=planned, initial=resumed, unit="sample", desc=self.config.out.name, dynamic_ncols=True,
            disable=not self.config.progress, file=sys.stderr,
        )

    def _warm_up(self, task: Task, item: TaskItem) -> None:
        """One short unrecorded generation per method, so one-time costs (lazy loading, first
        kernel calls) do not land on whichever method happens to run first."""
        for method in self.plan.methods:
            self.pipeline.generate(task.messages(item, 0, ()), method=method, max_new_tokens=self.config.warmup_tokens)

    def _sample(
        self, task: Task, item: TaskItem, method: Method, turn: int, history: list[str],
        replacing: SampleRecord | None = None,
    ) -> SampleRecord:
        messages = task.messages(item, turn, history)
        generation = {
            "max_new_tokens": self.config.max_new_tokens or task.default_max_new_tokens,
            "temperature": self.config.temperature,
            "seed": sample_seed(self.config.seed, task.name, item.item_id, turn),
        }
        started_at = _now()
        load_before = runinfo.snapshot()
        self.pipeline.clear_prefix_caches()  # every sample starts cold, whichever method ran the item before
        start = time.perf_counter()
        try:
            result = self.pipeline.generate(messages, method=method, **generation)
        except VerispecError as error:  # say which sample, as it fails again on every rerun
            raise type(error)(f"{task.name} item {item.item_id}, {method.label()}, turn {turn + 1}: {error}") from error
        generate_seconds = time.perf_counter() - start
        others = runinfo.others_share(load_before, runinfo.snapshot())
        score = task.score(item, [*history, result.text])
        score_seconds = time.perf_counter() - start - generate_seconds
        timing = {"started_at": started_at, "generate_seconds": generate_seconds, "score_seconds": score_seconds,
                  "others_cpu_share": others}
        if replacing is not None:
            timing["replaces"] = _replaced_timing(replacing, result.token_ids)
        return SampleRecord(
            task=task.name, item_id=item.item_id, turn=turn, method=method.label(),
            method_config=self._method_config(method),
            generation=generation, prompt=[dict(m) for m in messages], output=result.text,
            token_ids=list(result.token_ids), pieces=list(result.pieces),
            provenance=[p.value for p in result.provenance], finish_reason=result.finish_reason,
            stats=result.stats.to_dict(),
            timing=timing,
            score=None if score is None else {"correct": score.correct, "extracted": score.extracted, "detail": score.detail},
            authors=result.authors, rule_scores=result.rule_scores, rule_stops=result.rule_stops,
        )

    def _method_config(self, method: Method) -> dict[str, Any]:
        config = {"name": method.name, "options": dict(method.options), "lossless": method.spec.lossless}
        if method.label() in self.heads:
            config[HEAD_DIGEST] = self.heads[method.label()]
        return config


def needs_run(record: SampleRecord | None, retime: bool) -> bool:
    """Whether a sample with this record (None: not run yet) is to be generated: when it is missing,
    or with ``retime`` when its timing is not known to be clean."""
    return record is None or (retime and not record.timed_quietly)


def _replaced_timing(record: SampleRecord, token_ids: Sequence[int]) -> dict[str, Any]:
    """What a re-timed record keeps of the one it replaces; ``same_tokens`` shows the rerun reproduced it."""
    return {
        "started_at": record.timing["started_at"],
        "generate_seconds": record.timing["generate_seconds"],
        "others_cpu_share": record.timing.get("others_cpu_share"),
        "same_tokens": list(token_ids) == record.token_ids,
    }


def sample_seed(seed: int, task: str, item_id: str, turn: int) -> int:
    """The sampling seed of one sample: the same for every method, so sampled runs pair up."""
    digest = hashlib.sha256(f"{seed}:{task}:{item_id}:{turn}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def _postfix(record: SampleRecord) -> str:
    return f"{record.task} {record.method} {record.stats['tokens_per_second']:.1f} tok/s"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _invocation(config: RunConfig, plan: RunPlan, argv: Sequence[str] | None) -> dict[str, Any]:
    """What ``run.json`` keeps of one call: when, how, on which code and machine."""
    return {
        "started_at": _now(),
        "argv": list(argv) if argv is not None else None,
        "tasks": [spec for spec, _, _ in plan.tasks],
        "methods": [m.label() for m in plan.methods],
        "limit": config.limit,
        "versions": runinfo.versions(),
        "commit": runinfo.commit(),
        "machine": runinfo.machine(),
    }

