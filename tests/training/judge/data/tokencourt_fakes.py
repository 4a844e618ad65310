"""Tiny in-memory tasks and a scripted model for the data builder's tests (no data packages)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from verispec.eval.tasks.base import Split, TaskItem
from verispec.eval.tasks.choice import MultipleChoice, MultipleChoiceTask, format_question
from verispec.eval.tasks.code import CodeReference, ExecutedCodeTask
from verispec.eval.tasks.gsm8k import Gsm8k
from verispec.training.judge.data.generation import Decoding

MATH_DOCS = {
    "train": [
        {
            "id": 1,
            "question": "Jean has 30 lollipops and eats 2. She packs the rest in bags of 2. How many bags?",
            "answer": "Jean has 30 - 2 = <<30-2=28>>28 lollipops\nShe fills 28 / 2 = <<28/2=14>>14 bags\n#### 14",
            "short_answer": "14",
        },
        {
            "id": 2,
            "question": "A pen costs $3. How much do 4 pens cost?",
            "answer": "4 pens cost 4 * 3 = <<4*3=12>>12 dollars\n#### 12",
            "short_answer": "12",
        },
    ],
    "eval": [{"id": 3, "question": "What is 1 + 1?", "answer": "1 + 1 = <<1+1=2>>2\n#### 2", "short_answer": "2"}],
}

# clip: some edits keep the tests passing (x <= 10, the first 10 -> 11), others make them fail.
CLIP = "def clip(x):\n    if x < 10:\n        return x\n    return 10"
CLIP_TESTS = "assert clip(3) == 3\nassert clip(20) == 10\n"


class FakeGsm8k(Gsm8k):
    """GSM8K's prompt and scoring over two training problems and one evaluation problem."""

    name = "fake_gsm8k"

    def _load(self, split: Split) -> list[TaskItem]:
        return [self._item(doc) for doc in MATH_DOCS[split]]


class FakeMbpp(ExecutedCodeTask):
    """One MBPP-style training problem whose tests only partly pin the function down."""

    name = "fake_mbpp"

    def __init__(self) -> None:
        super().__init__(timeout_s=10.0)

    def _load(self, split: Split) -> list[TaskItem]:
        if split == "eval":
            return []
        reference = CodeReference("clip", "", "", CLIP_TESTS, CLIP)
        prompt = f"Write clip(x).\nYour code should pass these tests:\n\n{CLIP_TESTS}"
        return [TaskItem(self.name, "7", (prompt,), reference)]


class FakeChoice(MultipleChoiceTask):
    """Two four-option questions."""

    name = "fake_choice"

    def _load(self, split: Split) -> list[TaskItem]:
        questions = [("Which is a fruit?", ("Carrot", "Apple", "Potato", "Leek"), 1),
                     ("Which is a colour?", ("Red", "Table", "Dog", "Run"), 0)]  # fmt: skip
        return [
            TaskItem(self.name, f"q{i}", (format_question(q, options, False),), MultipleChoice(options, answer))
            for i, (q, options, answer) in enumerate(questions)
        ]


class ScriptedModel:
    """A 'model' whose answer is a function of the prompt; counts its calls."""

    def __init__(self, name: str, answer: Callable[[str], str]) -> None:
        self.name = name
        self.answer = answer
        self.calls = 0

    def generate(self, messages: Sequence[dict[str, str]], max_new_tokens: int, decoding: Decoding) -> str:
        self.calls += 1
        return self.answer(messages[-1]["content"])
