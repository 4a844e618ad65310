"""Plots: accuracy against speedup per task (a point per method), speedup per task (or category)
as bars, accepted-length histograms, and for a method run at several values of one option (the
judge's θ, lenient's l) accuracy against mean accepted length along that option.

matplotlib is an optional dependency (the ``report`` extra); without it, plotting raises a
:class:`PlotDependencyError` that says how to install it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from verispec.errors import VerispecError
from verispec.eval.report.categories import whole_tasks
from verispec.eval.report.summary import MethodRow
from verispec.methods import Method

COLOURS = 10  # matplotlib's default colour cycle; past it, points change marker (bars hatch) so none look alike
MARKERS = "osD^v"
HATCHES = ("", "//", "..", "xx")
LABELLED_POINTS = 8  # more points than this get a legend: labels beside them would crowd
CHAR_POINTS = 4.6  # mean width of a character of a point label (font size 8)
LINE_POINTS = 10  # a label line's height, in points
INSTALL = "pip install 'verispec[report]' (or: pip install matplotlib)"


class PlotDependencyError(VerispecError, ImportError):
    """matplotlib, needed for plots, is not installed."""


def pyplot() -> Any:
    """matplotlib's pyplot, drawing to files; a :class:`PlotDependencyError` that says how to install it if missing."""
    try:
        import matplotlib
    except ImportError as error:
        raise PlotDependencyError(f"plots need matplotlib, which is not installed: {INSTALL}") from error
    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def write_plots(rows: Sequence[MethodRow], out_dir: Path, baseline: str) -> list[Path]:
    """Write every plot into ``out_dir`` and return the files written."""
    plt = pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for task in dict.fromkeys(row.task for row in rows):
        path = accuracy_vs_speedup(plt, [r for r in rows if r.task == task], out_dir, baseline)
        if path is not None:
            written.append(path)
    for (task, name, key), points in option_sweeps(rows).items():
        written.append(sweep_curve(plt, task, name, key, points, [r for r in rows if r.task == task], out_dir, baseline))
    extra = [speedup_by_task(plt, rows, out_dir, baseline), accepted_lengths(plt, whole_tasks(rows), out_dir)]
    return written + [path for path in extra if path is not None]


def option_sweeps(rows: Sequence[MethodRow]) -> dict[tuple[str, str, str], list[tuple[float, MethodRow]]]:
    """Rows of one task and method that differ only in one numeric option, by (task, method, option).

    Only sweeps over at least two values count; rows are sorted by the option's value. Labels that
    are not method specs (or name unknown methods) are skipped.
    """
    groups: dict[tuple[str, str, str, str], list[tuple[float, MethodRow]]] = {}
    for row in rows:
        try:
            method = Method.parse(row.method)
        except VerispecError:
            continue
        for key, value in method.options.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and row.accuracy is not None:
                rest = ",".join(f"{k}={v}" for k, v in sorted(method.options.items()) if k != key)
                groups.setdefault((row.task, method.name, key, rest), []).append((float(value), row))
    sweeps: dict[tuple[str, str, str], list[tuple[float, MethodRow]]] = {}
    for (task, name, key, _), points in groups.items():
        if len({value for value, _ in points}) >= 2 and (task, name, key) not in sweeps:
            sweeps[(task, name, key)] = sorted(points, key=lambda p: p[0])
    return sweeps


