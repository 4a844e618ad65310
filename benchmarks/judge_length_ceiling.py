"""How many tokens per verifier pass could a judge commit at all, given the mined labels?

Replays drafting along each mined item's verifier answer (``data/judge/mined.jsonl``), no model
needed: at every position the draft's greedy token either agrees with the verifier's or is a mined
mismatch. A round drafts ``gamma`` tokens from the round's start; the exact check stops at the
first mismatch, a judge stops at the first mismatch it does not keep; the round commits the kept
drafted tokens and one verifier token. Rules compared:

- ``exact``: keeps no mismatch (lossless ``sd``);
- ``oracle``: keeps every harmless mismatch and no important one (a perfect judge);
- ``θ=…``: the mined head at each θ of its out-of-fold curve, keeping a harmless mismatch with the
  curve's ``harmless_kept`` and an important one with ``1 - recall`` (independent draws);
- ``all``: keeps every mismatch (the draft's text; θ = 0).

Per rule: tokens per pass, its ratio to ``exact`` on the same schedule, drafted tokens per
committed token (the draft's share of the cost), and the share of answers that keep at least one
important mismatch. It assumes that after a kept swap the text goes on as the
verifier's did (the mismatch pattern along the verifier's answer), which a swap can change.
Unlabelled mismatches (items whose mismatches were not all rolled out) take their task's important
rate by random draw; ``--labelled-only`` keeps only fully labelled items.

``--costs RUN`` turns lengths into speed with the costs a run measured (a ``verispec eval`` run
with drafting methods on the backend in question): seconds per drafted token, and seconds per
verifier pass as a line in the tokens it checks. A rule's time per token is then
``verify(k) / tokens_per_pass + draft × drafted_per_token``; its speed is set against ``exact``
on ``sd``'s default schedule (``gamma=5``, :data:`verispec.schedule.DEFAULT_GAMMA`).

    python benchmarks/judge_length_ceiling.py data/judge/mined.jsonl \\
        --fit benchmarks/results/judge/mined-fit.json --task gsm8k \\
        --costs benchmarks/runs/qwen-coder-0.5b-1.5b-greedy-torch-mined \\
        --out benchmarks/results/judge/mined-length-ceiling-gsm8k.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from verispec.eval.records import SampleRecord, load_run
from verispec.schedule import DEFAULT_GAMMA, DraftSchedule
from verispec.training.judge.mining.records import read_mined

SD_DEFAULT = f"gamma={DEFAULT_GAMMA}"  # `sd`'s own schedule, the speed reference
SCHEDULES = {
    SD_DEFAULT: DraftSchedule(gamma=DEFAULT_GAMMA),
    "gamma=8": DraftSchedule(gamma=8),
    "adaptive=true,gamma=8": DraftSchedule(gamma=8, adaptive=True),
}


@dataclass(frozen=True)
class MinedItem:
    """One verifier answer: its length and, per mismatch position, important (True/False) or None."""

    task: str
    length: int
    mismatches: dict[int, bool | None]


@dataclass(frozen=True)
class KeepRates:
    """A rule as the chance it keeps a harmless and an important mismatch."""

    harmless: float
    important: float


@dataclass(frozen=True)
class Replayed:
    """One answer under one rule: verifier passes, drafted tokens, and whether it kept an important swap."""

    passes: int
    drafted: int
    changed: bool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mined", type=Path)
    parser.add_argument("--fit", type=Path, required=True, help="`verispec judge fit`'s report (its out-of-fold curve)")
    parser.add_argument("--task", help="only this task's items")
    parser.add_argument("--labelled-only", action="store_true", help="only items whose every mismatch is labelled")
    parser.add_argument("--repeats", type=int, default=20, help="random draws per rule (default 20)")
    parser.add_argument("--costs", type=Path, help="a run whose drafting samples give the per-token costs")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    items = [i for i in load_items(args.mined) if args.task in (None, i.task)]
    if args.labelled_only:
        items = [i for i in items if None not in i.mismatches.values()]
    rules = {"exact": KeepRates(0.0, 0.0), "oracle": KeepRates(1.0, 0.0)}
    for point in json.loads(args.fit.read_text())["curve"]:
        rules[f"θ={point['threshold']:.3f}"] = KeepRates(point["harmless_kept"], 1.0 - point["recall"])
    rules["all"] = KeepRates(1.0, 1.0)
    report: dict[str, Any] = {"items": len(items), "task": args.task, "labelled_only": args.labelled_only,
                              "repeats": args.repeats, "schedules": {}}
    for name, schedule in SCHEDULES.items():
        rows = {rule: replay_all(items, rates, schedule, args.repeats) for rule, rates in rules.items()}
        for row in rows.values():
            row["ratio_to_exact"] = row["tokens_per_pass"] / rows["exact"]["tokens_per_pass"]
        report["schedules"][name] = rows
        print(name + ": " + "; ".join(f"{rule} {row['tokens_per_pass']:.2f} ({row['ratio_to_exact']:.2f}x, "
                                      f"{row['answers_changed']:.0%} changed)" for rule, row in rows.items()))
    if args.costs:
        costs = measured_costs(args.costs)
        add_speeds(report["schedules"], costs)
        report["costs"] = asdict(costs)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


def load_items(path: Path) -> list[MinedItem]:
    """The mined items with their mismatch labels (None where a mismatch was not rolled out)."""
    data = read_mined(path)
    items = []
    for key, answer in data.items.items():
        labels = data.mismatches.get(key, {})
        mismatches = {p: labels[p].important if p in labels else None for p in answer.positions}
        items.append(MinedItem(answer.task, len(answer.answer_ids), mismatches))
    return items


def replay_all(items: list[MinedItem], rates: KeepRates, schedule: DraftSchedule, repeats: int) -> dict[str, float]:
    """Tokens per pass and drafted tokens per token (summed over answers), and the share of answers
    keeping an important swap."""
    important_rate = _important_rates(items)
    tokens = passes = drafted = changed = 0
    for seed in range(repeats):
        rng = random.Random(seed)
        for item in items:
            replayed = replay(item, rates, schedule, rng, important_rate[item.task])
            tokens += item.length
            passes += replayed.passes
            drafted += replayed.drafted
            changed += replayed.changed
    return {"tokens_per_pass": tokens / passes, "drafted_per_token": drafted / tokens,
            "answers_changed": changed / (repeats * len(items))}


def replay(item: MinedItem, rates: KeepRates, schedule: DraftSchedule, rng: random.Random,
           important_rate: float) -> Replayed:
    """One answer written under one rule."""
    position, gamma, passes, drafted, changed = 0, schedule.first(), 0, 0, False
    while position < item.length:
        proposed = min(gamma, item.length - position)
        kept = 0
        while kept < proposed:
            if position + kept not in item.mismatches:  # the draft agrees with the verifier here
                kept += 1
                continue
            label = item.mismatches[position + kept]
            important = rng.random() < important_rate if label is None else label
            if rng.random() >= (rates.important if important else rates.harmless):
                break
            changed |= important
            kept += 1
        passes += 1
        drafted += proposed
        position += kept + 1
        gamma = schedule.next(gamma, proposed, kept)
    return Replayed(passes, drafted, changed)


@dataclass(frozen=True)
class Costs:
    """Seconds per drafted token, and seconds per verifier pass as ``verify_base + verify_per_token * k``."""

    draft: float
    verify_base: float
    verify_per_token: float

    def seconds_per_token(self, row: dict[str, float]) -> float:
        checked = row["drafted_per_token"] * row["tokens_per_pass"] + 1  # tokens one verifier pass reads
        verify = self.verify_base + self.verify_per_token * checked
        return verify / row["tokens_per_pass"] + self.draft * row["drafted_per_token"]


def measured_costs(run_dir: Path) -> Costs:
    """The draft's cost per token and the verifier's cost per pass by its length, over the run's quietly
    timed samples (per method, summed; the pass cost is a least-squares line through the methods)."""
    _, records = load_run(run_dir)
    quiet = [r for r in records if r.timed_quietly and r.stats.get("rounds")]
    by_method: dict[str, list[SampleRecord]] = {}
    for record in quiet:
        by_method.setdefault(record.method, []).append(record)
    lengths, seconds = [], []  # per method: tokens per verifier pass (a round is one pass), seconds per pass
    for samples in by_method.values():
        passes = sum(r.stats["rounds"] for r in samples)
        lengths.append(sum((r.stats.get("proposed") or 0) + r.stats["rounds"] for r in samples) / passes)
        seconds.append(sum(r.stats["verifier_seconds"] for r in samples) / passes)
    slope, base = statistics.linear_regression(lengths, seconds)
    drafting = [r for r in quiet if r.stats.get("proposed")]
    draft = sum(r.stats["draft_seconds"] for r in drafting) / sum(r.stats["draft_forwards"] for r in drafting)
    return Costs(draft=draft, verify_base=base, verify_per_token=slope)


def add_speeds(schedules: dict[str, dict[str, dict[str, float]]], costs: Costs) -> None:
    """Add each rule's tokens per second under ``costs``, and its ratio to ``exact`` on `sd`'s default schedule."""
    reference = 1.0 / costs.seconds_per_token(schedules[SD_DEFAULT]["exact"])
    for rows in schedules.values():
        for row in rows.values():
            row["tokens_per_second"] = 1.0 / costs.seconds_per_token(row)
            row["speed_to_sd_default"] = row["tokens_per_second"] / reference


def _important_rates(items: list[MinedItem]) -> dict[str, float]:
    """Per task, the share of labelled mismatches that are important."""
    rates = {}
    for task in {i.task for i in items}:
        labelled = [v for i in items if i.task == task for v in i.mismatches.values() if v is not None]
        rates[task] = statistics.fmean(labelled) if labelled else 0.0
    return rates


if __name__ == "__main__":
    main()
