"""Per-task, per-method numbers from sample records, each method paired with the baseline.

A method's result on an item folds its turns together: tokens and seconds add up, the score is
that of the last turn (scoring sees every turn's answer). Comparisons with the baseline use only
items both completed with the same number of turns. Speed columns leave out items whose timing
other processes disturbed (they used more than a tenth of the machine's CPU meanwhile); speedups also
leave out items whose method and baseline ran on unlike machines (a method added to a run later).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from verispec.eval.records import SampleRecord
from verispec.eval.report.machines import MachineOf, alike
from verispec.eval.report.stats import Interval, mcnemar_exact, median, paired_bootstrap_difference, wilson_interval

BASELINE = "verifier"
DRAFT_AUTHOR = "draft"  # the author role of the draft model in collaborative methods


@dataclass(frozen=True)
class ItemOutcome:
    """One method's result on one item, its turns folded together."""

    task: str
    item_id: str
    method: str
    records: tuple[SampleRecord, ...]  # by turn

    @property
    def turns(self) -> int:
        return len(self.records)

    @property
    def new_tokens(self) -> int:
        return sum(r.stats["new_tokens"] for r in self.records)

    @property
    def seconds(self) -> float:
        return sum(r.stats["total_seconds"] for r in self.records)

    @property
    def correct(self) -> bool | None:
        return self.records[-1].correct

    @property
    def token_ids(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(r.token_ids) for r in self.records)

    @property
    def tokens_per_second(self) -> float | None:
        return self.new_tokens / self.seconds if self.seconds > 0 else None

    @property
    def load_measured(self) -> bool:
        """Whether every turn recorded how busy the rest of the machine was."""
        return all(r.timing.get("others_cpu_share") is not None for r in self.records)

    @property
    def disturbed(self) -> bool:
        """Other processes used more than :data:`DISTURBED_SHARE` of the CPU during some turn."""
        return any(r.disturbed for r in self.records)


@dataclass(frozen=True)
class Comparison:
    """A method against the baseline on the items both completed.

    ``speedup`` is the ratio of summed tokens over summed seconds; ``median_speedup`` the median
    of per-item tokens/s ratios; both over pairs whose timings no other process disturbed and whose
    two sides ran on alike machines (``unlike_machines`` counts the pairs that did not).
    ``difference`` is the method's accuracy minus the baseline's on scored pairs (paired
    bootstrap CI), ``mcnemar_p`` the exact McNemar test of the same pairs, ``baseline_correct``
    the baseline's correct answers among them (its accuracy on the same items).
    ``identical`` counts items whose tokens equal the baseline's on every turn.
    """

    paired: int
    timed: int  # pairs whose timings count for speed (neither disturbed)
    speedup: float | None
    median_speedup: float | None
    identical: int
    identical_scored: int
    identical_correct: int
    identical_baseline_correct: int
    scored_pairs: int
    baseline_correct: int
    difference: Interval | None
    mcnemar_p: float | None
    differing_items: tuple[str, ...]
    unlike_machines: int = 0


@dataclass(frozen=True)
class Disagreement:
    """Kept drafted tokens of a relaxed rule (judge, lenient, typical) that only one test kept.

    ``rule_only``: the rule's own test kept them, the exact test would not (``relaxed`` provenance);
    ``exact_only``: the exact test kept them, the rule's own test would not. Both are shares of all
    kept drafted tokens. ``stopped_by[c]``: rounds whose rejected drafted token failed the rule's
    check ``c`` first (the judge: ``score``, a guard, ``gate``), over the ``stops_recorded`` of
    ``items`` samples that recorded them (older samples did not).
    """

    kept: int
    rule_only: float
    exact_only: float
    stopped_by: dict[str, int] = field(default_factory=dict)
    stops_recorded: int = 0
    items: int = 0


@dataclass(frozen=True)
class MethodRow:
    """One task and method: accuracy, speed, acceptance, length, and the comparison with the baseline.

    ``sampled`` is true when the samples were drawn at a temperature above 0.
    """

    task: str
    method: str
    lossless: bool
    sampled: bool
    items: int
    scored: int
    correct: int
    accuracy: Interval | None
    tokens_per_second: float | None
    mean_accepted_length: float | None
    acceptance_rate: float | None
    mean_new_tokens: float | None
    mean_rounds: float | None  # verifier passes (collaborative methods: rounds) per answer, turns together
    accepted_histogram: list[int] = field(default_factory=list)
    comparison: Comparison | None = None
    disturbed: int = 0  # items left out of the speed columns: other processes disturbed their timing
    load_unmeasured: int = 0  # items timed without a record of the machine's load (kept in the speed columns)
    retimed: int = 0  # items run again for a clean timing (`verispec eval --retime`)
    retimed_changed: int = 0  # of those, items whose rerun gave other tokens than the run it replaced
    assistant_share: float | None = None  # collaborative methods: share of tokens an assistant wrote
    seconds_per_answer: float | None = None  # mean generation time of an item, turns together, timed items only
    disagreement: Disagreement | None = None  # relaxed rules: where their own test and the exact test differ


