"""Mine labels where the judge decides, AutoJudge's way: at the draft's own disagreements.

For each training item of a checkable task (GSM8K and MBPP by default), the verifier answers
greedily. At each position where the draft's greedy token (given the verifier's prefix) differs,
the draft's token is put in and the verifier finishes greedily; the token is *important* when the
final answer (the number; for code, whether the tests pass) differs from the verifier's own.
Harmless swaps anywhere in the running text are kept as unimportant, as AutoJudge keeps them.

Fast on a CPU: answers and rollouts run ``width`` at a time in one multi-sequence llama.cpp
context (one decode call per step for all of them), rollouts fork the answer's cached prefix,
and a code rollout stops once its answer is settled (a closed code block defining the function:
later text cannot change which code is tested). Everything is appended as it is made; a rerun
skips what is done, and a larger ``per_item`` adds positions to items already mined.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import zip_longest
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import PreTrainedTokenizerBase

from verispec.backends.base import ModelBackend
from verispec.eval import get_task
from verispec.eval.records import RecordWriter
from verispec.eval.tasks.answers import extract_number
from verispec.eval.tasks.base import Task, TaskItem
from verispec.eval.tasks.code import code_blocks, defines
from verispec.tokens import encode_prompt
from verispec.training.judge.mining.batched_greedy import (
    BUDGET,
    EOS,
    BatchedGreedy,
    GreedyJob,
)
from verispec.training.judge.mining.card import write_card
from verispec.training.judge.mining.records import (
    MinedData,
    MinedItem,
    MinedMismatch,
    read_mined,
)

DEFAULT_TASKS = ("gsm8k", "mbpp")
CARD_EVERY = 50  # labels between rewrites of the data card, so a long run's card stays current
_CLOSED_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)
_DRAFT_CHUNK = 64  # answer tokens per draft forward: all-position logits of a long answer take gigabytes


@dataclass(frozen=True)
class MineConfig:
    """What to mine: ``tasks``' training items (``limit`` per task), up to ``per_item`` mismatches each (0: all)."""

    out: Path
    tasks: tuple[str, ...] = DEFAULT_TASKS
    limit: int | None = None
    per_item: int = 0
    time_budget_s: float = float("inf")
    seed: int = 0


@dataclass(frozen=True)
class Models:
    """The pair being mined: names, the verifier's tokenizer and end tokens, the draft as a backend."""

    verifier: str
    draft: str
    backend: str
    tokenizer: PreTrainedTokenizerBase
    eos: frozenset[int]
    draft_model: ModelBackend


