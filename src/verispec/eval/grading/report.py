"""A grader's ratings per task (and category) and method: the mean with a bootstrap CI, and the
difference from the baseline on the items both have, with a paired bootstrap CI.

An item's rating is the mean over its graded turns. Only grades of answers as they stand in the
run count (an answer generated again since its grade is not graded).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verispec.eval.grading.records import GRADES_FILE, GradeRecord, read_grades
from verispec.eval.records import load_run
from verispec.eval.report.stats import Interval, bootstrap_mean, paired_bootstrap_difference
from verispec.eval.report.summary import BASELINE
from verispec.eval.report.tables import table_line

RATING_NOTE = (
    "rating: the grader's expected rating on MT-Bench's 1-10 scale (its probabilities of each rating after "
    "\"Rating: [[\", renormalised), mean over items with a bootstrap 95% interval; Δ: the mean paired difference "
    "from the baseline on the items both have, bootstrap 95% interval; format mass: the grader's mean total "
    "probability of the ten ratings (near 1: it follows the format)."
)


@dataclass(frozen=True)
class GradeRow:
    """One task (or ``TASK/CATEGORY``) and method: its rating and its difference from the baseline."""

    task: str
    method: str
    items: int
    rating: Interval
    mass: float
    difference: Interval | None = None
    paired: int = 0


def current_grades(run_dir: Path, grader: str) -> list[GradeRecord]:
    """The grader's grades of the run's answers as they stand now, in the run's record order."""
    _, records = load_run(run_dir)
    grades = read_grades(run_dir / GRADES_FILE)
    found = ((grades.get((*r.key, grader)), r) for r in records)
    return [grade for grade, sample in found if grade is not None and grade.rates(sample)]


def grade_rows(
    grades: Sequence[GradeRecord], *, baseline: str = BASELINE, methods: Sequence[str] = (), by_category: bool = False
) -> list[GradeRow]:
    """One row per task and method (and per category after its task); ``methods`` narrows and orders them."""
    ratings = _item_ratings(grades, by_category)
    tasks = list(dict.fromkeys(task for task, _ in ratings))
    order = list(methods) or list(dict.fromkeys(method for _, method in ratings))
    rows = []
    for task in sorted(tasks, key=lambda t: tasks.index(t.split("/")[0])):
        reference = ratings.get((task, baseline), {})
        for method in order:
            items = ratings.get((task, method))
            if items:
                rows.append(_row(task, method, items, reference if method != baseline else {}))
    return rows


def _item_ratings(grades: Sequence[GradeRecord], by_category: bool) -> dict[tuple[str, str], dict[str, list[GradeRecord]]]:
    """``{(task, method): {item id: its grades}}``, with ``TASK/CATEGORY`` groups too when asked."""
    grouped: dict[tuple[str, str], dict[str, list[GradeRecord]]] = defaultdict(lambda: defaultdict(list))
    for grade in grades:
        grouped[(grade.task, grade.method)][grade.item_id].append(grade)
        if by_category and grade.category:
            grouped[(f"{grade.task}/{grade.category}", grade.method)][grade.item_id].append(grade)
    return grouped


def _row(task: str, method: str, items: dict[str, list[GradeRecord]], reference: dict[str, list[GradeRecord]]) -> GradeRow:
    means = {item: _mean([g.rating for g in turns]) for item, turns in items.items()}
    paired = [item for item in means if item in reference]
    rating = bootstrap_mean(list(means.values()))
    assert rating is not None  # a row has at least one item
    return GradeRow(
        task=task, method=method, items=len(means), rating=rating,
        mass=_mean([g.mass for turns in items.values() for g in turns]),
        difference=paired_bootstrap_difference(
            [means[i] for i in paired], [_mean([g.rating for g in reference[i]]) for i in paired]) if paired else None,
        paired=len(paired),
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def grades_markdown(rows: Sequence[GradeRow], grader: str, baseline: str = BASELINE) -> str:
    """A Markdown table of the rows, headed by the grader's name, with a note on what the columns mean."""
    head = ["task", "method", "n", "rating [95% CI]", f"Δ vs {baseline} [95% CI]", "format mass"]
    lines = [table_line(head), table_line(["---"] * len(head))]
    lines += [table_line([row.task, row.method, str(row.items), _interval(row.rating), _difference(row), f"{row.mass:.2f}"])
              for row in rows]
    table = "\n".join(lines)
    return f"## Ratings by {grader}\n\n{table}\n\n{RATING_NOTE}\n"


def _interval(interval: Interval) -> str:
    return f"{interval.estimate:.2f} [{interval.low:.2f}, {interval.high:.2f}]"


def _difference(row: GradeRow) -> str:
    if row.difference is None:
        return "–"
    d = row.difference
    return f"{d.estimate:+.2f} [{d.low:+.2f}, {d.high:+.2f}] (n={row.paired})"
