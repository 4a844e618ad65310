"""Plots: accuracy against speedup per task (a point per method), speedup per task (or category)
as bars, accepted-length histograms, and for a method run at several values of one option (the
judge's θ, lenient's l) accuracy against mean accepted length along that option.

matplotlib is an optional dependency (the ``report`` extra); without it, plotting raises a
:class:`PlotDependencyError` that says how to install it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from verispec.errors import VerispecError
from verispec.eval.report.summary import MethodRow
from verispec.methods import Method

INSTALL = "pip install 'verispec[report]' (or: pip install matplotlib)"


class PlotDependencyError(VerispecError, ImportError):
    """matplotlib, needed for plots, is not installed."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as error:
        raise PlotDependencyError(f"plots need matplotlib, which is not installed: {INSTALL}") from error
    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def write_plots(rows: Sequence[MethodRow], out_dir: Path, baseline: str) -> list[Path]:
    """Write every plot into ``out_dir`` and return the files written."""
    plt = _pyplot()
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


def whole_tasks(rows: Sequence[MethodRow]) -> list[MethodRow]:
    """The rows of whole tasks, without the per-category rows (``TASK/CATEGORY``) that repeat their samples."""
    tasks = {row.task for row in rows}
    return [row for row in rows if row.task.rpartition("/")[0] not in tasks]


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
            ax.axhline(100 * row.accuracy.estimate, linestyle=":", color="grey", label=f"{baseline} (95% CI band)")
    ax.set(xlabel="mean accepted length (tokens per verifier pass)", ylabel="accuracy, % (95% Wilson CI)",
           title=f"{task}: {name} along {key}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(plt, fig, out_dir / f"sweep_{_slug(task)}_{_slug(name)}_{_slug(key)}.png")


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
    """Label each point, stacking the labels of points that (nearly) coincide instead of overprinting them."""
    xy = [position(row) for _, row in points]
    offsets = label_offsets(xy)
    for (label, _), at, offset in zip(points, xy, offsets):
        ax.annotate(label, at, textcoords="offset points", xytext=offset, fontsize=8)


def label_offsets(xy: Sequence[tuple[float, float]], near: float = 0.04, step: int = 10) -> list[tuple[int, int]]:
    """Text offsets (in points) for labels of points at ``xy``: a point within ``near`` of the plot's
    span of an earlier one has its label ``step`` points below the last label stacked there."""
    spans = [max(values) - min(values) or 1.0 for values in zip(*xy)] if xy else [1.0, 1.0]
    offsets: list[tuple[int, int]] = []
    for i, (x, y) in enumerate(xy):
        close = [offsets[j][1] for j in range(i)
                 if abs(xy[j][0] - x) <= near * spans[0] and abs(xy[j][1] - y) <= near * spans[1]]
        offsets.append((6, min(close) - step if close else 4))
    return offsets


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
    """One task: each method a point at (speedup, accuracy) with its 95% interval; None if unscored."""
    points = [r for r in rows if r.accuracy is not None and (r.method == baseline or _speedup(r) is not None)]
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(7.2, 4.8))
    for row in points:
        x, acc = _speedup(row) or 1.0, row.accuracy
        ax.errorbar([x], [100 * acc.estimate], yerr=[[100 * (acc.estimate - acc.low)], [100 * (acc.high - acc.estimate)]],
                    fmt="o", capsize=4)
    _annotate(ax, [(short_label(row.method), row) for row in points],
              lambda row: (_speedup(row) or 1.0, 100 * row.accuracy.estimate))
    ax.axvline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax.set(xlabel=f"speedup over {baseline} (same run)", ylabel="accuracy, % (95% Wilson CI)",
           title=f"{rows[0].task}: accuracy vs speedup")
    ax.grid(alpha=0.3)
    return _save(plt, fig, out_dir / f"accuracy_vs_speedup_{_slug(rows[0].task)}.png")


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
    fig, ax = plt.subplots(figsize=(max(6.4, 0.9 * len(tasks) * max(1, len(methods) / 2)), 4.4))
    for k, method in enumerate(methods):
        by_task = {row.task: _speedup(row) for row in timed if row.method == method}
        xs = [i + (k - (len(methods) - 1) / 2) * width for i, task in enumerate(tasks) if task in by_task]
        heights = [by_task[task] for task in tasks if task in by_task]
        bars = ax.bar(xs, heights, width, label=short_label(method))
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xticks(range(len(tasks)), tasks, rotation=30, ha="right", fontsize=8)
    ax.set(ylabel=f"speedup over {baseline} (same run)", title="speedup by task")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return _save(plt, fig, out_dir / "speedup_by_task.png")


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
    return _save(plt, fig, out_dir / "accepted_lengths.png")


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


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
