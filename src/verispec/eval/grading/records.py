"""``grades.jsonl`` in a run directory: one grader's rating of one answer per line, appended as it goes.

A grade names the answer it rates by a hash of its text, so a grade of an answer that has since
been generated again with other text no longer counts; a later line for the same answer and grader
takes the place of an earlier one. Unreadable lines are skipped with a warning, as in results.jsonl.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from verispec.eval.records import SampleRecord, field_values, parsed_lines

GRADES_FILE = "grades.jsonl"

GradeKey = tuple[str, str, str, int, str]  # (task, item id, method label, turn, grader)


def answer_hash(text: str) -> str:
    """A short stable fingerprint of an answer's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class GradeRecord:
    """A grader's rating of one answer: the expected rating, the probabilities of 1 to 10, their raw mass."""

    task: str
    item_id: str
    turn: int
    method: str
    grader: str
    prompt: str  # the grading prompt's name, e.g. single-math-v1
    category: str | None
    answer: str  # answer_hash of the graded text
    rating: float
    probabilities: list[float]
    mass: float
    seconds: float
    explanation: str = ""  # what the grader wrote before its rating, when asked to explain

    @property
    def key(self) -> GradeKey:
        return (self.task, self.item_id, self.method, self.turn, self.grader)

    def rates(self, sample: SampleRecord) -> bool:
        """Whether this grade is of ``sample``'s answer as it stands now."""
        return self.key[:4] == sample.key and self.answer == answer_hash(sample.output)

    def to_json(self) -> str:
        """One line of JSON."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict) -> GradeRecord:
        """Build a grade from parsed JSON; ValueError names the missing fields."""
        values = field_values(cls, data)
        if not isinstance(values["rating"], (int, float)) or not isinstance(values["probabilities"], list):
            raise ValueError("rating or probabilities have the wrong type")
        return cls(**values)


def read_grades(path: Path) -> dict[GradeKey, GradeRecord]:
    """The latest readable grade per answer and grader; none when the file does not exist."""
    grades = parsed_lines(path, GradeRecord.from_dict, kind="grade", consequence="skipped: the answer counts as not graded")
    return {grade.key: grade for _, grade in grades}
