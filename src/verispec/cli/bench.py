"""``verispec bench``: compare decoding methods on the built-in prompt set; print a table, write JSON."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

from verispec.bench import BenchConfig, default_output_path, format_table, run_bench, write_json
from verispec.bench.llamacpp_peer import LLAMA_PLAIN
from verispec.bench.methods import (
    DEFAULT_METHODS, HF_ASSISTED, HF_LOOKUP, HF_VERIFIER, LLAMA_PEERS, PEERS, default_methods, split_specs,
)
from verispec.bench.prompts import CATEGORIES
from verispec.bench.runner import DEFAULT_MAX_NEW_TOKENS
from verispec.cli.runtime import add_runtime_options, runtime_argv, runtime_kwargs
from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER
from verispec.pipeline import Pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` command."""
    bench = subparsers.add_parser(
        "bench",
        help="benchmark verifier-only, draft-only, speculative decoding and transformers' assisted generation",
        description=(
            "Runs each method back to back on every prompt of the built-in set (math, code, chat) after one "
            "warm-up generation per method, prints a table (medians over prompts) and writes every number to JSON."
        ),
    )
    bench.add_argument("--draft", default=DEFAULT_DRAFT, help=f"draft model (default: {DEFAULT_DRAFT})")
    bench.add_argument("--verifier", default=DEFAULT_VERIFIER, help=f"verifier model (default: {DEFAULT_VERIFIER})")
    bench.add_argument(
        "--methods", default=None, type=split_specs,
        help=f"comma list of method specs, 'verifier' required; e.g. verifier,sd:gamma=5,adaptive=false,{HF_ASSISTED},"
             f"sd:drafter=lookup,{HF_LOOKUP},{HF_VERIFIER},llama-plain,llama-lookup:num_pred_tokens=2,sd@torch "
             f"(method@torch runs on that backend, method@draft=NAME with another draft, both: "
             f"sd@torch,draft=NAME) (default: {','.join(DEFAULT_METHODS)}, and {LLAMA_PLAIN} "
             "where llama.cpp can run the verifier's GGUF file)",
    )
    bench.add_argument("--no-peer", action="store_true",
                       help="leave out transformers' and llama-cpp-python's own generation (hf-* and llama-* methods)")
    bench.add_argument(
        "--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS, help="per generation (default: %(default)s)"
    )
    bench.add_argument(
        "--categories", type=_comma_list, default=[], help=f"comma list out of {', '.join(CATEGORIES)} (default: all)"
    )
    bench.add_argument("--limit", type=int, default=None, help="at most this many prompts, round-robin over categories")
    bench.add_argument("--repeats", type=int, default=1, help="timed runs per prompt and method (default: %(default)s)")
    bench.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up generation per method")
    add_runtime_options(bench)
    bench.add_argument(
        "--out", type=Path, default=None, help="results JSON (default: benchmarks/results/bench-<date>-<time>.json)"
    )
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    bench.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print the table and where the JSON went."""
    path = args.out or default_output_path()
    path.parent.mkdir(parents=True, exist_ok=True)  # fail now rather than after minutes of benchmarking
    pipe = Pipeline(draft=args.draft, verifier=args.verifier, **runtime_kwargs(args))
    specs = args.methods or default_methods(pipe.verifier)
    methods = [m for m in specs if not (args.no_peer and re.split("[:@]", m)[0] in (*PEERS, *LLAMA_PEERS))]
    config = BenchConfig(
        methods=tuple(methods), max_new_tokens=args.max_new_tokens, categories=tuple(args.categories),
        limit=args.limit, warmup=not args.no_warmup, repeats=args.repeats,
    )
    result = dataclasses.replace(run_bench(pipe, config, progress=not args.quiet), command=_command(args, methods))
    write_json(result, path)
    machine = result.environment["machine"]
    print(format_table(result.summary))
    print(
        f"{len(result.prompts)} prompts x {config.repeats} repeat(s), greedy, {config.max_new_tokens} new tokens, "
        f"{pipe.backend_label()} ({pipe.dtype} where torch) on {args.device}; {machine['cpu']}, "
        f"{machine['torch_threads']} threads; "
        f"{result.wall_seconds:.0f} s in all ({result.load_seconds:.0f} s loading models)"
    )
    busy = _busy_note(result.environment["load_average"], machine["cores"], machine["torch_threads"])
    if busy:
        print(busy)
    print(f"results: {path}")
    return 0


def _busy_note(load: dict[str, list[float] | None], cores: int | None, threads: int) -> str | None:
    """A warning when other work competed for the CPU (the timings are then skewed).

    Before the run the load should be near 0; after it, near this run's own ``threads``.
    """
    before, after = (load.get(k) or [0.0] for k in ("before", "after"))
    others = max(before[0], after[0] - threads)
    if not cores or others <= cores / 2:
        return None
    return (
        f"warning: other work loaded the CPU (load average {before[0]:.1f} before, {after[0]:.1f} after, "
        f"{cores} cores): timings are skewed"
    )


def _command(args: argparse.Namespace, methods: list[str]) -> list[str]:
    """The command that reproduces these numbers, every setting spelled out (the output path aside)."""
    command = [
        "verispec", "bench", "--draft", args.draft, "--verifier", args.verifier, "--methods", ",".join(methods),
        "--max-new-tokens", str(args.max_new_tokens), "--repeats", str(args.repeats), *runtime_argv(args),
    ]
    if args.categories:
        command += ["--categories", ",".join(args.categories)]
    if args.limit is not None:
        command += ["--limit", str(args.limit)]
    if args.no_warmup:
        command.append("--no-warmup")
    return command


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
