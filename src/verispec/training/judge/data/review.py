"""The hand-checked subset: which bad-labelled samples a person reads, and their verdicts.

A stable random choice of bad-labelled samples, spread over sources, labellers and origins, is
printed with the marked span; the reader records per sample whether the span really is the
first error. The card reports precision = confirmed / checked. A verdict holds a hash of the
response and the span it judged, so a rebuilt sample that changed is reported as stale instead
of being counted.

    python -m verispec.training.judge.data.review data/judge/tokencourt-auto.jsonl --template verdicts.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path

from verispec.errors import JudgeDataError
from verispec.training.judge.data.records import REFERENCE_MODEL, Sample, Span, read_samples

HAND_CHECKED_FILE = "hand_checked.jsonl"
_CONTEXT = 300


@dataclass(frozen=True)
class Verdict:
    """A person's reading of one bad-labelled sample."""

    id: str
    response_sha256: str
    span: Span
    confirmed: bool  # the marked span is the first error
    reason: str

    def matches(self, sample: Sample) -> bool:
        """True when `sample` is still the response and span this verdict judged."""
        return self.response_sha256 == response_hash(sample.response) and self.span == sample.error_spans[0]


@dataclass(frozen=True)
class Precision:
    """How many hand-checked labels of one source were confirmed."""

    checked: int
    confirmed: int
    stale: int  # verdicts whose sample has changed or is gone

    @property
    def value(self) -> float | None:
        """confirmed / checked, None when nothing was checked."""
        return self.confirmed / self.checked if self.checked else None


def response_hash(response: str) -> str:
    """The hash a verdict keeps of the response it judged."""
    return hashlib.sha256(response.encode("utf-8")).hexdigest()


def default_verdicts_path() -> Path:
    """The verdicts committed with this package."""
    return Path(str(files("verispec.training.judge.data").joinpath(HAND_CHECKED_FILE)))


def select_for_review(samples: Sequence[Sample], count: int, seed: int = 0) -> list[Sample]:
    """`count` bad-labelled samples, taken in turn from each group of one source, labeller and
    origin (data set reference or model response), each group in an order fixed by a hash of
    `seed` and the id, so that rare labellers and model responses are checked too."""
    groups: dict[tuple[str, str, bool], list[Sample]] = defaultdict(list)
    for sample in samples:
        if sample.is_bad:
            groups[(sample.source, sample.labelled_by, sample.model == REFERENCE_MODEL)].append(sample)
    queues = [
        sorted(members, key=lambda s: hashlib.sha256(f"{seed}:{s.id}".encode()).hexdigest())
        for _, members in sorted(groups.items())
    ]
    chosen: list[Sample] = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def load_verdicts(path: Path) -> list[Verdict]:
    """The verdicts in a JSONL file; [] when it does not exist."""
    if not path.exists():
        return []
    verdicts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        if not isinstance(record.get("confirmed"), bool):
            raise JudgeDataError(f"{path}:{number}: 'confirmed' must be true or false (the sample is not judged yet)")
        verdicts.append(Verdict(**{**record, "span": tuple(record["span"])}))
    return verdicts


def precision_by_source(samples: Sequence[Sample], verdicts: Sequence[Verdict]) -> dict[str, Precision]:
    """Hand-checked precision per source and over 'all'; only verdicts that match a current
    sample count, the others are stale (counted under 'all')."""
    by_id = {s.id: s for s in samples}
    checked: Counter[str] = Counter()
    confirmed: Counter[str] = Counter()
    stale = 0
    for verdict in verdicts:
        sample = by_id.get(verdict.id)
        if sample is None or not sample.is_bad or not verdict.matches(sample):
            stale += 1
            continue
        for key in (sample.source, "all"):
            checked[key] += 1
            confirmed[key] += verdict.confirmed
    result = {key: Precision(checked[key], confirmed[key], 0) for key in sorted(checked) if key != "all"}
    result["all"] = Precision(checked["all"], confirmed["all"], stale)
    return result


def stale_rejections(samples: Sequence[Sample], verdicts: Sequence[Verdict]) -> list[Verdict]:
    """Verdicts that rejected a label whose sample has since changed or gone: the history of the
    labeller fixes the hand check led to."""
    by_id = {s.id: s for s in samples}
    return [
        v for v in verdicts if not v.confirmed and (v.id not in by_id or not by_id[v.id].is_bad or not v.matches(by_id[v.id]))
    ]


def template(sample: Sample) -> Verdict:
    """An empty verdict for `sample`, to fill in (confirmed is written as null)."""
    return Verdict(sample.id, response_hash(sample.response), sample.error_spans[0], False, "")


def show(sample: Sample) -> str:
    """The sample for a reader: the prompt's end and the response with the first span in ⟦ ⟧."""
    start, end = sample.error_spans[0]
    text = sample.response
    marked = text[max(0, start - _CONTEXT) : start] + "⟦" + text[start:end] + "⟧" + text[end : end + 80]
    prompt = sample.messages[-1]["content"]
    return (
        f"=== {sample.id}  [{sample.source} / {sample.labelled_by} / {sample.model}]\n"
        f"--- prompt (end)\n{prompt[-_CONTEXT:]}\n--- response\n{marked}\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Print the samples chosen for review; optionally write verdict templates for them."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="the data set (JSONL)")
    parser.add_argument("--count", type=int, default=40, help="how many bad-labelled samples (default 40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--template", type=Path, help="write a verdict to fill in per sample (JSONL)")
    args = parser.parse_args(argv)
    chosen = select_for_review(read_samples(args.data), args.count, args.seed)
    for sample in chosen:
        print(show(sample))
    if args.template:
        lines = []
        for sample in chosen:
            record = asdict(template(sample))
            record["confirmed"] = None
            lines.append(json.dumps(record, ensure_ascii=False))
        args.template.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