def group_outcomes(records: Sequence[SampleRecord]) -> dict[tuple[str, str], dict[str, ItemOutcome]]:
    """``{(task, method): {item id: outcome}}`` keeping only items whose turns run 0, 1, ... without gaps."""
    by_item: dict[tuple[str, str, str], list[SampleRecord]] = defaultdict(list)
    for record in records:
        by_item[(record.task, record.method, record.item_id)].append(record)
    grouped: dict[tuple[str, str], dict[str, ItemOutcome]] = defaultdict(dict)
    for (task, method, item_id), turns in by_item.items():
        turns.sort(key=lambda r: r.turn)
        if [r.turn for r in turns] == list(range(len(turns))):
            grouped[(task, method)][item_id] = ItemOutcome(task, item_id, method, tuple(turns))
    return dict(grouped)


def summarize(
    records: Sequence[SampleRecord],
    *,
    baseline: str = BASELINE,
    tasks: Sequence[str] = (),
    methods: Sequence[str] = (),
    machine_of: MachineOf | None = None,
) -> list[MethodRow]:
    """One row per task and method present, tasks and methods in the given order then first seen.

    ``machine_of`` (see :func:`.machines.machine_lookup`) tells which machine ran a record, so that
    speedups pair only items whose method and baseline ran on alike machines; without it, all do.
    """
    grouped = group_outcomes(records)
    task_order = _order(tasks, [r.task for r in records])
    method_order = _order(methods, [r.method for r in records])
    rows = []
    for task in task_order:
        reference = grouped.get((task, baseline))
        for method in method_order:
            outcomes = grouped.get((task, method))
            if outcomes:
                compare = reference is not None and method != baseline
                rows.append(method_row(task, method, outcomes, reference if compare else None, machine_of))
    return rows


def _order(preferred: Sequence[str], seen: Sequence[str]) -> list[str]:
    present = dict.fromkeys(seen)
    return [name for name in dict.fromkeys([*preferred, *seen]) if name in present]


def method_row(
    task: str, method: str, outcomes: dict[str, ItemOutcome], reference: dict[str, ItemOutcome] | None,
    machine_of: MachineOf | None = None,
) -> MethodRow:
    """The row of one task and method; ``reference`` is the baseline's outcomes to compare with."""
    records = [r for outcome in outcomes.values() for r in outcome.records]
    scored = [o.correct for o in outcomes.values() if o.correct is not None]
    timed = [o for o in outcomes.values() if not o.disturbed]
    seconds = sum(o.seconds for o in timed)
    return MethodRow(
        task=task,
        method=method,
        lossless=bool(records[0].method_config.get("lossless", False)),
        sampled=any(r.generation.get("temperature", 0.0) > 0 for r in records),
        items=len(outcomes),
        scored=len(scored),
        correct=sum(scored),
        accuracy=wilson_interval(sum(scored), len(scored)),
        tokens_per_second=sum(o.new_tokens for o in timed) / seconds if seconds > 0 else None,
        mean_accepted_length=_mean_accepted_length(records),
        acceptance_rate=_acceptance_rate(records),
        mean_new_tokens=sum(o.new_tokens for o in outcomes.values()) / len(outcomes),
        mean_rounds=sum(r.stats["rounds"] for r in records) / len(outcomes),
        accepted_histogram=_histogram(records),
        comparison=compare(outcomes, reference, machine_of) if reference is not None else None,
        assistant_share=_assistant_share(records),
        seconds_per_answer=seconds / len(timed) if timed else None,
        disagreement=_disagreement(records),
        disturbed=len(outcomes) - len(timed),
        load_unmeasured=sum(not o.load_measured for o in outcomes.values()),
        retimed=sum(bool(_replaced(o)) for o in outcomes.values()),
        retimed_changed=sum(any(not r["same_tokens"] for r in _replaced(o)) for o in outcomes.values()),
    )


def _replaced(outcome: ItemOutcome) -> list[dict[str, Any]]:
    """What the item's re-timed turns keep of the records they replaced."""
    return [r.timing["replaces"] for r in outcome.records if r.timing.get("replaces")]


def _mean_accepted_length(records: Sequence[SampleRecord]) -> float | None:
    """Tokens committed per verifier pass over all rounds (a per-sample τ weighted by its rounds)."""
    rounds = sum(r.stats["rounds"] for r in records)
    committed = sum(r.stats["mean_accepted_length"] * r.stats["rounds"] for r in records)
    return committed / rounds if rounds else None


