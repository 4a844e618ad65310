"""``verispec grade``: rate a run's chat answers (MT-Bench, Spec-Bench files) with a grader model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verispec.cli.eval import warnings_to_stderr
from verispec.cli.report import canonical_label, print_and_save, specs
from verispec.cli.runtime import add_runtime_options
from verispec.errors import ConfigError
from verispec.eval.grading import GRADES_FILE, Rater, current_grades, grade, grade_rows, grades_markdown, plan_grading
from verispec.eval.records import RunManifest
from verispec.eval.report.summary import BASELINE
from verispec.models.handles import LLAMA_CPP, TORCH, open_model
from verispec.pipeline import DEFAULT_DTYPE, DTYPES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``grade`` command."""
    parser = subparsers.add_parser(
        "grade",
        help="rate a run's chat answers with a grader model (MT-Bench's prompts); resumable",
        description=f"Appends one grade per answer to RUN_DIR/{GRADES_FILE}, skipping answers the grader has "
        "graded, then prints the ratings per task and method with 95%% intervals.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the --out directory of `verispec eval`")
    parser.add_argument("--grader", help="grader model: registry name, local path or hub id (default: the run's "
                        "verifier, which then grades its own answers: prefer a larger, other model)")
    parser.add_argument("--tasks", help="only these chat tasks, comma-separated (default: all of the run's)")
    parser.add_argument("--methods", help="only these method labels, comma-separated (default: all)")
    parser.add_argument("--explain-tokens", type=int, default=0, metavar="N",
                        help="let the grader write up to N tokens of explanation before its rating, as MT-Bench's graders "
                        "do (default 0: it rates at once, one pass over the prompt); kept apart from its direct ratings")
    parser.add_argument("--limit", type=int, help="grade only the first N items of each task")
    parser.add_argument("--by-category", action="store_true", help="also a row per category (TASK/CATEGORY)")
    parser.add_argument("--baseline", default=BASELINE, help=f"method label to compare with (default {BASELINE})")
    parser.add_argument("--report-only", action="store_true", help="grade nothing; print the ratings graded so far")
    parser.add_argument("--dry-run", action="store_true", help="say how many answers are graded and left; loads no model")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the ratings table to FILE")
    add_runtime_options(parser, backends=(TORCH, LLAMA_CPP), draft=False)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Grade what is left (unless --report-only), then print and save the ratings."""
    model = args.grader or _run_verifier(args.run_dir)
    grader = _grader_label(model, args)
    methods = [canonical_label(m) for m in specs(args.methods)]
    graded = list(dict.fromkeys([args.baseline, *methods])) if methods else []  # the baseline too, for the Δ column
    with warnings_to_stderr():
        plan = plan_grading(args.run_dir, grader, tasks=specs(args.tasks), methods=graded, limit=args.limit)
        print(f"{plan.done} answers graded by {grader}, {len(plan.jobs)} to grade", file=sys.stdout if args.dry_run else sys.stderr)
        if args.dry_run:
            return 0
        if not args.report_only and plan.jobs:
            grade(args.run_dir, _rater(model, args), grader, plan.jobs, progress=not args.no_progress)
        grades = [g for g in current_grades(args.run_dir, grader) if not args.tasks or g.task in specs(args.tasks)]
    if not grades:
        raise ConfigError(f"no answers of {args.run_dir} are graded by {grader} yet; run `verispec grade` without --report-only")
    rows = grade_rows(grades, baseline=args.baseline, methods=graded, by_category=args.by_category)
    print_and_save(grades_markdown(rows, grader, args.baseline), args.markdown)
    return 0


def _run_verifier(run_dir: Path) -> str:
    path = run_dir / "run.json"
    if not path.exists():
        raise ConfigError(f"{run_dir} has no run.json; pass --grader")
    return RunManifest.load(path).settings.verifier


def _grader_label(model: str, args: argparse.Namespace) -> str:
    """The name grades are kept under: a quantized llama.cpp grader rates apart from the torch one."""
    label = f"{model}@{LLAMA_CPP}" if args.backend == LLAMA_CPP else model
    return f"{label} (explains, up to {args.explain_tokens} tokens)" if args.explain_tokens > 0 else label


def _rater(model: str, args: argparse.Namespace) -> Rater:
    handle = open_model(model, backend=args.backend, dtype=DTYPES[args.dtype or DEFAULT_DTYPE], device=args.device)
    return Rater(handle.backend, handle.tokenizer, explain_tokens=args.explain_tokens, end_ids=handle.eos_token_ids)
