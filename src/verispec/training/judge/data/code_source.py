"""Code samples from MBPP's training items: reference solutions, planted bugs, model answers.

- The reference solution in a ```python block (as chat models answer) is all good once it passes
  the item's tests in the sandbox.
- A corruption swaps one operator, comparison or constant of the reference, or misspells one
  read of a variable (or reads its neighbour in number: "numbers" for "number"); it is kept only
  when the tests then fail, and the changed characters are the first error.
- A model's answer that passes the tests is all good. One that fails is labelled only when a
  single edit of the same kinds makes it pass: the earliest such edit marks the first error.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from verispec.eval import get_task
from verispec.eval.execution import ExecutionLimits, Status, run_program
from verispec.eval.tasks.base import Task, TaskItem
from verispec.eval.tasks.code import CodeReference, build_program, parse_prefix, pick_code
from verispec.training.judge.data.mutations import Mutation, identifier_mutations, mutations
from verispec.training.judge.data.records import REFERENCE_MODEL, Source, sample_id
from verispec.training.judge.data.source import Outcome, make_dropped, make_sample

_FENCE_OPEN = "```python\n"
_FENCE_CLOSE = "\n```"
DEFAULT_LIMITS = ExecutionLimits(timeout_s=10.0)


def fenced(code: str) -> str:
    """`code` as a chat model's answer: one ```python block."""
    return _FENCE_OPEN + code + _FENCE_CLOSE


def clean_solution(code: str) -> str:
    """A data set solution as a chat model writes code: Unix line ends (MBPP's are CRLF), no
    trailing spaces, four spaces per indenting tab."""
    lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(_spaces_for_tabs(line.rstrip()) for line in lines).strip("\n")


def _spaces_for_tabs(line: str) -> str:
    body = line.lstrip(" \t")
    return line[: len(line) - len(body)].replace("\t", "    ") + body


def run_tests(response: str, reference: CodeReference, limits: ExecutionLimits) -> Status:
    """How the program in `response` does on the item's tests in the sandbox."""
    program = build_program(response, reference)
    return run_program(f"{program}\n{reference.setup}\n{reference.tests}", limits).status


