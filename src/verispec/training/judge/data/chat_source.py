"""General chat samples: open prompts (explanations, advice, writing, how-to) and model answers.

Open questions have no single right answer, so a model's answer is all good unless it holds a
checkable error: a wrong arithmetic step is marked. These samples teach the judge that wording
it would not have chosen is not an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from importlib.resources import files

from verispec.errors import ConfigError
from verispec.eval.tasks.base import Split, Task, TaskItem, subset
from verispec.training.judge.data.arithmetic import first_error
from verispec.training.judge.data.records import Source
from verispec.training.judge.data.source import Outcome, make_dropped, make_sample

PROMPTS_FILE = "chat_prompts.jsonl"


class OpenPrompts:
    """The open prompts shipped with this package, as a task (they are all training items)."""

    name = "open_prompts"
    kind = "chat"
    default_max_new_tokens = 192

    def __init__(self, prompts: Sequence[tuple[str, str]] | None = None) -> None:
        self._items = [
            TaskItem(task=self.name, item_id=id_, turns=(prompt,), reference=None)
            for id_, prompt in (prompts if prompts is not None else load_prompts())
        ]

    def items(self, split: Split = "train", limit: int | None = None, seed: int = 0) -> list[TaskItem]:
        """Every prompt is for training: no evaluation reads them."""
        if split != "train":
            raise ConfigError(f"{self.name} has only a train split; got {split!r}")
        return subset(self._items, limit, seed)

    def messages(self, item: TaskItem, turn: int = 0, history: Sequence[str] = ()) -> list[dict[str, str]]:
        """The prompt as one user message."""
        return [{"role": "user", "content": item.turns[0]}]

    def score(self, item: TaskItem, outputs: Sequence[str]) -> None:
        """Open answers are not scored."""


def load_prompts() -> list[tuple[str, str]]:
    """(id, prompt) pairs from the package's prompt file."""
    text = files("verispec.training.judge.data").joinpath(PROMPTS_FILE).read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [(record["id"], record["prompt"]) for record in records]


class ChatSource:
    """Model answers to the open prompts; there are no reference answers."""

    source: Source = "chat"

    def __init__(self, max_new_tokens: int = 192, prompts: Sequence[tuple[str, str]] | None = None) -> None:
        self.task = OpenPrompts(prompts)
        self.max_new_tokens = max_new_tokens

    def items(self, limit: int | None, seed: int) -> list[tuple[Task, TaskItem]]:
        """Up to `limit` prompts."""
        return [(self.task, item) for item in self.task.items("train", limit=limit, seed=seed)]

    def reference_ids(self, task: Task, item: TaskItem) -> list[str]:
        """None: open prompts have no reference answer."""
        return []

    def reference(self, task: Task, item: TaskItem) -> Iterator[Outcome]:
        """None: open prompts have no reference answer."""
        return iter(())

    def label(self, task: Task, item: TaskItem, response: str, model: str, variant: str) -> Iterator[Outcome]:
        """All good, unless the arithmetic check finds a wrong step."""
        if not response.strip():
            yield make_dropped(self.source, task, item, model, variant, "empty response")
            return
        finding = first_error(response)
        if finding is None:
            yield make_sample(self.source, task, item, response, model, variant, [], "chat-model-response")
        elif finding.span is None:
            reason = "a wrong step rewrites an expression; its first wrong character is unknown"
            yield make_dropped(self.source, task, item, model, variant, reason)
        else:
            yield make_sample(self.source, task, item, response, model, variant, [finding.span], "arithmetic-recheck")
