"""``verispec rescore``: score a run's stored samples again with the current scorers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verispec.cli.eval import warnings_to_stderr
from verispec.cli.report import specs
from verispec.eval.records import RESULTS_FILE
from verispec.eval.rescore import rescore_run


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``rescore`` command."""
    parser = subparsers.add_parser(
        "rescore",
        help="score a run's samples again from their stored text with the current scorers; loads no model",
        description=f"Rewrites the score of every record of RUN_DIR/{RESULTS_FILE} whose score differs now "
        "(atomically: a new file replaces the old one), and prints each change. Code tasks run their tests again.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the --out directory of `verispec eval`")
    parser.add_argument("--tasks", help="only these tasks, comma-separated (default every scored task)")
    parser.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Rescore the run and print one line per changed score, then a summary on stderr."""
    with warnings_to_stderr():
        result = rescore_run(args.run_dir, specs(args.tasks), dry_run=args.dry_run)
    for change in result.changes:
        print(change.describe())
    verb = "changed" if result.written or not result.changes else "would change (dry run)"
    print(f"{args.run_dir}: {result.scored} samples scored again; {len(result.changes)} scores {verb}, "
          f"{len(result.flips)} of them from correct to wrong or back", file=sys.stderr)
    return 0
