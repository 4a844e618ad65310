"""The data card of a mined file: what was mined, from which items, with which models, and how labels fall."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from verispec.training.judge.mining.records import MinedData

NOTES = (
    "Each item line holds the prompt and the verifier's greedy answer as token ids, every position where "
    "the draft's greedy token (given the verifier's prefix) differs, and which positions were rolled out.",
    "A mismatch is important when, with the draft's token put in and the verifier finishing greedily, the "
    "final answer (GSM8K: the number; MBPP: whether the tests pass) differs from the verifier's own answer; "
    "items the verifier gets wrong count too.",
    "Answers and rollouts ran together in one multi-sequence llama.cpp context, whose batched kernels may "
    "round differently from one-sequence decoding at near-ties; a code rollout stops once a closed block "
    "defines the tested function (later text cannot change the tested code).",
    "Items are the tasks' reserved training items (a stable hash keeps them out of every evaluation).",
)


def card(data: MinedData) -> dict[str, Any]:
    """The card's numbers: per task and overall."""
    tasks = sorted({task for task, _ in data.items})
    return {"tasks": {task: _numbers(data, task) for task in tasks}, "all": _numbers(data, None),
            "models": sorted({(i.draft, i.verifier, i.backend) for i in data.items.values()})}


def _numbers(data: MinedData, task: str | None) -> dict[str, Any]:
    items = [i for (t, _), i in data.items.items() if task is None or t == task]
    labels = [m for (t, _), by in data.mismatches.items() if task is None or t == task for m in by.values()]
    important = sum(m.important for m in labels)
    tokens = sum(len(i.answer_ids) for i in items)
    finishes: dict[str, int] = {}
    for m in labels:
        finishes[m.finish] = finishes.get(m.finish, 0) + 1
    return {
        "items": len(items),
        "verifier_correct": sum(i.correct for i in items),
        "answer_tokens": tokens,
        "mismatches": sum(len(i.positions) for i in items),
        "mismatch_rate": sum(len(i.positions) for i in items) / tokens if tokens else 0.0,
        "labelled": len(labels),
        "important": important,
        "important_rate": important / len(labels) if labels else 0.0,
        "important_when_verifier_correct": _rate([m for m in labels if data.items[m.key].correct]),
        "important_when_verifier_wrong": _rate([m for m in labels if not data.items[m.key].correct]),
        "median_rollout_tokens": statistics.median([m.written for m in labels]) if labels else 0,
        "rollout_finish": finishes,
    }


def _rate(labels: list) -> float | None:
    return sum(m.important for m in labels) / len(labels) if labels else None


def markdown(numbers: dict[str, Any], source: Path) -> str:
    """The card as Markdown."""
    rows = [*numbers["tasks"].items(), ("all", numbers["all"])]
    lines = [f"# Data card: {source.name}", "",
             "Mismatches between the draft's and the verifier's greedy tokens, labelled by rollouts "
             "(`verispec judge mine`).", "",
             "| task | items | verifier right | answer tokens | mismatches (rate) | labelled | important (rate) "
             "| important, verifier right / wrong | median rollout tokens |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, n in rows:
        right, wrong = n["important_when_verifier_correct"], n["important_when_verifier_wrong"]
        lines.append(
            f"| {name} | {n['items']} | {n['verifier_correct']} | {n['answer_tokens']} | {n['mismatches']} "
            f"({n['mismatch_rate']:.1%}) | {n['labelled']} | {n['important']} ({n['important_rate']:.1%}) "
            f"| {_percent(right)} / {_percent(wrong)} | {n['median_rollout_tokens']} |")
    lines += ["", "Models (draft, verifier, verifier file): "
              + "; ".join(", ".join(m) for m in numbers["models"]), "", "## Notes", ""]
    lines += [f"- {note}" for note in NOTES]
    return "\n".join(lines) + "\n"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def write_card(data: MinedData, source: Path) -> Path:
    """Write ``<stem>.card.md`` and ``<stem>.card.json`` next to the mined file; returns the Markdown path."""
    numbers = card(data)
    path = source.with_name(source.stem + ".card.md")
    path.write_text(markdown(numbers, source), encoding="utf-8")
    source.with_name(source.stem + ".card.json").write_text(json.dumps(numbers, indent=2) + "\n", encoding="utf-8")
    return path
