"""Reports on evaluation runs: per-task tables with confidence intervals, plots, an HTML token view."""

from verispec.eval.report.html import render_html, write_html
from verispec.eval.report.load import RunReport, load_report
from verispec.eval.report.plots import PlotDependencyError, option_sweeps, write_plots
from verispec.eval.report.stats import Interval, mcnemar_exact, paired_bootstrap_difference, wilson_interval
from verispec.eval.report.summary import BASELINE, Comparison, ItemOutcome, MethodRow, summarize
from verispec.eval.report.tables import markdown_report, markdown_table
from verispec.eval.report.targets import TargetCheck, check_targets, targets_markdown

__all__ = [
    "BASELINE",
    "Comparison",
    "Interval",
    "ItemOutcome",
    "MethodRow",
    "PlotDependencyError",
    "RunReport",
    "TargetCheck",
    "check_targets",
    "load_report",
    "markdown_report",
    "markdown_table",
    "mcnemar_exact",
    "option_sweeps",
    "paired_bootstrap_difference",
    "render_html",
    "summarize",
    "targets_markdown",
    "wilson_interval",
    "write_html",
    "write_plots",
]
