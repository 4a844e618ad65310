"""The report as text: one table row per task and method (never only an average), in Markdown.

The cell texts are shared with the HTML page, so both show the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

from verispec.eval.report.stats import Interval
from verispec.eval.report.summary import Disagreement, MethodRow
from verispec.runinfo import DISTURBED_SHARE

DASH = "–"
COLUMNS = (
    "task", "method", "n", "accuracy [95% CI]", "Δ accuracy vs {baseline} [95% CI]", "McNemar p",
    "identical", "accuracy on identical", "tokens/s", "speedup", "median speedup",
    "mean accepted length", "acceptance rate", "mean length (tokens)", "rounds per answer", "written by assistants",
    "kept by rule only / exact only",
)


def header(baseline: str) -> list[str]:
    return [column.format(baseline=baseline) for column in COLUMNS]


def cells(row: MethodRow) -> list[str]:
    """The formatted cells of a row, in :data:`COLUMNS` order."""
    c = row.comparison
    return [
        row.task,
        row.method,
        str(row.items),
        accuracy_cell(row.accuracy),
        difference_cell(c.difference) if c else DASH,
        f"{c.mcnemar_p:.3f}" if c and c.mcnemar_p is not None else DASH,
        f"{c.identical}/{c.paired}" if c else DASH,
        _identical_accuracy(row) if c else DASH,
        number_cell(row.tokens_per_second, "{:.1f}"),
        number_cell(c.speedup if c else None, "{:.2f}×"),
        number_cell(c.median_speedup if c else None, "{:.2f}×"),
        number_cell(row.mean_accepted_length, "{:.2f}"),
        number_cell(row.acceptance_rate, "{:.1%}"),
        number_cell(row.mean_new_tokens, "{:.1f}"),
        number_cell(row.mean_rounds, "{:.1f}"),
        number_cell(row.assistant_share, "{:.1%}"),
        _disagreement(row.disagreement),
    ]


def _disagreement(d: Disagreement | None) -> str:
    return DASH if d is None else f"{d.rule_only:.1%} / {d.exact_only:.1%}"


def accuracy_cell(interval: Interval | None) -> str:
    if interval is None:
        return DASH
    return f"{interval.estimate:.1%} [{interval.low:.1%}, {interval.high:.1%}]"


def difference_cell(interval: Interval | None) -> str:
    if interval is None:
        return DASH
    return f"{100 * interval.estimate:+.1f} [{100 * interval.low:+.1f}, {100 * interval.high:+.1f}] pp"


def _identical_accuracy(row: MethodRow) -> str:
    c = row.comparison
    if c is None or not c.identical_scored:
        return DASH
    ours, theirs = c.identical_correct / c.identical_scored, c.identical_baseline_correct / c.identical_scored
    return f"{ours:.1%}" if ours == theirs else f"{ours:.1%} vs {theirs:.1%}"


def number_cell(value: float | None, fmt: str) -> str:
    return DASH if value is None else fmt.format(value)


def table_grid(rows: Sequence[MethodRow], baseline: str) -> tuple[list[str], list[list[str]]]:
    """The header and the rows' cells, without the columns no row has a value in.

    Unscored tasks (MT-Bench) have no accuracy columns and lossless runs no relaxed-rule column;
    a column of dashes only makes the table wider.
    """
    grid = [cells(row) for row in rows]
    shown = [i for i in range(len(COLUMNS)) if i < 2 or any(line[i] != DASH for line in grid)]
    return [header(baseline)[i] for i in shown], [[line[i] for i in shown] for line in grid]


def markdown_table(rows: Sequence[MethodRow], baseline: str) -> str:
    """A Markdown (GitHub) table with one row per task and method."""
    head, grid = table_grid(rows, baseline)
    lines = [table_line(head), table_line(["---"] * len(head))]
    lines += [table_line(line) for line in grid]
    return "\n".join(lines)


def table_line(values: Sequence[str]) -> str:
    return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"


def difference_notes(rows: Sequence[MethodRow], baseline: str) -> list[str]:
    """Sentences on lossless methods whose outputs are not all identical to the baseline's.

    Greedy lossless decoding matches the baseline token for token in exact arithmetic; bf16
    kernels may round one-token and k-token passes differently, so such samples are counted and
    named. Sampled lossless decoding keeps the distribution, not the tokens, so it gets no list.
    A score that differs on identical outputs means the scoring itself is not deterministic.
    """
    notes = []
    for row in rows:
        c = row.comparison
        if c is None or not row.lossless:
            continue
        if row.sampled:
            notes.append(f"{row.task} / {row.method}: sampled, so outputs may differ from {baseline}'s by chance; "
                         "compare accuracies instead.")
        elif c.identical < c.paired:
            shown = ", ".join(c.differing_items[:20]) + (", ..." if len(c.differing_items) > 20 else "")
            accuracy = (f"; accuracy on the {c.identical_scored} identical scored items: {_identical_accuracy(row)}"
                        if c.identical_scored else "")
            notes.append(
                f"{row.task} / {row.method}: {c.paired - c.identical} of {c.paired} items differ from {baseline} "
                f"(items {shown}){accuracy}."
            )
        if c.identical_correct != c.identical_baseline_correct:
            notes.append(
                f"{row.task} / {row.method}: scores differ on identical outputs "
                f"({c.identical_correct} vs {c.identical_baseline_correct} correct): the scoring is not deterministic."
            )
    return notes


def timing_notes(rows: Sequence[MethodRow]) -> list[str]:
    """Sentences on items left out of the speed columns, and on timings with no load measurement."""
    notes = []
    for row in rows:
        if row.disturbed:
            notes.append(
                f"{row.task} / {row.method}: {row.disturbed} of {row.items} items left out of the speed columns; "
                f"other processes used more than {DISTURBED_SHARE:.0%} of the CPU while they ran."
            )
        c = row.comparison
        if c and c.unlike_machines:
            notes.append(
                f"{row.task} / {row.method}: {c.unlike_machines} of {c.paired} items left out of the speedup "
                "columns; the method and the baseline ran them on unlike machines (see Machines)."
            )
        if row.load_unmeasured:
            notes.append(
                f"{row.task} / {row.method}: {row.load_unmeasured} of {row.items} items were timed without a "
                "measurement of the machine's load (an older runner); their timings are kept."
            )
        if row.retimed:
            changed = f"; {row.retimed_changed} of them gave other tokens the second time" if row.retimed_changed else ""
            notes.append(
                f"{row.task} / {row.method}: {row.retimed} of {row.items} items were run again for a clean timing "
                f"(`verispec eval --retime`), as their first timing was disturbed or unmeasured{changed}."
            )
    return notes


# What each of a relaxed rule's checks means, for the notes on what ended its rounds.
CHECK_NAMES = {"score": "score below θ", "strict": "the careful guard", "lookahead": "the look-ahead guard",
               "gate": "the familiarity gate"}


def stop_notes(rows: Sequence[MethodRow]) -> list[str]:
    """Per relaxed-rule row that recorded them: which of the rule's checks rejected the drafted tokens
    its rounds ended at (whether the judge doubted a token or its gate kept it from deciding)."""
    notes = []
    for row in rows:
        d = row.disagreement
        total = sum(d.stopped_by.values()) if d else 0
        if d and total:
            shares = ", ".join(f"{CHECK_NAMES.get(check, check)} {count / total:.1%}"
                               for check, count in sorted(d.stopped_by.items(), key=lambda kv: -kv[1]))
            notes.append(f"{row.task} / {row.method}: {total} drafted tokens rejected in the {d.stops_recorded} of "
                         f"{d.items} answers that recorded it; first failed check: {shares}.")
    return notes


def markdown_report(rows: Sequence[MethodRow], baseline: str, title: str, machines: Sequence[str] = ()) -> str:
    """The table, how to read it, the notes on differing outputs and disturbed timings, and the ``machines`` lines."""
    parts = [f"# {title}", "", markdown_table(rows, baseline), "", column_notes(baseline, table_grid(rows, baseline)[0])]
    if not any(row.method == baseline for row in rows):
        parts += ["", f"No samples of the baseline {baseline!r}: no speedups or comparisons (see --baseline)."]
    notes = difference_notes(rows, baseline)
    if notes:
        parts += ["", f"## Lossless methods whose outputs differ from {baseline}", ""]
        parts += [f"- {note}" for note in notes]
    timing = timing_notes(rows)
    if timing:
        parts += ["", "## Timings", ""]
        parts += [f"- {note}" for note in timing]
    stops = stop_notes(rows)
    if stops:
        parts += ["", "## What rejected the drafted tokens the relaxed rules did not keep", ""]
        parts += [f"- {note}" for note in stops]
    if machines:
        parts += ["", "## Machines", ""]
        parts += [f"- {line}" for line in machines]
    return "\n".join(parts) + "\n"


# How to read each column, in COLUMNS order; only the notes of columns a table shows are printed.
COLUMN_NOTES = {
    "n": "n: items",
    "accuracy [95% CI]": "accuracy: Wilson 95% interval",
    "Δ accuracy vs {baseline} [95% CI]": "Δ: paired bootstrap 95% interval, percentage points, on items both methods completed",
    "McNemar p": "McNemar p: exact two-sided test on the same pairs",
    "identical": "identical: items whose tokens equal {baseline}'s",
    "speedup": "speedup: summed tokens / summed seconds over paired items, relative to {baseline} in the same run",
    "median speedup": "median speedup: median of per-item ratios",
    "mean accepted length": "mean accepted length: tokens committed per verifier pass (collaborative methods: per round)",
    "acceptance rate": "acceptance rate: kept / proposed drafted tokens",
    "rounds per answer": "rounds per answer: verifier passes (collaborative methods: draft-and-review rounds) per item",
    "written by assistants": "written by assistants: collaborative methods' tokens whose author is not the draft",
    "kept by rule only / exact only": (
        "kept by rule only / exact only: for relaxed rules (judge, lenient, typical), the share of kept drafted "
        "tokens that only the rule's own test kept (the exact check would have rejected them), and that only the "
        "exact check kept"
    ),
}


def column_notes(baseline: str, shown: Sequence[str]) -> str:
    """How to read the columns in ``shown`` (header templates or the headers themselves)."""
    wanted = {column.format(baseline=baseline) for column in shown}
    notes = [note.format(baseline=baseline) for column, note in COLUMN_NOTES.items()
             if column.format(baseline=baseline) in wanted]
    return "; ".join(notes) + "."