def sweep_curve(
    plt: Any, task: str, name: str, key: str, points: Sequence[tuple[float, MethodRow]],
    task_rows: Sequence[MethodRow], out_dir: Path, baseline: str,
) -> Path:
    """Accuracy (95% CI) against mean accepted length along one option.

    Beside the curve: the baseline's accuracy band, the method with the option left at its default
    (the judge at its head's θ) and every ``sd`` variant, each a point at its own accepted length,
    since the curve runs between the relaxed rule and the exact check it relaxes.
    """
    fig, ax = plt.subplots(figsize=(7.2, 4.8))
    curve = [(f"{key}={value:g}", row) for value, row in points]
    _errorbars(ax, curve, fmt="o-", label=f"{name} along {key}")
    swept = Method.parse(points[0][1].method)
    others = [(_beside_label(row.method, swept, key), row) for row in task_rows if beside_curve(row, swept, key, baseline)]
    for k, (label, row) in enumerate(others):
        _errorbars(ax, [(label, row)], fmt="s", color=f"C{k + 1}", mfc="none", label=label)
    _annotate(ax, [*curve, *others], lambda row: (row.mean_accepted_length or 1.0, 100 * row.accuracy.estimate))
    for row in task_rows:
        if row.method == baseline and row.accuracy is not None:
            ax.axhspan(100 * row.accuracy.low, 100 * row.accuracy.high, alpha=0.12, color="grey")
            ax.axhline(100 * row.accuracy.estimate, linestyle=":", color="grey",
                       label=f"{baseline}, all {row.scored} items (95% CI band)")
    _paired_baseline(ax, [row for _, row in points], baseline)
    ax.set(xlabel="mean accepted length (tokens per verifier pass)", ylabel="accuracy, % (95% Wilson CI)",
           title=f"{task}: {name} along {key}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(plt, fig, out_dir / f"sweep_{_slug(task)}_{_slug(name)}_{_slug(key)}.png")


def _paired_baseline(ax: Any, rows: Sequence[MethodRow], baseline: str) -> None:
    """The baseline's accuracy on each curve point's own items, a grey cross at the point's length:
    where points ran on fewer items than the baseline, the band alone would mislead."""
    xy = [(row.mean_accepted_length or 1.0, 100 * row.comparison.baseline_correct / row.comparison.scored_pairs)
          for row in rows if row.comparison is not None and row.comparison.scored_pairs]
    if xy:
        ax.plot(*zip(*xy), "x", color="dimgrey", zorder=3, label=f"{baseline} on the same items as each point")


def beside_curve(row: MethodRow, swept: Method, key: str, baseline: str) -> bool:
    """Whether a row is drawn beside the curve of ``swept`` along ``key``: ``sd`` variants, and
    ``swept`` with ``key`` left at its default (its other options the same)."""
    if row.accuracy is None or row.method == baseline:
        return False
    try:
        method = Method.parse(row.method)
    except VerispecError:
        return False
    rest = {k: v for k, v in swept.options.items() if k != key}
    return method.name == "sd" or (method.name == swept.name and dict(method.options) == rest)


def _beside_label(method: str, swept: Method, key: str) -> str:
    return f"{short_label(method)} (default {key})" if Method.parse(method).name == swept.name else short_label(method)


def _errorbars(ax: Any, points: Sequence[tuple[str, MethodRow]], **style: Any) -> None:
    """Points at (mean accepted length, accuracy) with the accuracy's 95% interval."""
    xs = [row.mean_accepted_length or 1.0 for _, row in points]
    ys = [100 * row.accuracy.estimate for _, row in points]  # type: ignore[union-attr]
    low = [y - 100 * row.accuracy.low for y, (_, row) in zip(ys, points)]  # type: ignore[union-attr]
    high = [100 * row.accuracy.high - y for y, (_, row) in zip(ys, points)]  # type: ignore[union-attr]
    ax.errorbar(xs, ys, yerr=[low, high], capsize=4, **style)


def _annotate(ax: Any, points: Sequence[tuple[str, MethodRow]], position: Any) -> None:
    """Label each point, moving a label left or down past the labels placed before it instead of overprinting them."""
    xy = [position(row) for _, row in points]
    labels = [label for label, _ in points]
    box = ax.get_window_extent()
    size = (box.width * 72 / ax.figure.dpi, box.height * 72 / ax.figure.dpi)
    for label, at, offset in zip(labels, xy, label_offsets(xy, labels, (ax.get_xlim(), ax.get_ylim()), size)):
        ax.annotate(label, at, textcoords="offset points", xytext=offset, fontsize=8,
                    horizontalalignment="left" if offset[0] > 0 else "right")


def label_offsets(
    xy: Sequence[tuple[float, float]], labels: Sequence[str],
    limits: tuple[tuple[float, float], tuple[float, float]], size: tuple[float, float],
) -> list[tuple[int, int]]:
    """Text offsets (in points) for ``labels`` of points at ``xy`` on axes with these data ``limits``
    and ``size`` in points. Each label sits just above its point, on the right, else on the left
    (ending there: a negative x offset), else a line lower, until its box clears every label placed
    before it and the axes' left edge."""
    (x0, x1), (y0, y1) = limits
    placed: list[tuple[float, float, float, float]] = []
    offsets: list[tuple[int, int]] = []
    for (x, y), label in zip(xy, labels):
        at = ((x - x0) / (x1 - x0) * size[0], (y - y0) / (y1 - y0) * size[1])
        width = CHAR_POINTS * len(label)
        for dx, dy in _candidates():
            box = _label_box(at, dx, dy, width)
            if box[0] >= 0 and not any(_overlap(box, other) for other in placed):
                break
        placed.append(box)
        offsets.append((dx, dy))
    return offsets


def _candidates() -> Iterator[tuple[int, int]]:
    """Label offsets nearest first: right of the point, then left of it, a line lower at a time."""
    for line in itertools.count():
        yield 6, 4 - LINE_POINTS * line
        yield -6, 4 - LINE_POINTS * line


def _label_box(at: tuple[float, float], dx: int, dy: int, width: float) -> tuple[float, float, float, float]:
    """The box (left, bottom, right, top) of a label offset by (dx, dy) from ``at``; a negative dx
    puts the label's right end there."""
    left = at[0] + dx if dx > 0 else at[0] + dx - width
    return left, at[1] + dy, left + width, at[1] + dy + LINE_POINTS - 2


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Whether two boxes (left, bottom, right, top) intersect."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def short_label(method: str) -> str:
    """A method label for a plot: option values that are file paths shortened to the file's stem."""
    name, colon, options = method.partition(":")
    if not colon:
        return method
    parts = []
    for part in options.split(","):
        key, eq, value = part.partition("=")
        parts.append(f"{key}={Path(value).stem}" if eq and "/" in value else part)
    return f"{name}:{','.join(parts)}"


def accuracy_vs_speedup(plt: Any, rows: Sequence[MethodRow], out_dir: Path, baseline: str) -> Path | None:
    """One task: each method a point at (speedup, accuracy) with its 95% interval; None if unscored.
    Up to ``LABELLED_POINTS`` methods are labelled beside their points, more in a legend, where
    labels would crowd."""
    points = [r for r in rows if r.accuracy is not None and (r.method == baseline or _speedup(r) is not None)]
    if not points:
        return None
    legend = len(points) > LABELLED_POINTS
    fig, ax = plt.subplots(figsize=(9.6 if legend else 7.2, 4.8))
    for k, row in enumerate(points):
        x, acc = _speedup(row) or 1.0, row.accuracy
        ax.errorbar([x], [100 * acc.estimate], yerr=[[100 * (acc.estimate - acc.low)], [100 * (acc.high - acc.estimate)]],
                    fmt=MARKERS[k // COLOURS % len(MARKERS)], capsize=4, label=short_label(row.method))
    if legend:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    else:
        _annotate(ax, [(short_label(row.method), row) for row in points],
                  lambda row: (_speedup(row) or 1.0, 100 * row.accuracy.estimate))
    ax.axvline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax.set(xlabel=f"speedup over {baseline} (same run)", ylabel="accuracy, % (95% Wilson CI)",
           title=f"{rows[0].task}: accuracy vs speedup")
    ax.grid(alpha=0.3)
    return save_figure(plt, fig, out_dir / f"accuracy_vs_speedup_{_slug(rows[0].task)}.png")


def speedup_by_task(plt: Any, rows: Sequence[MethodRow], out_dir: Path, baseline: str) -> Path | None:
    """Bars of each method's speedup over the baseline, grouped by task or category; None without speedups.

    Speculation gains very differently by kind of text, which a per-category bar shows at a glance.
    """
    timed = [row for row in rows if _speedup(row) is not None]
    if not timed:
        return None
    tasks = list(dict.fromkeys(row.task for row in rows))
    methods = list(dict.fromkeys(row.method for row in timed))
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(2.4 + max(6.4, 0.9 * len(tasks) * max(1, len(methods) / 2)), 4.4))
    for k, method in enumerate(methods):
        by_task = {row.task: _speedup(row) for row in timed if row.method == method}
        xs = [i + (k - (len(methods) - 1) / 2) * width for i, task in enumerate(tasks) if task in by_task]
        heights = [by_task[task] for task in tasks if task in by_task]
        bars = ax.bar(xs, heights, width, label=short_label(method), hatch=HATCHES[k // COLOURS % len(HATCHES)])
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xticks(range(len(tasks)), tasks, rotation=30, ha="right", fontsize=8)
    ax.set(ylabel=f"speedup over {baseline} (same run)", title="speedup by task")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3, axis="y")
    return save_figure(plt, fig, out_dir / "speedup_by_task.png")


def _speedup(row: MethodRow) -> float | None:
    return row.comparison.speedup if row.comparison else None


def accepted_lengths(plt: Any, rows: Sequence[MethodRow], out_dir: Path) -> Path | None:
    """Per method (all tasks together): the share of rounds that kept n drafted tokens."""
    histograms = histograms_by_method(rows)
    if not histograms:
        return None
    fig, axes = plt.subplots(len(histograms), 1, figsize=(6.4, 0.6 + 2.2 * len(histograms)), squeeze=False)
    for ax, (method, counts) in zip(axes[:, 0], histograms.items(), strict=True):
        total = sum(counts)
        ax.bar(range(len(counts)), [c / total for c in counts], color="#0072B2")
        mean = sum(n * c for n, c in enumerate(counts)) / total
        ax.set(title=f"{short_label(method)}: {total} rounds, {mean:.2f} drafted tokens kept per round", ylabel="share of rounds")
        ax.set_xticks(range(len(counts)))
    axes[-1, 0].set_xlabel("drafted tokens kept in a round")
    return save_figure(plt, fig, out_dir / "accepted_lengths.png")


def histograms_by_method(rows: Sequence[MethodRow]) -> dict[str, list[int]]:
    """Per method, the rounds that kept n drafted tokens, summed over the rows' tasks."""
    totals: dict[str, list[int]] = {}
    for row in rows:
        if not any(row.accepted_histogram):
            continue
        total = totals.setdefault(row.method, [])
        total += [0] * (len(row.accepted_histogram) - len(total))
        for n, count in enumerate(row.accepted_histogram):
            total[n] += count
    return totals


def save_figure(plt: Any, fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")  # long tick labels can outgrow tight_layout's margins
    plt.close(fig)
    return path


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
