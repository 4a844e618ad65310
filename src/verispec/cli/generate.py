"""``verispec generate``: one prompt, any method, text or JSON out."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from verispec.cli.runtime import add_runtime_options, runtime_kwargs
from verispec.cli.token_view import legend, render_tokens
from verispec.methods import available_methods
from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER
from verispec.pipeline import GenerationResult, Pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``generate`` command."""
    parser = subparsers.add_parser("generate", help="generate a response with any decoding method")
    parser.add_argument("prompt", help="the user message (or raw text with --raw)")
    parser.add_argument("--method", default="sd", help=f"one of {', '.join(available_methods())}, options as NAME:key=value,...")
    parser.add_argument("--draft", default=DEFAULT_DRAFT, help="draft model: registry name, local path or hub id")
    parser.add_argument("--verifier", default=DEFAULT_VERIFIER, help="verifier model: registry name, local path or hub id")
    parser.add_argument("--assistant", action="append", default=[], metavar="MODEL",
                        help="an extra assistant for collaborative methods (cosd-rule, cosd-tree, avg, co-llm), "
                        "after the verifier; repeatable")
    parser.add_argument("--gamma", type=int, help="draft length (first draft length when adaptive)")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    add_runtime_options(parser)
    parser.add_argument("--raw", action="store_true", help="continue the text as is, without the chat template")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--show-tokens", action="store_true", help="colour each token by why it was committed")
    output.add_argument("--json", action="store_true", help="print one JSON object (text, token_ids, provenance, stats)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    pipe = Pipeline(draft=args.draft, verifier=args.verifier, assistants=args.assistant, **runtime_kwargs(args))
    options = dict(
        method=args.method, gamma=args.gamma, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
        top_k=args.top_k, top_p=args.top_p, seed=args.seed, stop=args.stop, chat=not args.raw,
    )
    if args.json:
        print(json.dumps(pipe.generate(args.prompt, **options).to_dict()))
        return 0
    result = _stream_to_stdout(pipe, args.prompt, options, show_text=not args.show_tokens)
    if args.show_tokens:
        print(render_tokens(result.pieces, result.provenance))
        print(legend(), file=sys.stderr)
    print(_summary(result), file=sys.stderr)
    return 0


def _stream_to_stdout(pipe: Pipeline, prompt: str, options: dict, *, show_text: bool) -> GenerationResult:
    for chunk in pipe.stream(prompt, **options):
        if show_text and chunk.text:
            sys.stdout.write(chunk.text)
            sys.stdout.flush()
        if chunk.result is not None:
            if show_text:
                sys.stdout.write("\n")
            return chunk.result
    raise AssertionError("stream ended without a result")


def _summary(result: GenerationResult) -> str:
    s = result.stats
    parts = [
        f"[{result.method}] {s.new_tokens} tokens in {s.total_seconds:.2f}s ({s.tokens_per_second:.2f} tokens/s)",
        f"finish: {result.finish_reason}",
    ]
    if s.acceptance_rate is not None:
        parts.append(f"mean accepted length {s.mean_accepted_length:.2f}, acceptance rate {s.acceptance_rate:.1%}")
    if result.authors:
        counts = Counter(result.authors)
        parts.append("written by: " + ", ".join(f"{a} {n / len(result.authors):.0%}" for a, n in sorted(counts.items())))
    return "; ".join(parts)