def _assistant_share(records: Sequence[SampleRecord]) -> float | None:
    """Tokens written by an assistant / all tokens, over records that name authors (None: no such record)."""
    authored = [r.authors for r in records if r.authors is not None]
    if not authored:
        return None
    tokens = [author for authors in authored for author in authors]
    return sum(author != DRAFT_AUTHOR for author in tokens) / len(tokens) if tokens else 0.0


def _disagreement(records: Sequence[SampleRecord]) -> Disagreement | None:
    counted = [r for r in records if r.stats.get("exact_only") is not None]
    kept = sum(r.stats["accepted"] for r in counted)
    if not kept:
        return None
    rule_only = sum(r.stats["provenance_counts"].get("relaxed", 0) for r in counted)
    exact_only = sum(r.stats["exact_only"] for r in counted)
    recorded = [r.stats["stopped_by"] for r in counted if "stopped_by" in r.stats]
    stopped_by = sum((Counter(stops) for stops in recorded), Counter())
    return Disagreement(kept, rule_only / kept, exact_only / kept, dict(stopped_by), len(recorded), len(counted))


def _acceptance_rate(records: Sequence[SampleRecord]) -> float | None:
    proposed = sum(r.stats["proposed"] for r in records)
    return sum(r.stats["accepted"] for r in records) / proposed if proposed else None


def _histogram(records: Sequence[SampleRecord]) -> list[int]:
    """Rounds that kept exactly n drafted tokens, summed over samples."""
    total: list[int] = []
    for record in records:
        counts = record.stats.get("accepted_histogram") or []
        total += [0] * (len(counts) - len(total))
        for n, count in enumerate(counts):
            total[n] += count
    return total


def natural_order(item_id: str) -> list[tuple[int, int | str]]:
    """A sort key that puts item "81" before "100" and "HumanEval/9" before "HumanEval/10"."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", item_id) if part]


def compare(
    outcomes: dict[str, ItemOutcome], reference: dict[str, ItemOutcome],
    machine_of: MachineOf | None = None,
) -> Comparison:
    """The method's outcomes against the baseline's, over items both completed with the same turns."""
    pairs = [(o, reference[i]) for i, o in sorted(outcomes.items()) if i in reference and reference[i].turns == o.turns]
    undisturbed = [(o, b) for o, b in pairs if not (o.disturbed or b.disturbed)]
    timed = [(o, b) for o, b in undisturbed if machine_of is None or _ran_alike(o, b, machine_of)]
    identical = [(o, b) for o, b in pairs if o.token_ids == b.token_ids]
    scored = [(o.correct, b.correct) for o, b in pairs if o.correct is not None and b.correct is not None]
    identical_scored = [(o.correct, b.correct) for o, b in identical if o.correct is not None and b.correct is not None]
    method_right, baseline_right = [bool(m) for m, _ in scored], [bool(b) for _, b in scored]
    return Comparison(
        paired=len(pairs),
        timed=len(timed),
        speedup=_speedup(timed),
        median_speedup=median([o.tokens_per_second / b.tokens_per_second for o, b in timed
                               if o.tokens_per_second and b.tokens_per_second]),
        identical=len(identical),
        identical_scored=len(identical_scored),
        identical_correct=sum(bool(m) for m, _ in identical_scored),
        identical_baseline_correct=sum(bool(b) for _, b in identical_scored),
        scored_pairs=len(scored),
        baseline_correct=sum(baseline_right),
        difference=paired_bootstrap_difference(method_right, baseline_right),
        mcnemar_p=mcnemar_exact(sum(m and not b for m, b in scored), sum(b and not m for m, b in scored)) if scored else None,
        differing_items=tuple(sorted((o.item_id for o, b in pairs if o.token_ids != b.token_ids), key=natural_order)),
        unlike_machines=len(undisturbed) - len(timed),
    )


def _ran_alike(outcome: ItemOutcome, base: ItemOutcome, machine_of: MachineOf) -> bool:
    """Whether every turn of the method and of the baseline ran on machines alike to one another."""
    machines = [machine_of(r) for r in (*outcome.records, *base.records)]
    return all(alike(first, second) for first in machines for second in machines)


def _speedup(pairs: Sequence[tuple[ItemOutcome, ItemOutcome]]) -> float | None:
    method_seconds = sum(o.seconds for o, _ in pairs)
    baseline_seconds = sum(b.seconds for _, b in pairs)
    baseline_tokens = sum(b.new_tokens for _, b in pairs)
    if not method_seconds or not baseline_seconds or not baseline_tokens:
        return None
    return (sum(o.new_tokens for o, _ in pairs) / method_seconds) / (baseline_tokens / baseline_seconds)
