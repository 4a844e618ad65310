"""The records the builder writes: one labelled response per JSON line, and the file they go to.

A record holds the prompt (chat messages), the response text, who wrote it, and the character
spans of its errors (the first span is the first error; none means every token is good); a record
may mark its first characters as context that is read but not labelled (``labels_from``). Spans
are offsets into the response text, not token ids, so one data set trains heads for any
verifier's tokenizer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from verispec.errors import JudgeDataError

Source = Literal["math", "code", "choice", "chat"]
SOURCES: tuple[Source, ...] = ("math", "code", "choice", "chat")
Span = tuple[int, int]
REFERENCE_MODEL = "reference"  # the `model` of responses taken from a data set's own answers


@dataclass(frozen=True)
class Sample:
    """One labelled response, exactly as it is written to the JSONL file."""

    id: str
    source: Source
    task: str
    item_id: str
    messages: list[dict[str, str]]
    response: str
    model: str
    error_spans: list[Span]
    labelled_by: str
    labels_from: int = 0  # the first characters are context: their tokens are not labelled

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise JudgeDataError(f"sample {self.id}: source must be one of {SOURCES}, got {self.source!r}")
        if not 0 <= self.labels_from < max(len(self.response), 1):
            raise JudgeDataError(f"sample {self.id}: labels_from {self.labels_from} is not inside the response")
        for start, end in self.error_spans:
            if not self.labels_from <= start < end <= len(self.response):
                raise JudgeDataError(
                    f"sample {self.id}: span [{start}, {end}] is not inside the labelled part of the response "
                    f"(characters {self.labels_from} to {len(self.response)})"
                )

    @property
    def is_bad(self) -> bool:
        """True when the response has a marked error."""
        return bool(self.error_spans)

    def to_json(self) -> str:
        """The sample as one JSON line (without the newline)."""
        record = asdict(self)
        record["error_spans"] = [list(span) for span in self.error_spans]
        if not self.labels_from:
            del record["labels_from"]
        return json.dumps(record, ensure_ascii=False)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Sample:
        """The sample a decoded JSON line describes."""
        try:
            spans = [(int(start), int(end)) for start, end in record["error_spans"]]
            return cls(**{**record, "error_spans": spans})
        except (KeyError, TypeError, ValueError) as error:
            raise JudgeDataError(f"not a judge data record ({error}): {str(record)[:200]}") from None


def sample_id(task: str, item_id: str, model: str, variant: str) -> str:
    """A stable, unique id: the same item, writer and variant always give the same id.

    "::" separates the parts because item ids (MMLU) and model ids (hub names) contain "/".
    """
    return f"{task}::{item_id}::{model}::{variant}"


@dataclass(frozen=True)
class Dropped:
    """A response the builder could not label (e.g. a wrong answer with no locatable error)."""

    id: str
    source: Source
    task: str
    model: str
    reason: str

    def to_json(self) -> str:
        """The record as one JSON line (without the newline)."""
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass
class SampleWriter:
    """Appends samples (and dropped responses) to JSONL files as they are made.

    Both files are read first, so a rerun skips every id already decided: building resumes
    where it stopped instead of generating again.
    """

    path: Path
    written: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.written = {s.id for s in read_samples(self.path)} | {d["id"] for d in read_dropped(self.path)}

    def done(self, id_: str) -> bool:
        """True when `id_` was written or dropped by this or an earlier run."""
        return id_ in self.written

    def add(self, sample: Sample) -> bool:
        """Append `sample` unless its id is done; True when it was written."""
        return self._append(self.path, sample.id, sample.to_json())

    def drop(self, dropped: Dropped) -> bool:
        """Record a dropped response unless its id is done; True when it was recorded."""
        return self._append(dropped_path(self.path), dropped.id, dropped.to_json())

    def _append(self, path: Path, id_: str, line: str) -> bool:
        if id_ in self.written:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")  # one write per line: an interrupted run loses at most one
        self.written.add(id_)
        return True


def dropped_path(path: Path) -> Path:
    """Where the dropped responses of the data set at `path` are listed."""
    return path.with_name(path.stem + ".dropped.jsonl")


def read_samples(path: Path) -> list[Sample]:
    """The samples in a JSONL file, in order; [] when it does not exist."""
    return [Sample.from_dict(record) for record in _read_jsonl(Path(path))]


def read_dropped(path: Path) -> list[dict[str, Any]]:
    """The dropped-response records that belong to the data set at `path`."""
    return list(_read_jsonl(dropped_path(Path(path))))


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as error:
                    raise JudgeDataError(
                        f"{path}:{number} is not valid JSON ({error.msg}); an interrupted write "
                        "leaves a broken last line: delete that line and rerun"
                    ) from None

