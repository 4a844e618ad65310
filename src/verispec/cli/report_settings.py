"""``verispec report-settings``: collaborative settings side by side, task by task."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verispec.cli.eval import warnings_to_stderr
from verispec.cli.report import canonical_label, print_and_save, specs
from verispec.eval.report.settings import compare_settings, load_settings, settings_markdown, settings_plot


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report-settings`` command."""
    parser = subparsers.add_parser(
        "report-settings",
        help="compare collaborative settings (run directories) task by task against each one's best single model",
        description="Prints a Markdown table per task: each setting's models alone and its other methods, every "
        "method compared with the setting's best single model on the same items.",
    )
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="--out directories of `verispec eval`")
    parser.add_argument("--tasks", help="only these tasks, comma-separated, in this order")
    parser.add_argument("--methods", help="only these methods besides the models alone: labels or names "
                        "(cosd-tree matches every tree), comma-separated")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the report to FILE")
    parser.add_argument("--plots", type=Path, metavar="DIR",
                        help="write settings_accuracy.png into DIR: accuracy per task, setting and method (needs matplotlib)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the report and write it where asked."""
    with warnings_to_stderr():
        settings = load_settings(args.run_dirs)
    rows = compare_settings(settings, tasks=specs(args.tasks), methods=[canonical_label(m) for m in specs(args.methods)])
    print_and_save(settings_markdown(rows, settings), args.markdown)
    if args.plots and (path := settings_plot(rows, args.plots)):
        print(f"plot: {path}", file=sys.stderr)
    return 0
