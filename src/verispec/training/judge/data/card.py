"""The data card: what a built data set holds, written next to it as Markdown and JSON.

Counts per source x labeller x model, dropped responses and why, error-span lengths, and the
precision of the automatic labels against the hand-checked subset.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verispec.training.judge.data.records import SOURCES, Sample
from verispec.training.judge.data.review import Precision, Verdict


@dataclass(frozen=True)
class Card:
    """Everything the card reports, computed from the samples and the dropped records."""

    samples: int
    bad: int
    by_source: dict[str, dict[str, int]]  # source -> {"samples", "bad", "good", "dropped"}
    by_label: list[tuple[str, str, str, int]]  # (source, labelled_by, model, count)
    dropped: list[tuple[str, str, str, int]]  # (source, model, reason, count)
    span_chars: dict[str, dict[str, float]]  # source -> {"min", "median", "mean", "max"}
    precision: dict[str, Precision]
    fixed: list[Verdict] = field(default_factory=list)  # rejected labels whose labeller was fixed since
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The card as plain JSON data."""
        return {
            "samples": self.samples,
            "bad": self.bad,
            "by_source": self.by_source,
            "by_label": [dict(zip(("source", "labelled_by", "model", "count"), row)) for row in self.by_label],
            "dropped": [dict(zip(("source", "model", "reason", "count"), row)) for row in self.dropped],
            "span_chars": self.span_chars,
            "hand_checked": {
                key: {"checked": p.checked, "confirmed": p.confirmed, "stale": p.stale, "precision": p.value}
                for key, p in self.precision.items()
            },
            "fixed_after_hand_check": [{"id": v.id, "reason": v.reason} for v in self.fixed],
            "notes": self.notes,
        }


def make_card(
    samples: Sequence[Sample],
    dropped: Sequence[dict[str, Any]],
    precision: dict[str, Precision],
    fixed: Sequence[Verdict] = (),
    notes: Sequence[str] = (),
) -> Card:
    """The card of a data set."""
    by_source = {}
    for source in SOURCES:
        members = [s for s in samples if s.source == source]
        bad = sum(s.is_bad for s in members)
        lost = sum(d["source"] == source for d in dropped)
        by_source[source] = {"samples": len(members), "bad": bad, "good": len(members) - bad, "dropped": lost}
    labels = Counter((s.source, s.labelled_by, s.model) for s in samples)
    reasons = Counter((d["source"], d["model"], d["reason"]) for d in dropped)
    return Card(
        samples=len(samples),
        bad=sum(s.is_bad for s in samples),
        by_source=by_source,
        by_label=[(*key, count) for key, count in sorted(labels.items())],
        dropped=[(*key, count) for key, count in sorted(reasons.items())],
        span_chars=_span_stats(samples),
        precision=precision,
        fixed=list(fixed),
        notes=list(notes),
    )


def _span_stats(samples: Sequence[Sample]) -> dict[str, dict[str, float]]:
    """Lengths in characters of the first error spans, per source and over all."""
    lengths: dict[str, list[int]] = {}
    for sample in samples:
        if sample.is_bad:
            start, end = sample.error_spans[0]
            for key in (sample.source, "all"):
                lengths.setdefault(key, []).append(end - start)
    return {
        key: {"min": min(v), "median": statistics.median(v), "mean": round(statistics.mean(v), 2), "max": max(v)}
        for key, v in sorted(lengths.items())
    }


def card_paths(data: Path) -> tuple[Path, Path]:
    """Where the card of the data set at `data` goes: Markdown and JSON, next to it."""
    return data.with_name(data.stem + ".card.md"), data.with_name(data.stem + ".card.json")


def write_card(card: Card, data: Path) -> tuple[Path, Path]:
    """Write the card next to the data set; return the Markdown and JSON paths."""
    markdown, json_path = card_paths(data)
    markdown.write_text(render_markdown(card, data.name), encoding="utf-8")
    json_path.write_text(json.dumps(card.to_dict(), indent=2) + "\n", encoding="utf-8")
    return markdown, json_path


def render_markdown(card: Card, name: str) -> str:
    """The card as Markdown."""
    lines = [
        f"# Data card: {name}",
        "",
        (
            f"{card.samples} samples, {card.bad} with a marked first error ({card.samples - card.bad} all "
            "good). Spans are character offsets into the response; the first span is the first error."
        ),
        "",
        "## Per source",
        "",
        "| source | samples | good | bad | dropped |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {s} | {c['samples']} | {c['good']} | {c['bad']} | {c['dropped']} |" for s, c in card.by_source.items()]
    lines += ["", "## Per source, label and model", "", "| source | labelled by | model | samples |", "|---|---|---|---|"]
    lines += [f"| {source} | {label} | {model} | {count} |" for source, label, model, count in card.by_label]
    lines += ["", "## Dropped (not labelled)", "", "| source | model | reason | count |", "|---|---|---|---|"]
    lines += [f"| {source} | {model} | {reason} | {count} |" for source, model, reason, count in card.dropped]
    lines += ["", "## First-error span length (characters)", "", "| source | min | median | mean | max |"]
    lines += ["|---|---|---|---|---|"]
    lines += [f"| {k} | {v['min']} | {v['median']} | {v['mean']} | {v['max']} |" for k, v in card.span_chars.items()]
    lines += ["", "## Hand-checked precision of the automatic labels", ""]
    lines += ["| source | checked | confirmed | precision |", "|---|---|---|---|"]
    for key, p in card.precision.items():
        value = "–" if p.value is None else f"{p.value:.0%}"
        lines.append(f"| {key} | {p.checked} | {p.confirmed} | {value} |")
    stale = card.precision["all"].stale if "all" in card.precision else 0
    if stale:
        lines += ["", f"{stale} verdicts no longer match a sample (rebuilt or removed) and are not counted."]
    if card.fixed:
        lines += ["", "Labels the hand check rejected, whose labeller was fixed since (the samples are gone):", ""]
        lines += [f"- `{v.id}`: {v.reason}" for v in card.fixed]
    if card.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in card.notes]
    return "\n".join(lines) + "\n"
