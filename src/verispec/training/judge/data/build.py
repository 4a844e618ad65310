"""Build a TokenCourt-style judge data set with no human in the loop (`verispec judge build-data`).

First the cheap samples from the tasks' training items (worked answers, reference solutions and
option letters, and corruptions of them), then model responses within a time budget. Every
sample is appended as soon as it is made, and a rerun skips ids already written or dropped, so
an interrupted or budget-limited build continues where it stopped. The data card is rewritten
at the end of every run.

    python -m verispec.training.judge.data.build --out data/judge/tokencourt-auto.jsonl
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from verispec.errors import ConfigError, JudgeDataError
from verispec.eval import available_tasks, get_task
from verispec.eval.tasks.base import Task, TaskItem
from verispec.training.judge.data.card import make_card, write_card
from verispec.training.judge.data.chat_source import ChatSource
from verispec.training.judge.data.choice_source import ChoiceSource
from verispec.training.judge.data.code_source import CodeSource
from verispec.training.judge.data.generation import (
    Decoding,
    Generator,
    PipelineGenerator,
    ResponseCache,
    cache_path,
    decodings,
)
from verispec.training.judge.data.math_source import MathSource
from verispec.training.judge.data.records import (
    SOURCES,
    Sample,
    SampleWriter,
    Source,
    read_dropped,
    read_samples,
    sample_id,
)
from verispec.training.judge.data.review import (
    default_verdicts_path,
    load_verdicts,
    precision_by_source,
    stale_rejections,
)
from verispec.training.judge.data.source import DataSource, Outcome

DEFAULT_OUT = Path("data/judge/tokencourt-auto.jsonl")
DEFAULT_MODELS = ("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct")
# Reference items per source (choice: per task); None takes every training item.
DEFAULT_REFERENCE_ITEMS: dict[str, int | None] = {"math": None, "code": None, "choice": 100, "chat": None}
# Items each model answers per source (choice: per task).
DEFAULT_MODEL_ITEMS: dict[str, int | None] = {"math": 8, "code": 6, "choice": 20, "chat": 8}
DEFAULT_MAX_NEW_TOKENS: dict[str, int] = {"math": 320, "code": 320, "choice": 16, "chat": 192}
NOTES = (
    (
        "Items come from the tasks' training splits only (GSM8K and MBPP: hash-reserved items; MMLU: "
        "dev and validation; ARC-Challenge: validation; chat: this package's open prompts); the build "
        "checks that no evaluation item id appears."
    ),
    (
        "A span starts at the first character that departs from the right text (24 written as 26 "
        "marks '6'), so the first token of any tokenizer that overlaps it is the first wrong token."
    ),
    (
        "math: worked answers without calculator annotations are good; 'corruption:number' changes "
        "one computed result; model answers are graded by final answer and 'arithmetic-recheck' marks "
        "the first wrong result (in a wrong answer only when every earlier number is in the problem "
        "or its solution)."
    ),
    (
        "code: reference solutions in a ```python block pass their tests; corruptions swap one "
        "operator, comparison or constant, or misspell one read of a variable ('corruption:identifier', "
        "also the variable one letter away), and are kept only when the tests then fail; 'repair:*' "
        "marks the earliest single edit that makes a failing model answer pass."
    ),
    "choice: the letter is the answer the prompts ask for; a wrong letter is the error.",
    "chat: model answers to open prompts are all good unless the arithmetic check finds a wrong step.",
    (
        "Built by `verispec judge build-data` (`python -m verispec.training.judge.data.build`). The raw model "
        "responses are kept next to the data (*.responses.jsonl): deleting the data and dropped files "
        "and rerunning relabels everything without generating again."
    ),
)


@dataclass(frozen=True)
class BuildConfig:
    """What to build: where, from which sources, how many items, which models, how long."""

    out: Path = DEFAULT_OUT
    sources: tuple[Source, ...] = SOURCES
    reference_items: dict[str, int | None] = field(default_factory=lambda: dict(DEFAULT_REFERENCE_ITEMS))
    corruptions_per_code_item: int = 2
    identifier_corruptions_per_code_item: int = 1
    models: tuple[str, ...] = DEFAULT_MODELS
    model_items: dict[str, int | None] = field(default_factory=lambda: dict(DEFAULT_MODEL_ITEMS))
    max_new_tokens: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MAX_NEW_TOKENS))
    samples_per_item: int = 1  # greedy, then sampled responses
    temperature: float = 0.8
    time_budget_s: float = 30 * 60  # for model generation
    seed: int = 0
    dtype: str = "bf16"
    hand_checked: Path | None = None  # None: the verdicts shipped with the package

    def __post_init__(self) -> None:
        unknown = set(self.sources) - set(SOURCES)
        if unknown:
            raise ConfigError(f"unknown sources {sorted(unknown)}; choose from {', '.join(SOURCES)}")
        if any(not isinstance(n, int) or n < 1 for n in self.max_new_tokens.values()):
            raise ConfigError(f"max_new_tokens must be whole numbers >= 1 per source, got {self.max_new_tokens}")
        if self.samples_per_item < 1:
            raise ConfigError(f"samples_per_item must be at least 1, got {self.samples_per_item}")


@dataclass(frozen=True)
class Job:
    """One model response to generate and label."""

    source: DataSource
    task: Task
    item: TaskItem
    generator: Generator
    decoding: Decoding

    @property
    def id(self) -> str:
        return sample_id(self.task.name, self.item.item_id, self.generator.name, self.decoding.variant)


@dataclass
class BuildReport:
    """What one run added, and whether model generation finished."""

    written: int = 0
    dropped: int = 0
    responses: int = 0
    jobs_left: int = 0
    samples: list[Sample] = field(default_factory=list)


def make_sources(config: BuildConfig) -> list[DataSource]:
    """The data sources `config` asks for."""
    tokens = config.max_new_tokens
    factories = {
        "math": lambda: MathSource(tokens["math"]),
        "code": lambda: CodeSource(
            corruptions_per_item=config.corruptions_per_code_item,
            identifier_corruptions_per_item=config.identifier_corruptions_per_code_item,
            max_new_tokens=tokens["code"],
        ),
        "choice": lambda: ChoiceSource(max_new_tokens=tokens["choice"]),
        "chat": lambda: ChatSource(tokens["chat"]),
    }
    return [factories[name]() for name in config.sources]


def build(
    config: BuildConfig,
    sources: Sequence[DataSource] | None = None,
    generators: Sequence[Generator] | None = None,
    progress: bool = True,
) -> BuildReport:
    """Build (or continue) the data set and rewrite its card; see the module docstring."""
    sources = list(sources) if sources is not None else make_sources(config)
    if generators is None:
        generators = [PipelineGenerator(name, dtype=config.dtype) for name in config.models]
    writer = SampleWriter(config.out)
    report = BuildReport()
    for source in sources:
        _build_references(writer, source, config, report, progress)
    _build_responses(writer, _job_groups(sources, generators, config), config, report, progress)
    report.samples = read_samples(config.out)
    check_no_eval_items(report.samples)
    _write_card(config, report)
    return report


def _build_references(
    writer: SampleWriter, source: DataSource, config: BuildConfig, report: BuildReport, progress: bool
) -> None:
    items = source.items(config.reference_items.get(source.source), config.seed)
    for task, item in tqdm(items, desc=f"{source.source} references", disable=not progress):
        if all(writer.done(id_) for id_ in source.reference_ids(task, item)):
            continue
        for outcome in source.reference(task, item):
            write_outcome(writer, outcome, report)


def _job_groups(sources: Sequence[DataSource], generators: Sequence[Generator], config: BuildConfig) -> list[list[Job]]:
    """The responses to generate, one group per (source, model) pair."""
    groups = []
    for source in sources:
        limit = config.model_items.get(source.source, 0)
        if limit == 0:
            continue
        items = source.items(limit, config.seed)
        for generator in generators:
            groups.append([
                Job(source, task, item, generator, decoding)
                for task, item in items
                for decoding in decodings(config.samples_per_item, config.temperature)
            ])  # fmt: skip
    return groups


def _build_responses(
    writer: SampleWriter, groups: list[list[Job]], config: BuildConfig, report: BuildReport, progress: bool
) -> None:
    """Generate and label the pending responses. The next job always comes from the group that
    has used the least time so far, so that a build cut short by its time budget has a fair
    share of each source and model (a letter costs far less than a worked solution)."""
    queues = [[job for job in group if not writer.done(job.id)] for group in groups]
    spent = [0.0] * len(queues)
    cache = ResponseCache(cache_path(config.out))
    started = time.monotonic()
    bar = tqdm(total=sum(map(len, queues)), desc="model responses", disable=not progress)
    while any(queues):
        index = min((i for i, queue in enumerate(queues) if queue), key=lambda i: spent[i])
        job = queues[index][0]
        response = cache.get(job.id, job.source.max_new_tokens)
        if response is None:
            if time.monotonic() - started > config.time_budget_s:
                report.jobs_left = sum(map(len, queues))
                break
            bar.set_postfix_str(f"{job.generator.name} {job.source.source}")
            job_started = time.monotonic()
            response = job.generator.generate(job.task.messages(job.item), job.source.max_new_tokens, job.decoding)
            spent[index] += time.monotonic() - job_started
            cache.put(job.id, job.source.max_new_tokens, response)
            report.responses += 1
        queues[index].pop(0)
        for outcome in job.source.label(job.task, job.item, response, job.generator.name, job.decoding.variant):
            write_outcome(writer, outcome, report)
        bar.update()
    bar.close()


class OutcomeCounts(Protocol):
    """A run report that counts what it wrote and dropped."""

    written: int
    dropped: int


def write_outcome(writer: SampleWriter, outcome: Outcome, report: OutcomeCounts) -> None:
    """Append a sample or a dropped record, and count it in ``report`` if it was new."""
    if isinstance(outcome, Sample):
        report.written += writer.add(outcome)
    else:
        report.dropped += writer.drop(outcome)


def check_no_eval_items(samples: Sequence[Sample]) -> None:
    """Raise JudgeDataError when a sample comes from a registry task's evaluation split."""
    known = set(available_tasks())
    for task_name in sorted({s.task for s in samples} & known):
        eval_ids = {item.item_id for item in get_task(task_name).items("eval")}
        leaked = sorted(s.id for s in samples if s.task == task_name and s.item_id in eval_ids)
        if leaked:
            raise JudgeDataError(f"{len(leaked)} samples come from {task_name}'s evaluation split, e.g. {leaked[0]}")


