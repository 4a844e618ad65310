"""Math samples from GSM8K's training items: worked answers, corrupted results, model answers.

- The data set's worked answer, with its calculator annotations (`<<48/2=24>>`) removed, is an
  all-good response; it already ends in "#### N", the form the task's prompt asks for.
- Changing one computed result of a correct response ("48/2 = 24" -> "48/2 = 26") gives a bad
  response whose first error is that number.
- A model's response is graded by its final answer, which it must state ("####", "the answer
  is", a boxed number). A right one is all good (unless the arithmetic re-check finds a slip) and
  is also corrupted like a worked answer; in a wrong one
  the first arithmetic slip is marked, but only when every number before it comes from the
  problem or the worked answer, so that no reasoning error hides before the slip. Wrong
  responses with no such slip are dropped.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from verispec.eval import get_task
from verispec.eval.tasks.answers import boxed_contents
from verispec.eval.tasks.base import Task, TaskItem
from verispec.training.judge.data.arithmetic import (
    correct_results,
    first_error,
    numbers_in,
    parse_numeral,
    percentages_in,
    render,
)
from verispec.training.judge.data.records import REFERENCE_MODEL, Source, Span, sample_id
from verispec.training.judge.data.source import Outcome, make_dropped, make_sample

_ANNOTATION = re.compile(r"<<[^<>]*>>")
_ANSWER_PHRASE = re.compile(r"answer\s*(?:is|:|=)", re.IGNORECASE)  # as the task's answer extraction reads
_DELTAS = (1, 2, 3, 5, 10, -1, -2, -3, -10)
_SMALL_NUMBERS = 12  # step numbers, days of the week...: used freely, not evidence of a wrong path
CORRUPTION = "corruption"


@dataclass(frozen=True)
class Corruption:
    """A response with one number changed (`original` at `position` became `replacement`), and
    the span of the change's first wrong character."""

    text: str
    span: Span
    position: int
    original: str
    replacement: str


def reference_response(solution: str) -> str:
    """GSM8K's worked answer as a model would write it: without the calculator annotations."""
    return _ANNOTATION.sub("", solution).strip()


def corrupt_result(text: str, rng: random.Random) -> Corruption | None:
    """`text` with one correct computed result changed to a wrong value, or None if it has none.

    The arithmetic check must find the change as the text's first error, at exactly the marked
    span: that rules out changes it would accept (rounding) and texts with an earlier error.
    """
    if first_error(text) is not None:
        return None
    steps = correct_results(text)
    rng.shuffle(steps)
    for step in steps:
        assert step.written is not None  # correct_results keeps numeric results only
        start, end = step.written
        written = text[start:end]
        for value in _wrong_values(parse_numeral(written), rng):
            replacement = render(value, written)
            corrupted = text[:start] + replacement + text[end:]
            finding = first_error(corrupted)
            found_here = finding is not None and finding.step.written == (start, start + len(replacement))
            if found_here and finding.span is not None:
                return Corruption(corrupted, finding.span, start, written, replacement)
    return None


def _wrong_values(value: Fraction, rng: random.Random) -> list[Fraction]:
    """Plausible wrong results near `value`, in random order (never negative for a positive one)."""
    candidates = [value + delta for delta in _DELTAS] + [value * 10, value * 2]
    allowed = [c for c in candidates if c != value and (c >= 0 or value < 0)]
    rng.shuffle(allowed)
    return allowed


def is_grounded(prefix: str, question: str, solution: str) -> bool:
    """True when every number in `prefix` is small or appears in the question or the worked
    solution (a percentage also as a fraction, and back): the response followed the solution.

    Only real percentages are converted: allowing every number times 100 would let "2 * 200 =
    400" pass for a problem that mentions a 4.
    """
    known: set[Fraction] = set()
    for text in (question, solution):
        known |= set(numbers_in(text))
        known |= {n / 100 for n in percentages_in(text)}
    known |= {n * 100 for n in known if 0 < n < 1}
    return all(n in known or n <= _SMALL_NUMBERS for n in numbers_in(prefix))


def has_explicit_answer(response: str) -> bool:
    """True when the response states its final answer ("#### 5", "the answer is 5", a boxed 5);
    otherwise grading falls back to its last number, which may be any number it mentions."""
    return "####" in response or bool(boxed_contents(response)) or bool(_ANSWER_PHRASE.search(response))


class MathSource:
    """GSM8K's training items (or those of another task with GSM8K's answer format)."""

    source: Source = "math"

    def __init__(self, max_new_tokens: int = 320, task: Task | None = None) -> None:
        self.max_new_tokens = max_new_tokens
        self.task = task if task is not None else get_task("gsm8k")

    def items(self, limit: int | None, seed: int) -> list[tuple[Task, TaskItem]]:
        """Up to `limit` GSM8K training items."""
        return [(self.task, item) for item in self.task.items("train", limit=limit, seed=seed)]

    def reference_ids(self, task: Task, item: TaskItem) -> list[str]:
        """The worked answer and its corruption."""
        return [sample_id(task.name, item.item_id, REFERENCE_MODEL, v) for v in ("good", CORRUPTION)]

    def reference(self, task: Task, item: TaskItem) -> Iterator[Outcome]:
        """The worked answer (all good) and one corruption of it."""
        text = reference_response(item.meta["solution"])
        if first_error(text) is not None:
            reason = "the worked answer fails the arithmetic check"
            for variant in ("good", CORRUPTION):
                yield make_dropped(self.source, task, item, REFERENCE_MODEL, variant, reason)
            return
        yield make_sample(self.source, task, item, text, REFERENCE_MODEL, "good", [], "final-answer-correct")
        yield self._corruption(task, item, text, REFERENCE_MODEL, CORRUPTION)

    def label(self, task: Task, item: TaskItem, response: str, model: str, variant: str) -> Iterator[Outcome]:
        """A model's response graded by its final answer, and a corruption of a right one."""
        correct = task.score(item, [response]).correct and has_explicit_answer(response)
        finding = first_error(response)
        if finding is None and correct:
            yield make_sample(self.source, task, item, response, model, variant, [], "final-answer-correct")
            yield self._corruption(task, item, response, model, f"{variant}+{CORRUPTION}")
            return
        if finding is None:
            reason = "wrong or no stated final answer, no arithmetic error found"
        elif finding.span is None:
            reason = "the first wrong step rewrites an expression; its first wrong character is unknown"
        elif correct or is_grounded(response[: finding.span[0]], item.meta["question"], item.meta["solution"]):
            yield make_sample(self.source, task, item, response, model, variant, [finding.span], "arithmetic-recheck")
            return
        else:
            reason = "arithmetic error after numbers that are not in the problem or its solution"
        yield make_dropped(self.source, task, item, model, variant, reason)

    def _corruption(self, task: Task, item: TaskItem, text: str, model: str, variant: str) -> Outcome:
        rng = random.Random(f"{task.name}:{item.item_id}:{model}:{variant}")
        corruption = corrupt_result(text, rng)
        if corruption is None:
            return make_dropped(self.source, task, item, model, variant, "no computed result to corrupt")
        return make_sample(
            self.source, task, item, corruption.text, model, variant, [corruption.span], "corruption:number"
        )

