"""Labels for the draft's own disagreements with the verifier, mined by rollouts (no human).

The corruptions of the main builder are easy to spot; the mistakes a draft model makes are not,
and a θ calibrated on the former keeps the latter. This labels tokens where the judge decides at
decoding time, as AutoJudge does: for a training item that the verifier answers correctly, take
the positions where the draft's greedy token differs from the verifier's, put the draft's token
there, let the verifier finish greedily, and grade the answer. Still right: the draft's token was
acceptable (good). Now wrong: it was an error (bad). Each label is one sample whose response is the
verifier's text up to that position plus the draft's token; the verifier's prefix is context
(``labels_from``), so only the draft's token is labelled.

Items come from the math and code sources' training items; every sample is appended as it is
made, and a rerun skips the items already mined, so a run that stops at its time budget resumes.

    verispec judge mine-rollouts --out data/judge/rollouts.jsonl --items 30 --time-budget 120
"""

from __future__ import annotations

import argparse
import hashlib
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

import torch
from tqdm import tqdm

from verispec.errors import ConfigError, VocabularyMismatchError
from verispec.eval.tasks.base import Task, TaskItem
from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER
from verispec.pipeline import DTYPES, ModelHandle, Pipeline
from verispec.tokens import same_vocabulary
from verispec.training.judge.data.build import check_no_eval_items, write_outcome
from verispec.training.judge.data.card import make_card, write_card
from verispec.training.judge.data.code_source import CodeSource
from verispec.training.judge.data.math_source import MathSource
from verispec.training.judge.data.records import Sample, SampleWriter, Source, read_dropped, read_samples, sample_id
from verispec.training.judge.data.source import DataSource, Outcome, make_dropped, make_sample

DEFAULT_OUT = Path("data/judge/rollouts.jsonl")
ROLLOUT_SOURCES: tuple[Source, ...] = ("math", "code")
KEPT, CHANGED = "rollout:answer-kept", "rollout:answer-changed"
NOTES = (
    "rollout: the verifier answers a training item greedily (lossless sd); where the draft's greedy "
    "token differs, the draft's token is put in and the verifier finishes greedily. 'rollout:answer-kept': "
    "the answer is still right, the token is good; 'rollout:answer-changed': it became wrong, the token is bad.",
    "Only the draft's token is labelled: the verifier's text before it is context (labels_from).",
    "Items whose verifier answer is wrong are dropped (no right answer to keep); drafted end-of-turn tokens are not tried.",
)


@dataclass(frozen=True)
class RolloutConfig:
    """Where to write, which sources, how many items and disagreements per item, how long."""

    out: Path = DEFAULT_OUT
    sources: tuple[Source, ...] = ROLLOUT_SOURCES
    items: int = 30  # training items per source
    mismatches_per_item: int = 6
    time_budget_s: float = 60 * 60
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.sources) - set(ROLLOUT_SOURCES)
        if unknown:
            raise ConfigError(f"rollouts need answers that can be graded: choose sources from {', '.join(ROLLOUT_SOURCES)}, not {sorted(unknown)}")
        if self.items < 1 or self.mismatches_per_item < 1:
            raise ConfigError(f"items and mismatches per item must be at least 1, got {self.items} and {self.mismatches_per_item}")


@dataclass
class RolloutReport:
    """What one run added, and how many items the time budget left."""

    written: int = 0
    dropped: int = 0
    items_left: int = 0
    samples: list[Sample] = field(default_factory=list)


def mine_rollouts(
    config: RolloutConfig, pipeline: Pipeline, sources: Sequence[DataSource] | None = None, progress: bool = True
) -> RolloutReport:
    """Mine (or continue mining) rollout labels into ``config.out`` and write its data card."""
    if not same_vocabulary(pipeline.draft.tokenizer, pipeline.verifier.tokenizer):
        raise VocabularyMismatchError(
            f"rollouts put the draft's tokens into the verifier's text: {pipeline.draft.name!r} and "
            f"{pipeline.verifier.name!r} must share one vocabulary"
        )
    sources = list(sources) if sources is not None else [_SOURCES[name]() for name in config.sources]
    writer = SampleWriter(config.out)
    miner = _Miner(pipeline, config)
    per_source = [[(s, t, i) for t, i in s.items(config.items, config.seed)] for s in sources]
    # Round robin over sources, so that a run cut short by its budget still has some of each.
    todo = [job for round_ in zip_longest(*per_source) for job in round_ if job and not miner.started(writer, job[1], job[2])]
    report = RolloutReport()
    deadline = time.monotonic() + config.time_budget_s
    bar = tqdm(todo, desc="rollouts", unit="item", disable=not progress)
    for done, (source, task, item) in enumerate(bar):
        if time.monotonic() > deadline:
            report.items_left = len(todo) - done
            break
        for outcome in miner.mine(source, task, item):
            write_outcome(writer, outcome, report)
        bar.set_postfix(written=report.written, dropped=report.dropped)
    report.samples = read_samples(config.out)
    check_no_eval_items(report.samples)
    notes = [*NOTES, f"Draft {pipeline.draft.name}, verifier {pipeline.verifier.name}."]
    write_card(make_card(report.samples, read_dropped(config.out), {}, notes=notes), config.out)
    return report