def _write_card(config: BuildConfig, report: BuildReport) -> None:
    verdicts = load_verdicts(config.hand_checked or default_verdicts_path())
    notes = list(NOTES)
    if report.jobs_left:
        notes.append(
            f"Model generation stopped at its time budget with {report.jobs_left} responses left; "
            "rerunning the same command continues it."
        )
    precision = precision_by_source(report.samples, verdicts)
    fixed = stale_rejections(report.samples, verdicts)
    card = make_card(report.samples, read_dropped(config.out), precision, fixed, notes)
    write_card(card, config.out)


# --- command line --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `verispec judge build-data`."""
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the JSONL to append to (default {DEFAULT_OUT})")
    parser.add_argument(
        "--sources", default=",".join(SOURCES), help=f"comma-separated, from {', '.join(SOURCES)} (default all)"
    )
    parser.add_argument(
        "--reference-items",
        type=_per_source,
        default={},
        metavar="SOURCE=N,...",
        help="training items per source for reference and corruption samples; choice counts per task "
        f"(default {_show(DEFAULT_REFERENCE_ITEMS)}; 'all' for every item)",
    )
    parser.add_argument("--code-corruptions", type=int, default=2,
                        help="operator, comparison and constant corruptions per code item (default 2)")
    parser.add_argument("--identifier-corruptions", type=int, default=1,
                        help="misspelled or swapped variable names per code item (default 1)")
    parser.add_argument(
        "--models",
        default=",".join(DEFAULT_MODELS),
        help=f"comma-separated models that answer (registry names, paths or hub ids; default {','.join(DEFAULT_MODELS)})",
    )
    parser.add_argument("--no-models", action="store_true", help="reference and corruption samples only")
    parser.add_argument(
        "--model-items",
        type=_per_source,
        default={},
        metavar="SOURCE=N,...",
        help=f"items each model answers per source; choice counts per task (default {_show(DEFAULT_MODEL_ITEMS)})",
    )
    parser.add_argument(
        "--max-new-tokens",
        type=_per_source,
        default={},
        metavar="SOURCE=N,...",
        help=f"response length limit per source (default {_show(DEFAULT_MAX_NEW_TOKENS)})",
    )
    parser.add_argument(
        "--samples-per-item", type=int, default=1, help="responses per item and model: greedy, then sampled (default 1)"
    )
    parser.add_argument("--temperature", type=float, default=0.8, help="for the sampled responses (default 0.8)")
    parser.add_argument(
        "--time-budget", type=float, default=30.0, help="minutes of model generation per run (default 30)"
    )
    parser.add_argument("--seed", type=int, default=0, help="chooses the item subsets (default 0)")
    parser.add_argument("--dtype", default="bf16", choices=["bf16", "fp16", "fp32"])
    parser.add_argument(
        "--hand-checked", type=Path, help="verdicts of the hand-checked subset (default: the package's own)"
    )


