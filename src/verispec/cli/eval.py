"""``verispec eval``: run methods × tasks into a resumable results directory."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from verispec.cli.runtime import add_runtime_options, runtime_kwargs
from verispec.errors import ConfigError
from verispec.eval import available_tasks
from verispec.eval.records import BrokenRecordWarning
from verispec.eval.remaining import format_remaining, remaining_work
from verispec.eval.runner import RunConfig, run_eval
from verispec.methods import available_methods
from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER

DEFAULT_METHODS = "verifier,draft,sd"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eval`` command."""
    parser = subparsers.add_parser(
        "eval",
        help="evaluate methods on tasks; interrupt and rerun to resume",
        description="One JSON line per sample in OUT/results.jsonl, settings in OUT/run.json. Rerunning the "
        "same command resumes; adding tasks or methods extends the run.",
    )
    parser.add_argument("--tasks", action="append", required=True, metavar="TASKS",
                        help=f"comma-separated, with options as NAME:key=value; available: {', '.join(available_tasks())}")
    parser.add_argument("--methods", action="append", metavar="METHODS",
                        help=f"comma-separated, with options as NAME:key=value,... (default {DEFAULT_METHODS}); "
                        f"available: {', '.join(available_methods())}")
    parser.add_argument("--out", type=Path, required=True, help="the run directory, e.g. runs/NAME")
    parser.add_argument("--limit", type=int, help="items per task (a deterministic subset; default all)")
    parser.add_argument("--split", choices=["eval", "train"], default="eval")
    parser.add_argument("--seed", type=int, default=0, help="chooses the item subset and sampling seeds")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    parser.add_argument("--max-new-tokens", type=int, help="default: each task's own")
    parser.add_argument("--turns", type=int, default=1, help="user turns of multi-turn items to run (MT-Bench has 2)")
    parser.add_argument("--draft", default=DEFAULT_DRAFT, help="draft model: registry name, local path or hub id")
    parser.add_argument("--verifier", default=DEFAULT_VERIFIER, help="verifier model: registry name, local path or hub id")
    parser.add_argument("--assistant", action="append", default=[], metavar="MODEL",
                        help="an extra assistant for collaborative methods (cosd-rule, cosd-tree, avg, co-llm), "
                        "after the verifier; repeatable")
    add_runtime_options(parser)
    parser.add_argument("--warmup-tokens", type=int, default=16, help="one unrecorded generation per method first (0: none)")
    parser.add_argument("--retime", action="store_true",
                        help="also rerun finished samples whose timing is not known to be clean (other processes "
                        "used the CPU meanwhile, or an older runner did not measure it); the new record replaces the old")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what is done and what remains, with a time estimate from this run's own "
                        "samples; loads no model and writes nothing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the evaluation; Ctrl-C stops it cleanly and the same command resumes it."""
    config = RunConfig(
        tasks=tuple(split_specs(args.tasks)), methods=tuple(split_specs(args.methods or [DEFAULT_METHODS])),
        out=args.out, draft=args.draft, verifier=args.verifier, **runtime_kwargs(args),
        split=args.split, limit=args.limit, seed=args.seed, temperature=args.temperature,
        max_new_tokens=args.max_new_tokens, turns=args.turns, warmup_tokens=args.warmup_tokens,
        progress=not args.no_progress, assistants=tuple(args.assistant), retime=args.retime,
    )
    if args.dry_run:
        with warnings_to_stderr():
            print(format_remaining(remaining_work(config)))
        return 0
    try:
        with warnings_to_stderr():
            outcome = run_eval(config, argv=sys.argv[1:])
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished samples are in {args.out}. Rerun the same command to resume.", file=sys.stderr)
        return 130
    retimed = f" ({outcome.retimed} of them re-timed)" if outcome.retimed else ""
    print(f"{outcome.generated} samples generated{retimed}, {outcome.resumed} already done, {outcome.planned} planned; "
          f"results in {outcome.out}. Report: verispec report {outcome.out}")
    return 0


def split_specs(values: Sequence[str]) -> list[str]:
    """Comma-separated specs, where a comma may also separate one method's options.

    ``"verifier,sd:gamma=8,adaptive=false,lenient:l=0.5"`` gives ``verifier``,
    ``sd:gamma=8,adaptive=false`` and ``lenient:l=0.5``: a part with ``=`` but no ``:`` continues
    the previous spec's options.
    """
    specs: list[str] = []
    for value in values:
        for part in filter(None, (p.strip() for p in value.split(","))):
            if "=" in part and ":" not in part:
                if not specs or ":" not in specs[-1]:
                    raise ConfigError(f"option {part!r} follows no NAME:key=value spec; write NAME:{part}")
                specs[-1] += "," + part
            else:
                specs.append(part)
    return specs


@contextmanager
def warnings_to_stderr() -> Iterator[None]:
    """Show results-file warnings at once as one ``warning:`` line each, without Python's source excerpt."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", BrokenRecordWarning)
        show = warnings.showwarning

        def compact(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
            if issubclass(category, BrokenRecordWarning):
                print(f"warning: {message}", file=sys.stderr)
            else:
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = compact
        yield
