"""The benchmark summary as a plain-text table."""

from __future__ import annotations

from verispec.bench.summary import BenchSummary, MethodSummary


def format_table(summary: BenchSummary) -> str:
    """One row per method: medians of tokens/s and speedup (overall and per category), τ,
    acceptance, identical-to-verifier count, overhead and the draft's cost ratio ``c`` (where the
    run has the draft alone on the method's backend); then ``c`` and ``1/c`` of the benchmark's pair.
    Methods placed on another backend are compared with the verifier there.
    """
    header = ["method", "tok/s", "speedup", *summary.categories, "τ", "accept", "identical", "overhead", "c"]
    rows = [header, *(_row(m, summary.categories) for m in summary.methods)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(_align(i, cell, w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(_cost_line(summary))
    return "\n".join(lines)


def _row(m: MethodSummary, categories: list[str]) -> list[str]:
    return [
        m.method,
        f"{m.tokens_per_second:.2f}",
        _times(m.speedup),
        *(_times(m.by_category[c].speedup) if c in m.by_category else "-" for c in categories),
        f"{m.mean_accepted_length:.2f}" if m.mean_accepted_length is not None else "-",
        f"{m.acceptance_rate:.1%}" if m.acceptance_rate is not None else "-",
        "ref" if m.method == m.baseline else f"{m.identical}/{m.compared}",
        f"{m.overhead_fraction:.1%}" if m.overhead_fraction is not None else "-",
        f"{m.cost_ratio:.3f}" if m.cost_ratio is not None else "-",
    ]


def _align(column: int, cell: str, width: int) -> str:
    """Method names flush left, numbers flush right."""
    return cell.ljust(width) if column == 0 else cell.rjust(width)


def _times(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "-"


def _cost_line(summary: BenchSummary) -> str:
    if summary.cost_ratio is None:
        return "c (draft/verifier cost per token): not measured (add the 'draft' method)"
    return (
        f"c (draft/verifier cost per token) = {summary.cost_ratio:.3f}; "
        f"ceiling 1/c = {summary.ceiling:.2f}x over verifier-only"
    )