def config_from_args(args: argparse.Namespace) -> BuildConfig:
    """The build configuration the parsed options describe."""
    models = () if args.no_models else tuple(m.strip() for m in args.models.split(",") if m.strip())
    return BuildConfig(
        out=args.out,
        sources=tuple(s.strip() for s in args.sources.split(",") if s.strip()),  # type: ignore[misc]
        reference_items={**DEFAULT_REFERENCE_ITEMS, **args.reference_items},
        corruptions_per_code_item=args.code_corruptions,
        identifier_corruptions_per_code_item=args.identifier_corruptions,
        models=models,
        model_items={**DEFAULT_MODEL_ITEMS, **args.model_items},
        max_new_tokens={**DEFAULT_MAX_NEW_TOKENS, **args.max_new_tokens},
        samples_per_item=args.samples_per_item,
        temperature=args.temperature,
        time_budget_s=args.time_budget * 60,
        seed=args.seed,
        dtype=args.dtype,
        hand_checked=args.hand_checked,
    )


def run(args: argparse.Namespace) -> int:
    """Build the data set the options describe; print what was added and where the card is."""
    config = config_from_args(args)
    report = build(config)
    bad = sum(s.is_bad for s in report.samples)
    print(
        f"added {report.written} samples and {report.dropped} dropped records from {report.responses} model "
        f"responses; {config.out} holds {len(report.samples)} samples ({bad} with an error)"
    )
    if report.jobs_left:
        print(f"time budget spent with {report.jobs_left} model responses left: rerun to continue")
    print(f"card: {config.out.with_name(config.out.stem + '.card.md')}")
    return 0


def _per_source(text: str) -> dict[str, int | None]:
    """'math=8,choice=all' as {'math': 8, 'choice': None}."""
    values: dict[str, int | None] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name not in SOURCES or not value:
            raise argparse.ArgumentTypeError(f"expected SOURCE=N with SOURCE in {', '.join(SOURCES)}, got {part!r}")
        try:
            values[name] = None if value == "all" else int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r}: N must be a whole number or 'all'") from None
    return values


def _show(values: dict[str, int | None]) -> str:
    return ",".join(f"{k}={'all' if v is None else v}" for k, v in values.items())


def main(argv: list[str] | None = None) -> int:
    """`python -m verispec.training.judge.data.build`: the same as `verispec judge build-data`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
