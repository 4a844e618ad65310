"""The task interface the runner uses, and what every task shares: splits, subsets, messages."""

from __future__ import annotations

import hashlib
import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from verispec.errors import ConfigError

Split = Literal["eval", "train"]
SPLITS: tuple[Split, ...] = ("eval", "train")


@dataclass(frozen=True)
class TaskItem:
    """One benchmark question: the user turns to send and what scoring needs."""

    task: str
    item_id: str
    turns: tuple[str, ...]  # user messages, one per turn
    reference: Any  # gold answer, tests or choices; task-specific
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Score:
    """The verdict on one item's outputs."""

    correct: bool
    extracted: str | None  # the answer (or program) read from the output, None if none found
    detail: str  # why, in a few words


@runtime_checkable
class Task(Protocol):
    """A benchmark: its items, the chat messages for an item, and how to score the outputs."""

    name: str
    kind: str  # "math" | "code" | "multiple_choice" | "chat"
    default_max_new_tokens: int

    def items(
        self, split: Split = "eval", limit: int | None = None, seed: int = 0
    ) -> list[TaskItem]:
        """The split's items, or a deterministic subset of `limit` of them chosen by `seed`."""
        ...

    def messages(
        self, item: TaskItem, turn: int = 0, history: Sequence[str] = ()
    ) -> list[dict[str, str]]:
        """Chat messages for `turn`; `history` holds the model's answers to the earlier turns."""
        ...

    def score(self, item: TaskItem, outputs: Sequence[str]) -> Score | None:
        """Score the model's outputs (one per turn); None for unscored tasks."""
        ...


def is_train_by_hash(task: str, item_id: str, train_fraction: float) -> bool:
    """True when the item belongs to the training split.

    A stable hash of the task name and item id decides, so the split never depends on order,
    subset size, seed or Python's hash randomisation, and adding items does not move others.
    """
    digest = hashlib.sha256(f"{task}:{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < train_fraction


def split_by_hash(items: Sequence[TaskItem], split: Split, train_fraction: float) -> list[TaskItem]:
    """The items of `split` when a stable hash of each item id assigns it (see is_train_by_hash)."""
    want_train = split == "train"
    return [i for i in items if is_train_by_hash(i.task, i.item_id, train_fraction) == want_train]


def subset(items: Sequence[TaskItem], limit: int | None, seed: int) -> list[TaskItem]:
    """A deterministic subset of `limit` items, kept in dataset order.

    Subsets with the same seed are nested: the first `n` chosen are among the first `n + k`.
    """
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 0:
        raise ConfigError(f"limit must be a non-negative number of items, got {limit}")
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    return [items[i] for i in sorted(order[:limit])]


def check_split(split: str) -> Split:
    """Validate a split name."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    return split  # type: ignore[return-value]


class DatasetTask(ABC):
    """Shared behaviour of tasks: load each split once, hand out deterministic subsets.

    Subclasses set `name`, `kind` and `default_max_new_tokens` and implement `_load(split)`
    (the split's items, prompts included, in dataset order), `messages` and `score`.
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    default_max_new_tokens: int

    def __init__(self) -> None:
        self._cache: dict[str, list[TaskItem]] = {}

    def items(
        self, split: Split = "eval", limit: int | None = None, seed: int = 0
    ) -> list[TaskItem]:
        """The split's items, or a deterministic subset of `limit` of them chosen by `seed`."""
        split = check_split(split)
        if split not in self._cache:
            self._cache[split] = self._load(split)
        return subset(self._cache[split], limit, seed)

    @abstractmethod
    def _load(self, split: Split) -> list[TaskItem]:
        """All items of `split`, in dataset order."""

    def reference_answer(self, item: TaskItem) -> str | None:
        """A correct answer in the form the prompt asks for (to train fusion classifiers on).

        None when the data set has no worked answer (for example open chat).
        """
        return None


class SingleTurnTask(DatasetTask):
    """A task with one question and one scored answer per item."""

    def messages(
        self, item: TaskItem, turn: int = 0, history: Sequence[str] = ()
    ) -> list[dict[str, str]]:
        """The single user message that asks the question."""
        if turn != 0:
            raise ConfigError(f"{self.name} has one turn; turn {turn} does not exist")
        return [{"role": "user", "content": item.turns[0]}]

    @abstractmethod
    def score(self, item: TaskItem, outputs: Sequence[str]) -> Score:
        """Score the answer to the first turn."""


def first_output(outputs: Sequence[str]) -> str | None:
    """The answer to the first turn, or None when there is none."""
    return outputs[0] if outputs else None
