"""Multiple-choice samples from MMLU's and ARC's training items: the option letter is the token.

The tasks ask for the letter only, so a reference response is the right letter (sometimes
followed by the option's text, as models often add); a corrupted one names a wrong option, and
that letter is the first error. A model's response is graded like the task grades it; in a wrong
one the chosen letter is marked when it can be found unambiguously.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence

from verispec.eval import get_task
from verispec.eval.tasks.answers import extract_choice, letters
from verispec.eval.tasks.base import Task, TaskItem
from verispec.eval.tasks.choice import MultipleChoice
from verispec.training.judge.data.records import REFERENCE_MODEL, Source, Span, sample_id
from verispec.training.judge.data.source import Outcome, make_dropped, make_sample

_DECORATION = r"[\s(\[*\"'`]*"


def letter_response(choice: MultipleChoice, index: int, with_text: bool) -> str:
    """An answer naming option `index`: "B", or "B. <option text>"."""
    letter = letters(len(choice.options))[index]
    return f"{letter}. {choice.options[index].strip()}" if with_text else letter


def locate_letter(response: str, letter: str, valid: str) -> Span | None:
    """Where `response` first commits to `letter`: at its start, after "answer (is)", or as
    "(X)" / "option X"; None when that is unclear or another option letter stands before it."""
    patterns = (
        rf"^{_DECORATION}({letter})(?:[).\]:,*\"'`]|\s*$|\s+[-\u2013])",
        rf"(?i:answer)(?:\s+is)?\s*[:-]?{_DECORATION}(?i:option\s+)?({letter})(?![\w'])",
        rf"\(({letter})\)",
        rf"(?i:option|choice)\s+({letter})(?![\w'])",
    )
    starts = [m.start(1) for p in patterns if (m := re.search(p, response))]
    if not starts:
        return None
    start = min(starts)
    earlier_letters = re.findall(rf"(?<![\w'])[{valid}](?![\w'])", response[:start])
    return None if earlier_letters else (start, start + 1)


class ChoiceSource:
    """MMLU's dev and validation questions and ARC-Challenge's validation questions (or the
    training items of `tasks`)."""

    source: Source = "choice"

    def __init__(self, tasks: Sequence[Task] | None = None, max_new_tokens: int = 16) -> None:
        self.tasks = list(tasks) if tasks is not None else [get_task("mmlu"), get_task("arc_challenge")]
        self.max_new_tokens = max_new_tokens

    def items(self, limit: int | None, seed: int) -> list[tuple[Task, TaskItem]]:
        """Up to `limit` training items of each task."""
        return [(task, item) for task in self.tasks for item in task.items("train", limit=limit, seed=seed)]

    def reference_ids(self, task: Task, item: TaskItem) -> list[str]:
        """The right and the wrong answer."""
        return [sample_id(task.name, item.item_id, REFERENCE_MODEL, v) for v in ("right", "wrong")]

    def reference(self, task: Task, item: TaskItem) -> Iterator[Outcome]:
        """The right letter (all good) and a wrong letter (marked), in one of two styles."""
        choice: MultipleChoice = item.reference
        rng = random.Random(f"{task.name}:{item.item_id}")
        with_text = rng.random() < 0.5
        wrong = rng.choice([i for i in range(len(choice.options)) if i != choice.answer])
        right_text = letter_response(choice, choice.answer, with_text)
        wrong_text = letter_response(choice, wrong, with_text)
        yield make_sample(self.source, task, item, right_text, REFERENCE_MODEL, "right", [], "right-option")
        yield make_sample(self.source, task, item, wrong_text, REFERENCE_MODEL, "wrong", [(0, 1)], "wrong-option")

    def label(self, task: Task, item: TaskItem, response: str, model: str, variant: str) -> Iterator[Outcome]:
        """A model's answer: all good with the right letter, marked at a wrong one."""
        choice: MultipleChoice = item.reference
        chosen = extract_choice(response, choice.options)
        if chosen == choice.letter:
            yield make_sample(self.source, task, item, response, model, variant, [], "right-option")
            return
        span = locate_letter(response, chosen, letters(len(choice.options))) if chosen else None
        if span is None:
            yield make_dropped(self.source, task, item, model, variant, "no option letter found where it is chosen")
            return
        yield make_sample(self.source, task, item, response, model, variant, [span], "wrong-option")
