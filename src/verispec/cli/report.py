"""``verispec report``: tables, plots and an HTML token view of a run directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verispec.cli.eval import split_specs, warnings_to_stderr
from verispec.errors import ConfigError
from verispec.eval.report import BASELINE, RunReport, check_targets, load_report, targets_markdown, write_html, write_plots
from verispec.eval.report.targets import MIN_LENGTH_RATIO, TARGETS_NOTE
from verispec.methods import Method


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` command."""
    parser = subparsers.add_parser(
        "report",
        help="summarise a run: per-task table with confidence intervals, plots, HTML token view",
        description="Prints a Markdown table (one row per task and method) on stdout.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the --out directory of `verispec eval`")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the Markdown report to FILE")
    parser.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML page with a token view")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="write PNG plots into DIR (needs matplotlib)")
    parser.add_argument("--samples", type=int, default=3, help="items per task shown token by token in the HTML (default 3)")
    parser.add_argument("--baseline", default=BASELINE, help=f"method label to compare with (default {BASELINE})")
    parser.add_argument("--tasks", help="only these tasks, comma-separated")
    parser.add_argument("--methods", help="only these method labels, comma-separated (the baseline stays)")
    parser.add_argument("--by-category", action="store_true",
                        help="also a row per category (TASK/CATEGORY) for tasks whose items have one, as MT-Bench's do")
    parser.add_argument(
        "--targets", action="append", default=[], metavar="METHOD",
        help="add a table of Judge Decoding's targets for this method label (repeatable): mean accepted length "
        f">= {MIN_LENGTH_RATIO:g}x the reference's, speed against draft-only's 1/c, accuracy inside verifier's 95%% CI",
    )
    parser.add_argument(
        "--targets-reference", action="append", default=[], metavar="METHOD",
        help="the lossless method whose accepted length --targets compares with (repeatable; default sd), "
        "e.g. sd:adaptive=true,gamma=8 for sd with the judge's drafting schedule",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the Markdown report and write the files asked for."""
    with warnings_to_stderr():
        report = load_report(
            args.run_dir, baseline=args.baseline,
            tasks_only=specs(args.tasks), methods_only=[canonical_label(m) for m in specs(args.methods)],
            by_category=args.by_category,
        )
    references = [canonical_label(r) for r in args.targets_reference] or ["sd"]
    text = report.markdown() + "".join(
        _targets_section(report, canonical_label(method), reference) for method in args.targets for reference in references
    )
    print_and_save(text, args.markdown)
    if args.plots:
        for path in write_plots(report.rows, args.plots, args.baseline):
            print(f"plot: {path}", file=sys.stderr)
    if args.html:
        write_html(args.html, report.rows, report.records, title=report.title, baseline=args.baseline,
                   settings=report.settings(), samples=args.samples, machines=report.machines())
        print(f"html: {args.html}", file=sys.stderr)
    return 0


def _targets_section(report: RunReport, method: str, reference: str) -> str:
    """The targets table; its references are read from the whole run, shown in the table or not."""
    methods = list(dict.fromkeys(r.method for r in report.task_records))
    for option, label in (("--targets", method), ("--targets-reference", reference)):
        if label not in methods:
            raise ConfigError(f"{option}: no method {label!r} in this run; it has: {', '.join(methods)}")
    checks = check_targets(report.task_records, method, reference=reference, baseline=report.baseline,
                           machine_of=report.machine_of)
    return (f"\n## Targets: {method} against {reference}\n\n" + targets_markdown(checks, reference=reference)
            + f"\n{TARGETS_NOTE}\n")


def print_and_save(text: str, path: Path | None) -> None:
    """Print a report on stdout and, when ``path`` is given, write it there too."""
    print(text, end="")
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def specs(text: str | None) -> list[str]:
    return split_specs([text]) if text else []


def canonical_label(spec: str) -> str:
    """A method spec as results files label it (options sorted), so options may come in any order."""
    try:
        return Method.parse(spec).label()
    except ConfigError:
        return spec  # an unknown method: the report names the ones the run has
