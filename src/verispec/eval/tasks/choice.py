"""What multiple-choice tasks share: the gold answer, the prompt, scoring a generated letter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from verispec.eval.tasks.answers import extract_choice, letters
from verispec.eval.tasks.base import Score, SingleTurnTask, TaskItem, first_output

# Coder-tuned chat models start explaining under a softer wording ("Answer with the letter only")
# and run out of tokens before naming a letter; listing the letters and forbidding the explanation
# got a bare letter from the 1.5B on all four abstract-algebra items that failed before.
_LETTER_ONLY = "Reply with only the letter ({letters}) of the correct option. Do not explain."
_REASONED = (
    "Think it through briefly, then finish with 'Answer: X', "
    "where X is the letter of the correct option."
)


@dataclass(frozen=True)
class MultipleChoice:
    """A question's options and the index of the right one."""

    options: tuple[str, ...]
    answer: int

    @property
    def letter(self) -> str:
        """The right option's letter."""
        return letters(len(self.options))[self.answer]


def format_question(question: str, options: Sequence[str], reasoned: bool, header: str = "") -> str:
    """The user message: optional header, the question, lettered options, the answer format."""
    lines = [header, question.strip()] if header else [question.strip()]
    lines += [f"{letter}. {option}" for letter, option in zip(letters(len(options)), options)]
    instruction = _REASONED if reasoned else _LETTER_ONLY.format(letters=_spoken_list(letters(len(options))))
    return "\n".join(lines) + "\n\n" + instruction


def _spoken_list(items: Sequence[str]) -> str:
    """``A, B, C or D``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


class MultipleChoiceTask(SingleTurnTask):
    """A multiple-choice task answered by generation.

    By default the model answers with the letter only (a few tokens); `reasoned=True` asks for
    brief reasoning that ends in "Answer: X", which gives speculative decoding text to work on.
    """

    kind = "multiple_choice"

    def __init__(self, reasoned: bool = False, max_new_tokens: int | None = None) -> None:
        super().__init__()
        self.reasoned = reasoned
        self.default_max_new_tokens = max_new_tokens or (384 if reasoned else 16)

    def score(self, item: TaskItem, outputs: Sequence[str]) -> Score:
        """Correct when the letter read from the output is the right one."""
        gold: MultipleChoice = item.reference
        output = first_output(outputs)
        extracted = extract_choice(output, gold.options) if output is not None else None
        detail = (
            "no option letter found" if extracted is None else f"{extracted} vs gold {gold.letter}"
        )
        return Score(extracted == gold.letter, extracted, detail)

    def reference_answer(self, item: TaskItem) -> str | None:
        """The right letter (after reasoning prompts, in the asked-for ``Answer: X`` form)."""
        letter = item.reference.letter
        return f"Answer: {letter}" if self.reasoned else letter