class Miner:
    """Runs the answers and rollouts of a mining pass and appends their records."""

    def __init__(self, config: MineConfig, models: Models, greedy: BatchedGreedy, *, progress: bool = True) -> None:
        self.config, self.models, self.greedy = config, models, greedy
        self.writer = RecordWriter(config.out)
        self.done = read_mined(config.out)
        self.tasks = {name: get_task(name) for name in config.tasks}
        self.deadline = time.monotonic() + config.time_budget_s
        self.added = {"items": 0, "mismatches": 0, "important": 0}
        self.bar = tqdm(desc="mining", unit="label", disable=not progress, dynamic_ncols=True)

    def run(self) -> dict[str, int]:
        """Mine until every item is done or the time budget is spent; returns what was added."""
        with self.bar:
            self.greedy.run(self._jobs(), self._finished)
        write_card(self.done, self.config.out)
        return self.added

    # --- jobs --------------------------------------------------------------------------------

    def _jobs(self) -> Iterator[GreedyJob]:
        """One job per item with work left: its answer (new items) or its cached prefix (resumed ones)."""
        per_task = [[(task, item) for item in task.items("train", limit=self.config.limit, seed=self.config.seed)]
                    for task in self.tasks.values()]
        for task, item in (pair for row in zip_longest(*per_task) for pair in row if pair):
            if time.monotonic() > self.deadline:
                return
            mined = self.done.items.get((task.name, item.item_id))
            if mined is None:
                prompt = encode_prompt(self.models.tokenizer, task.messages(item), chat=True)
                yield GreedyJob(prompt, task.default_max_new_tokens, hold=True, stop=self._stop_rule(task, item, []),
                                data=_Answer(task, item, prompt))
            elif self._left(mined):
                yield GreedyJob([*mined.prompt_ids, *mined.answer_ids], 0, hold=True, data=_Resumed(task, item, mined))

    def _rollouts(self, parent: GreedyJob, task: Task, item: TaskItem, mined: MinedItem) -> Iterator[GreedyJob]:
        """A job per chosen position not yet labelled; positions that need no verifier are labelled at once."""
        labelled = self.done.mismatches.get((task.name, item.item_id), {})
        budget = task.default_max_new_tokens
        drafted = dict(zip(mined.positions, mined.draft_tokens))
        for position in self._chosen(mined):
            if position in labelled:
                continue
            prefix = [*mined.answer_ids[:position], drafted[position]]
            if drafted[position] in self.models.eos or position + 1 >= budget:  # the answer ends here
                self._label(task, item, mined, position, [], EOS if drafted[position] in self.models.eos else BUDGET)
                continue
            yield GreedyJob([drafted[position]], budget - len(prefix), fork=(parent, len(mined.prompt_ids) + position),
                            stop=self._stop_rule(task, item, prefix), data=_Rollout(task, item, mined, position))

    def _chosen(self, mined: MinedItem) -> list[int]:
        """The positions to roll out: all, or the first ``per_item`` in a stable order by item (a larger
        ``per_item`` chooses a superset)."""
        if not self.config.per_item:
            return list(mined.positions)
        key = f"{self.config.seed}:{mined.task}:{mined.item_id}"
        ranked = sorted(mined.positions, key=lambda p: hashlib.sha256(f"{key}:{p}".encode()).digest())
        return sorted(ranked[: self.config.per_item])

    def _left(self, mined: MinedItem) -> bool:
        labelled = self.done.mismatches.get((mined.task, mined.item_id), {})
        return any(p not in labelled for p in self._chosen(mined))

    def _stop_rule(self, task: Task, item: TaskItem, prefix: list[int]) -> Callable[[list[int]], bool] | None:
        """For code: stop once a closed block defines the entry point (the tested code is then fixed)."""
        entry = item.meta.get("entry_point")
        if task.kind != "code" or not entry:
            return None
        tokenizer = self.models.tokenizer

        def settled(written: list[int]) -> bool:
            return "`" in tokenizer.decode(written[-1:]) and code_answer_settled(
                tokenizer.decode([*prefix, *written], skip_special_tokens=True), entry)

        return settled

    # --- finished jobs -----------------------------------------------------------------------

    def _finished(self, job: GreedyJob) -> Iterator[GreedyJob]:
        data = job.data
        if isinstance(data, _Answer):
            mined = self._record_answer(data, job)
            return self._rollouts(job, data.task, data.item, mined)
        if isinstance(data, _Resumed):
            return self._rollouts(job, data.task, data.item, data.mined)
        self._label(data.task, data.item, data.mined, data.position, job.written, job.finish)
        return iter(())

    def _record_answer(self, data: _Answer, job: GreedyJob) -> MinedItem:
        answer, correct = self._answer(data.task, data.item, job.written)
        drafted = draft_greedy_along(self.models.draft_model, data.prompt, job.written)
        positions = [i for i, (mine, theirs) in enumerate(zip(drafted, job.written)) if mine != theirs]
        mined = MinedItem(
            task=data.task.name, item_id=data.item.item_id, source=data.task.kind, prompt_ids=data.prompt,
            answer_ids=job.written, answer=answer, correct=correct, finish=job.finish, positions=positions,
            draft_tokens=[drafted[p] for p in positions], chosen=[], draft=self.models.draft,
            verifier=self.models.verifier, backend=self.models.backend,
        )
        mined = replace(mined, chosen=self._chosen(mined))
        self.writer.append(mined)
        self.done.items[(mined.task, mined.item_id)] = mined
        self.added["items"] += 1
        return mined

    def _label(self, task: Task, item: TaskItem, mined: MinedItem, position: int, written: list[int], finish: str) -> None:
        draft_token = mined.draft_tokens[mined.positions.index(position)]
        tokens = [*mined.answer_ids[:position], draft_token, *written]
        answer, correct = self._answer(task, item, tokens)
        record = MinedMismatch(
            task=task.name, item_id=item.item_id, position=position, draft_token=draft_token,
            verifier_token=mined.answer_ids[position], important=answer != mined.answer, answer=answer,
            correct=correct, finish=finish, written=len(written),
        )
        self.writer.append(record)
        self.done.mismatches.setdefault(record.key, {})[position] = record
        self.added["mismatches"] += 1
        self.added["important"] += record.important
        if self.added["mismatches"] % CARD_EVERY == 0:
            write_card(self.done, self.config.out)
        self.bar.update()
        self.bar.set_postfix(items=self.added["items"], important=self.added["important"], refresh=False)

    def _answer(self, task: Task, item: TaskItem, tokens: Sequence[int]) -> tuple[str | None, bool]:
        """(the answer the task reads, whether it is right): the number, or "pass"/"fail" for code."""
        text = self.models.tokenizer.decode(list(tokens), skip_special_tokens=True)
        correct = bool(task.score(item, [text]).correct)
        if task.kind == "code":
            return ("pass" if correct else "fail"), correct
        return extract_number(text), correct


@dataclass(frozen=True)
class _Answer:
    task: Task
    item: TaskItem
    prompt: list[int]


@dataclass(frozen=True)
class _Resumed:
    task: Task
    item: TaskItem
    mined: MinedItem


@dataclass(frozen=True)
class _Rollout:
    task: Task
    item: TaskItem
    mined: MinedItem
    position: int


def code_answer_settled(text: str, entry_point: str) -> bool:
    """True when a closed Python block defines ``entry_point``: the code the task tests (its first
    block defining the function) is then fixed, whatever follows."""
    python = code_blocks(text)
    return any(body in python and defines(body, entry_point) for _, body in _CLOSED_FENCE.findall(text))


@torch.inference_mode()
def draft_greedy_along(draft: ModelBackend, prompt: list[int], tokens: list[int]) -> list[int]:
    """The draft's greedy token at each position of ``tokens`` after ``prompt`` (teacher-forced)."""
    if not tokens:
        return []
    draft.reset()
    greedy = [int(draft.forward(prompt, last_only=True).logits[-1].argmax())]
    for start in range(0, len(tokens) - 1, _DRAFT_CHUNK):
        chunk = tokens[start : min(start + _DRAFT_CHUNK, len(tokens) - 1)]
        greedy += draft.forward(chunk).logits.argmax(dim=-1).tolist()
    return greedy


def mined_summary(data: MinedData) -> str:
    """One line: items, labelled mismatches, important ones."""
    counts = data.counts()
    return f"{counts['items']} items, {counts['mismatches']} labelled mismatches, {counts['important']} important"