class CodeSource:
    """MBPP's training items (or those of `tasks`: any task whose reference is a `CodeReference`)."""

    source: Source = "code"

    def __init__(
        self,
        tasks: Sequence[Task] | None = None,
        corruptions_per_item: int = 2,
        identifier_corruptions_per_item: int = 1,
        max_tries: int = 12,
        max_repairs: int = 40,
        limits: ExecutionLimits = DEFAULT_LIMITS,
        max_new_tokens: int = 320,
    ) -> None:
        self.tasks = list(tasks) if tasks is not None else [get_task("mbpp")]
        self.corruptions_per_item = corruptions_per_item
        self.identifier_corruptions_per_item = identifier_corruptions_per_item
        self.max_tries = max_tries  # test runs spent looking for failing corruptions, per item
        self.max_repairs = max_repairs  # test runs spent looking for a repair, per model answer
        self.limits = limits
        self.max_new_tokens = max_new_tokens

    def items(self, limit: int | None, seed: int) -> list[tuple[Task, TaskItem]]:
        """Up to `limit` training items of each task."""
        return [(task, item) for task in self.tasks for item in task.items("train", limit=limit, seed=seed)]

    def reference_ids(self, task: Task, item: TaskItem) -> list[str]:
        """The solution and its numbered corruptions."""
        return [sample_id(task.name, item.item_id, REFERENCE_MODEL, v) for v in self._reference_variants()]

    def reference(self, task: Task, item: TaskItem) -> Iterator[Outcome]:
        """The reference solution (when it passes) and corruptions that make the tests fail."""
        code = clean_solution(item.reference.solution)
        response = fenced(code)
        if run_tests(response, item.reference, self.limits) != "passed":
            for variant in self._reference_variants():
                yield make_dropped(self.source, task, item, REFERENCE_MODEL, variant, "the reference fails its tests")
            return
        yield make_sample(self.source, task, item, response, REFERENCE_MODEL, "good", [], "tests-pass")
        operators = self._failing_corruptions(item, code, mutations(code), self.corruptions_per_item, "")
        identifiers = self._failing_corruptions(
            item, code, identifier_mutations(code), self.identifier_corruptions_per_item, ":identifier"
        )
        for variants, kept in ((self._operator_variants(), operators), (self._identifier_variants(), identifiers)):
            yield from self._corruptions(task, item, code, variants, kept)

    def _corruptions(
        self, task: Task, item: TaskItem, code: str, variants: list[str], kept: list[Mutation]
    ) -> Iterator[Outcome]:
        """One sample per variant slot while corruptions last, then one drop per empty slot."""
        for variant, mutation in zip(variants, kept):
            span = mutation.planted_span(len(_FENCE_OPEN))
            corrupted = fenced(mutation.apply(code))
            yield make_sample(
                self.source, task, item, corrupted, REFERENCE_MODEL, variant, [span], f"corruption:{mutation.kind}"
            )
        reason = "no further corruption makes the tests fail"
        for variant in variants[len(kept) :]:
            yield make_dropped(self.source, task, item, REFERENCE_MODEL, variant, reason)

    def label(self, task: Task, item: TaskItem, response: str, model: str, variant: str) -> Iterator[Outcome]:
        """A model's answer: all good when it passes, else marked at its earliest one-edit repair."""
        if run_tests(response, item.reference, self.limits) == "passed":
            yield make_sample(self.source, task, item, response, model, variant, [], "tests-pass")
            return
        repair = self._repair(response, item.reference)
        if repair is None:
            yield make_dropped(self.source, task, item, model, variant, "fails its tests; no single edit repairs it")
            return
        mutation, offset = repair
        span = mutation.repaired_span(offset)
        yield make_sample(self.source, task, item, response, model, variant, [span], f"repair:{mutation.kind}")

    def _reference_variants(self) -> list[str]:
        return ["good", *self._operator_variants(), *self._identifier_variants()]

    def _operator_variants(self) -> list[str]:
        return [f"corruption-{i + 1}" for i in range(self.corruptions_per_item)]

    def _identifier_variants(self) -> list[str]:
        return [f"identifier-{i + 1}" for i in range(self.identifier_corruptions_per_item)]

    def _failing_corruptions(
        self, item: TaskItem, code: str, candidates: list[Mutation], count: int, salt: str
    ) -> list[Mutation]:
        """Up to `count` of `candidates` that fail the tests, of different kinds first.

        The order is random but fixed by the item and `salt`, so a rebuild finds the same corruptions.
        """
        random.Random(f"{item.task}:{item.item_id}{salt}").shuffle(candidates)
        kept: list[Mutation] = []
        tried = 0
        for mutation in _kinds_first(candidates):
            if len(kept) == count or tried == self.max_tries:
                break
            if any(m.start < mutation.end and mutation.start < m.end for m in kept):
                continue  # one site gives one sample
            tried += 1
            # A timeout may only be a slow machine: keep corruptions that make the tests fail.
            if run_tests(fenced(mutation.apply(code)), item.reference, self.limits) == "failed":
                kept.append(mutation)
        return kept

    def _repair(self, response: str, reference: CodeReference) -> tuple[Mutation, int] | None:
        """The earliest single edit of the answer's code that makes it pass, with the code's
        offset in the response; None when there is none within `max_repairs` test runs."""
        code = pick_code(response, reference.entry_point)
        offset = response.find(code)
        if not code.strip() or offset < 0:
            return None
        parsed, _ = parse_prefix(code)
        for mutation in mutations(parsed)[: self.max_repairs]:
            repaired = response[:offset] + mutation.apply(parsed) + response[offset + len(parsed) :]
            if run_tests(repaired, reference, self.limits) == "passed":
                return mutation, offset
        return None


def _kinds_first(candidates: list[Mutation]) -> list[Mutation]:
    """`candidates` reordered so each kind's first candidate comes before any kind's second."""
    rank: dict[str, int] = {}
    ranked = []
    for position, mutation in enumerate(candidates):
        rank[mutation.kind] = rank.get(mutation.kind, -1) + 1
        ranked.append((rank[mutation.kind], position, mutation))
    return [mutation for _, _, mutation in sorted(ranked, key=lambda r: (r[0], r[1]))]
