"""The ``verispec`` command line."""

from __future__ import annotations

import argparse
import sys

from verispec.cli import bench, cosd, data, eval, generate, grade, judge, models, report, report_settings, rescore, serve, serve_bench
from verispec.errors import VerispecError


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="verispec", description="Speculative decoding with pluggable verification.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bench.register(subparsers)
    cosd.register(subparsers)
    data.register(subparsers)
    eval.register(subparsers)
    generate.register(subparsers)
    grade.register(subparsers)
    judge.register(subparsers)
    models.register(subparsers)
    report.register(subparsers)
    report_settings.register(subparsers)
    rescore.register(subparsers)
    serve.register(subparsers)
    serve_bench.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit status.

    A VerispecError prints one ``error: <message>`` line on stderr and gives status 2.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except VerispecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
