"""The mined data: per item the verifier's answer, per mismatch the draft's token and its label.

One JSONL file holds two kinds of lines, appended as they are made. An ``item`` line comes first:
the prompt and the verifier's greedy answer as token ids, its answer (the number, or whether the
tests pass), whether that is right, and every position where the draft's greedy token differs.
A ``mismatch`` line labels one of those positions: the draft's token was put in there, the
verifier finished greedily, and the token is *important* when the answer it reached differs from
the verifier's own answer (not from the gold one, so items the verifier gets wrong count too).

Token ids, not text, so features are read at exactly the tokens that were labelled.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from verispec.errors import JudgeDataError

ITEM, MISMATCH = "item", "mismatch"


@dataclass(frozen=True)
class MinedItem:
    """A training item the verifier answered, and where the draft would have written otherwise."""

    task: str
    item_id: str
    source: str  # math or code
    prompt_ids: list[int]
    answer_ids: list[int]
    answer: str | None  # the extracted number, or "pass"/"fail" for code
    correct: bool  # the answer against the gold one
    finish: str  # eos, budget or stop
    positions: list[int]  # every mismatch position (index into answer_ids)
    draft_tokens: list[int]  # the draft's greedy token at each of them
    chosen: list[int]  # the positions rolled out (all, or a stable sample of them)
    draft: str
    verifier: str
    backend: str
    kind: str = ITEM

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


@dataclass(frozen=True)
class MinedMismatch:
    """One rolled-out mismatch: the draft's token at ``position`` of the item's answer, and what it led to."""

    task: str
    item_id: str
    position: int
    draft_token: int
    verifier_token: int
    important: bool  # the final answer changed
    answer: str | None  # the answer the rollout reached
    correct: bool  # that answer against the gold one
    finish: str
    written: int  # tokens the verifier wrote after the draft's token
    kind: str = MISMATCH

    @property
    def key(self) -> tuple[str, str]:
        return self.task, self.item_id

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


@dataclass
class MinedData:
    """A mined file read back: items by (task, item id) and their labelled mismatches."""

    items: dict[tuple[str, str], MinedItem] = field(default_factory=dict)
    mismatches: dict[tuple[str, str], dict[int, MinedMismatch]] = field(default_factory=dict)

    def labels(self) -> Iterator[tuple[MinedItem, MinedMismatch]]:
        """Every labelled mismatch with its item, in file order of items."""
        for key, item in self.items.items():
            for position in sorted(self.mismatches.get(key, {})):
                yield item, self.mismatches[key][position]

    def of_tasks(self, tasks: list[str]) -> MinedData:
        """Only the items (and their labels) of ``tasks``."""
        keep = {key for key in self.items if key[0] in tasks}
        return MinedData({k: v for k, v in self.items.items() if k in keep},
                         {k: v for k, v in self.mismatches.items() if k in keep})

    def counts(self) -> dict[str, int]:
        labelled = [m for by_position in self.mismatches.values() for m in by_position.values()]
        return {"items": len(self.items), "mismatches": len(labelled), "important": sum(m.important for m in labelled)}


def read_mined(path: Path) -> MinedData:
    """Read a mined file; a torn last line (an interrupted write) is skipped with a warning."""
    data = MinedData()
    if not path.exists():
        return data
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            if number == len(lines):
                warnings.warn(f"{path}:{number}: an unfinished last line is skipped", stacklevel=2)
                continue
            raise JudgeDataError(f"{path}:{number}: not JSON ({err})") from err
        _add(data, record, f"{path}:{number}")
    return data


def _add(data: MinedData, record: dict[str, Any], where: str) -> None:
    kind = record.get("kind")
    try:
        if kind == ITEM:
            item = MinedItem(**record)
            data.items[(item.task, item.item_id)] = item
        elif kind == MISMATCH:
            mismatch = MinedMismatch(**record)
            data.mismatches.setdefault(mismatch.key, {})[mismatch.position] = mismatch
        else:
            raise JudgeDataError(f"{where}: kind must be {ITEM!r} or {MISMATCH!r}, got {kind!r}")
    except TypeError as err:
        raise JudgeDataError(f"{where}: not a mined {kind} record ({err})") from err
