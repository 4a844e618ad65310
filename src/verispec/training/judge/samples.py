"""Judge data sets: JSONL files of prompts, responses and the character span of the first error.

One sample per line, as ``verispec judge build-data`` writes them::

    {"id": str, "source": "math"|"code"|"choice"|"chat", "task": str, "item_id": str,
     "messages": [{"role": ..., "content": ...}, ...], "response": str, "model": str,
     "error_spans": [[start, end], ...], "labelled_by": str, "labels_from": int (optional)}

``error_spans`` are character offsets into ``response``; an empty list marks a response whose every
token is good. Only the first span matters: tokens before it are good, the token where it starts is
bad, later tokens are not labelled. ``labels_from`` (default 0) marks the first characters as context
whose tokens are read but not labelled; no error may start inside them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verispec.errors import ConfigError, JudgeDataError

REQUIRED_FIELDS = ("id", "messages", "response", "error_spans")


@dataclass(frozen=True)
class JudgeSample:
    """A prompt, a response and where its first error starts (``None``: no error)."""

    id: str
    messages: tuple[dict[str, str], ...]
    response: str
    error_start: int | None
    source: str = ""
    task: str = ""
    model: str = ""
    labelled_by: str = ""
    labels_from: int = 0

    def fingerprint(self) -> str:
        """A hash of what labelling and feature extraction read (for feature caches)."""
        data = [self.id, list(self.messages), self.response, self.error_start]
        if self.labels_from:  # only then, so samples without context keep their cached features
            data.append(self.labels_from)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def read_samples(paths: Sequence[str | Path]) -> list[JudgeSample]:
    """Every sample of the JSONL files, in order; ids must be unique across files."""
    samples: list[JudgeSample] = []
    seen: dict[str, str] = {}
    for path in paths:
        for where, record in _records(Path(path)):
            sample = _parse(record, where)
            if sample.id in seen:
                raise JudgeDataError(f"{where}: sample id {sample.id!r} already used at {seen[sample.id]}; ids must be unique")
            seen[sample.id] = where
            samples.append(sample)
    if not samples:
        raise JudgeDataError(f"no samples in {', '.join(map(str, paths))}")
    return samples


def in_validation(sample_id: str, fraction: float) -> bool:
    """Whether a sample belongs to the validation split: a stable hash of its id, not its position."""
    return _id_fraction(sample_id) < fraction


def check_sample_fraction(fraction: float) -> None:
    """Refuse a sample fraction outside (0, 1]."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"the sample fraction must be in (0, 1], got {fraction}")


def subsample(samples: Sequence[JudgeSample], fraction: float) -> list[JudgeSample]:
    """A stable share of the samples, by a hash of each id independent of the validation split."""
    check_sample_fraction(fraction)
    return [s for s in samples if _id_fraction("subsample:" + s.id) < fraction]


def of_sources(samples: Sequence[JudgeSample], include: Iterable[str] = (), exclude: Iterable[str] = ()) -> list[JudgeSample]:
    """The samples whose source is in ``include`` (all if empty) and not in ``exclude``."""
    include, exclude, known = set(include), set(exclude), {s.source for s in samples}
    unknown = (include | exclude) - known
    if unknown:
        raise JudgeDataError(f"no samples have source {', '.join(sorted(unknown))}; the data has: {', '.join(sorted(known))}")
    return [s for s in samples if (not include or s.source in include) and s.source not in exclude]


def _id_fraction(key: str) -> float:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def summarize_samples(samples: Iterable[JudgeSample]) -> dict[str, Any]:
    """Counts for a head's metadata: samples, with an error, by source, task and labeller."""
    samples = list(samples)
    return {
        "samples": len(samples),
        "with_error": sum(s.error_start is not None for s in samples),
        "by_source": dict(Counter(s.source for s in samples)),
        "by_task": dict(Counter(s.task for s in samples)),
        "by_labeller": dict(Counter(s.labelled_by for s in samples)),
    }


def _records(path: Path) -> Iterable[tuple[str, Any]]:
    if not path.is_file():
        raise JudgeDataError(f"the data set {path} does not exist; build one with `verispec judge build-data`")
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as err:
                raise JudgeDataError(f"{where}: not valid JSON ({err.msg})") from None


def _parse(record: Any, where: str) -> JudgeSample:
    if not isinstance(record, dict) or any(key not in record for key in REQUIRED_FIELDS):
        raise JudgeDataError(f"{where}: a sample needs the fields {', '.join(REQUIRED_FIELDS)}")
    response = record["response"]
    if not isinstance(record["id"], str) or not isinstance(response, str):
        raise JudgeDataError(f"{where}: id and response must be strings")
    labels_from = _labels_from(record.get("labels_from", 0), len(response), where)
    error_start = _error_start(record["error_spans"], len(response), where)
    if error_start is not None and error_start < labels_from:
        raise JudgeDataError(f"{where}: the error starts at {error_start}, inside the context (labels_from {labels_from})")
    return JudgeSample(
        id=record["id"],
        messages=_messages(record["messages"], where),
        response=response,
        error_start=error_start,
        source=str(record.get("source", "")),
        task=str(record.get("task", "")),
        model=str(record.get("model", "")),
        labelled_by=str(record.get("labelled_by", "")),
        labels_from=labels_from,
    )


def _labels_from(value: Any, length: int, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < max(length, 1):
        raise JudgeDataError(f"{where}: labels_from must be a character offset in [0, {length}), got {value!r}")
    return value


def _messages(value: Any, where: str) -> tuple[dict[str, str], ...]:
    valid = isinstance(value, list) and value and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value
    )
    if not valid:
        raise JudgeDataError(f"{where}: messages must be a non-empty list of {{role, content}} strings")
    return tuple({"role": m["role"], "content": m["content"]} for m in value)


def _error_start(spans: Any, length: int, where: str) -> int | None:
    """The start of the first (earliest) error span."""
    if not isinstance(spans, list):
        raise JudgeDataError(f"{where}: error_spans must be a list of [start, end] pairs")
    starts = []
    for span in spans:
        ok = isinstance(span, list) and len(span) == 2 and all(isinstance(x, int) for x in span)
        if not ok or not 0 <= span[0] < span[1] <= length:
            raise JudgeDataError(f"{where}: error span {span!r} is not [start, end] with 0 <= start < end <= {length}")
        starts.append(span[0])
    return min(starts) if starts else None