class _Miner:
    """The rollouts of one draft and verifier pair."""

    def __init__(self, pipeline: Pipeline, config: RolloutConfig) -> None:
        self.pipeline = pipeline
        self.config = config
        self.draft = pipeline.draft
        self.verifier = pipeline.verifier

    def _variant(self, what: str | int) -> str:
        return f"rollout-after-{self.verifier.name}-{what}"

    def started(self, writer: SampleWriter, task: Task, item: TaskItem) -> bool:
        """True when an earlier run wrote or dropped anything for this item."""
        prefix = sample_id(task.name, item.item_id, self.draft.name, self._variant(""))
        return any(id_.startswith(prefix) for id_ in writer.written)

    def mine(self, source: DataSource, task: Task, item: TaskItem) -> Iterator[Outcome]:
        """The labelled disagreements of one item (or why there are none)."""
        budget = task.default_max_new_tokens
        answer = self.pipeline.generate(task.messages(item), method="sd", max_new_tokens=budget)
        if not task.score(item, [answer.text]).correct:
            yield self._dropped(source, task, item, "answer", "the verifier's own answer is wrong")
            return
        prompt, tokens = answer.prompt_token_ids, answer.token_ids
        drafted = draft_greedy_along(self.draft, prompt, tokens)
        eos = self.verifier.eos_token_ids
        disagreements = [t for t, (mine, theirs) in enumerate(zip(drafted, tokens)) if mine != theirs and mine not in eos]
        if not disagreements:
            yield self._dropped(source, task, item, "answer", "the draft agrees with every token of the verifier's answer")
            return
        key = f"{self.config.seed}:{task.name}:{item.item_id}"
        for position in choose_positions(disagreements, self.config.mismatches_per_item, key):
            yield self._rollout(source, task, item, prompt, tokens[:position], drafted[position], budget - position - 1)

    def _rollout(
        self, source: DataSource, task: Task, item: TaskItem, prompt: list[int], prefix: list[int], token: int, budget: int
    ) -> Outcome:
        tokenizer = self.verifier.tokenizer
        context, response = tokenizer.decode(prefix), tokenizer.decode([*prefix, token])
        if not response.startswith(context) or len(response) == len(context):
            return self._dropped(source, task, item, len(prefix), "the drafted token does not add whole characters")
        ids = [*prefix, token]
        if budget > 0:
            ids += self.pipeline.generate([*prompt, *ids], method="sd", max_new_tokens=budget).token_ids
        kept = bool(task.score(item, [tokenizer.decode(ids, skip_special_tokens=True)]).correct)
        spans = [] if kept else [(len(context), len(response))]
        return make_sample(
            source.source, task, item, response, self.draft.name, self._variant(len(prefix)), spans,
            KEPT if kept else CHANGED, labels_from=len(context),
        )

    def _dropped(self, source: DataSource, task: Task, item: TaskItem, what: str | int, reason: str) -> Outcome:
        return make_dropped(source.source, task, item, self.draft.name, self._variant(what), reason)


def draft_greedy_along(draft: ModelHandle, prompt: list[int], tokens: list[int]) -> list[int]:
    """The draft's greedy token at each position of ``tokens`` after ``prompt``, in one forward pass."""
    ids = torch.tensor([[*prompt, *tokens]], device=draft.model.device)
    with torch.inference_mode():
        logits = draft.model(input_ids=ids).logits[0, len(prompt) - 1 : len(prompt) + len(tokens) - 1]
    return logits.argmax(dim=-1).tolist()


def choose_positions(positions: Sequence[int], k: int, key: str) -> list[int]:
    """Up to ``k`` of ``positions``, a stable random choice by ``key``, in order."""
    rng = random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))
    return sorted(rng.sample(list(positions), min(k, len(positions))))


_SOURCES = {"math": MathSource, "code": CodeSource}


# --- command line --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `verispec judge mine-rollouts`."""
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the JSONL data set (default {DEFAULT_OUT})")
    parser.add_argument("--sources", default=",".join(ROLLOUT_SOURCES), help="math, code or both (default both)")
    parser.add_argument("--items", type=int, default=RolloutConfig.items, help="training items per source (default %(default)s)")
    parser.add_argument(
        "--mismatches", type=int, default=RolloutConfig.mismatches_per_item,
        help="disagreements rolled out per item (default %(default)s)",
    )
    parser.add_argument("--draft", default=DEFAULT_DRAFT, help="the draft whose tokens are judged (default %(default)s)")
    parser.add_argument("--verifier", default=DEFAULT_VERIFIER, help="the verifier that answers and finishes (default %(default)s)")
    parser.add_argument("--time-budget", type=float, default=60.0, help="minutes per run; rerun to continue (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="chooses the items and disagreements (default 0)")
    parser.add_argument("--dtype", default="bf16", choices=list(DTYPES))
    parser.add_argument("--device", default="cpu")


def run(args: argparse.Namespace) -> int:
    """Mine what the options describe; print what was added and where the card is."""
    config = RolloutConfig(
        out=args.out, sources=tuple(s.strip() for s in args.sources.split(",") if s.strip()),  # type: ignore[misc]
        items=args.items, mismatches_per_item=args.mismatches, time_budget_s=args.time_budget * 60, seed=args.seed,
    )
    pipeline = Pipeline(draft=args.draft, verifier=args.verifier, dtype=args.dtype, device=args.device)
    report = mine_rollouts(config, pipeline)
    bad = sum(s.is_bad for s in report.samples)
    print(f"added {report.written} labels and {report.dropped} dropped records; {config.out} holds {len(report.samples)} ({bad} bad)")
    if report.items_left:
        print(f"time budget spent with {report.items_left} items left: rerun to continue")
    print(f"card: {config.out.with_name(config.out.stem + '.card.md')}")
    return 0
