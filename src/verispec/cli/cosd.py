"""``verispec cosd``: generate with CoSD and its baselines, train and show CoSD trees and deferral classifiers.

``cosd generate`` runs through the same :class:`~verispec.pipeline.Pipeline` as ``verispec generate
--method cosd-rule``, with CoSD's own flags, and prints who wrote how much of the answer.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from verispec.cli.runtime import add_runtime_options, runtime_kwargs
from verispec.cli.token_view import legend, render_tokens
from verispec.cosd.baselines import LogisticDeferral
from verispec.cosd.trained import ClassifierFile
from verispec.cosd.tree import DecisionTree
from verispec.methods import Method, get_method_spec
from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER
from verispec.pipeline import GenerationResult, ModelHandle, Pipeline
from verispec.provenance import Provenance
from verispec.schedule import DEFAULT_GAMMA

METHODS = ("cosd-rule", "cosd-tree", "avg", "co-llm")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``cosd`` command and its subcommands."""
    parser = subparsers.add_parser("cosd", help="Collaborative Speculative Decoding: generate, train and show trees")
    commands = parser.add_subparsers(dest="cosd_command", required=True, metavar="COMMAND")

    generate = commands.add_parser("generate", help="generate with a draft and assistants fused by CoSD (or a baseline)")
    generate.add_argument("prompt", help="the user message (or raw text with --raw)")
    generate.add_argument("--method", choices=METHODS, default="cosd-rule")
    _model_arguments(generate)
    generate.add_argument("--alpha", type=float, default=0.5, help="cosd-rule: replace only below this draft probability")
    generate.add_argument("--beta", type=float, default=0.5, help="cosd-rule: the assistant needs more than beta x the draft's probability")
    generate.add_argument("--tree", help="cosd-tree: a file from `verispec cosd train-tree`")
    generate.add_argument("--classifier", help="co-llm: a file from `verispec cosd train-deferral`")
    generate.add_argument("--gamma", type=int, default=DEFAULT_GAMMA, help="tokens drafted per round")
    generate.add_argument("--max-new-tokens", type=int, default=256)
    generate.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    generate.add_argument("--seed", type=int)
    generate.add_argument("--raw", action="store_true", help="continue the text as is, without chat templates")
    output = generate.add_mutually_exclusive_group()
    output.add_argument("--show-tokens", action="store_true", help="colour the output by who wrote it and why")
    output.add_argument("--json", action="store_true", help="print one JSON object (text, segments, stats)")
    generate.set_defaults(func=run_generate)

    for kind, name in (("tree", "train-tree"), ("deferral", "train-deferral")):
        what = "the CoSD decision tree" if kind == "tree" else "the Co-LLM-style deferral classifier"
        train = commands.add_parser(name, help=f"train {what} on reference answers of reserved training items")
        _model_arguments(train)
        train.add_argument(
            "--task", action="append", dest="tasks", metavar="TASK",
            help="take reference answers from this task's training items (default gsm8k); repeatable",
        )
        train.add_argument("--samples", type=int, default=3, help="reference answers per task")
        train.add_argument("--seed", type=int, default=0, help="which training items")
        if kind == "tree":
            train.add_argument("--max-depth", type=int, default=3)
        train.add_argument("--raw", action="store_true", help="plain-text prompts (for models without a chat template)")
        train.add_argument("--out", required=True, help="where to write the JSON file")
        train.set_defaults(func=run_train, kind=kind)

    showing = commands.add_parser("show-tree", help="print a trained tree's rules (or a deferral classifier's weights)")
    showing.add_argument("file")
    showing.set_defaults(func=run_show)


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--draft", default=DEFAULT_DRAFT, help="draft model: registry name, local path or hub id")
    parser.add_argument(
        "--assistant", action="append", default=[], help=f"assistant model (repeatable; default {DEFAULT_VERIFIER})"
    )
    add_runtime_options(parser)


def _pipeline(args: argparse.Namespace) -> Pipeline:
    assistants = args.assistant or [DEFAULT_VERIFIER]
    return Pipeline(args.draft, assistants[0], assistants=assistants[1:], **runtime_kwargs(args))


def _load(args: argparse.Namespace) -> tuple[ModelHandle, list[ModelHandle]]:
    pipe = _pipeline(args)
    return pipe.draft, pipe.assistants


def _method(args: argparse.Namespace) -> Method:
    """The method the flags name, with its options checked before any model loads."""
    options = {
        "cosd-rule": {"alpha": args.alpha, "beta": args.beta, "gamma": args.gamma},
        "cosd-tree": {"tree": args.tree, "gamma": args.gamma},
        "avg": {},
        "co-llm": {"classifier": args.classifier},
    }[args.method]
    return Method(get_method_spec(args.method), options)


def run_generate(args: argparse.Namespace) -> int:
    method = _method(args)
    pipe = _pipeline(args)
    options = {"method": method, "max_new_tokens": args.max_new_tokens, "temperature": args.temperature,
               "seed": args.seed, "chat": not args.raw}
    if args.json:
        print(json.dumps(pipe.generate(args.prompt, **options).to_dict()))
        return 0
    result = None
    for chunk in pipe.stream(args.prompt, **options):
        if not args.show_tokens and chunk.text:
            sys.stdout.write(chunk.text)
            sys.stdout.flush()
        result = chunk.result or result
    assert result is not None
    if args.show_tokens:
        print(render_tokens(result.pieces, result.provenance))
        print(legend(), file=sys.stderr)
    else:
        print()
    print(_summary(result), file=sys.stderr)
    return 0


def _summary(result: GenerationResult) -> str:
    s = result.stats
    authors = Counter(result.authors or [])
    shares = ", ".join(f"{name} {n / len(result.token_ids):.0%}" for name, n in sorted(authors.items()))
    parts = [
        f"[{result.method}] {s.new_tokens} tokens in {s.total_seconds:.2f}s ({s.tokens_per_second:.2f} tokens/s)",
        f"finish: {result.finish_reason}", f"written by: {shares}",
    ]
    if s.proposed:
        replacements = result.provenance.count(Provenance.REPLACED)
        parts.append(f"{s.rounds} rounds, {replacements} replacements, {s.accepted}/{s.proposed} drafted tokens kept")
    return "; ".join(parts)


def run_train(args: argparse.Namespace) -> int:
    from verispec.training.cosd import TrainingOptions, train

    options = TrainingOptions(
        tasks=tuple(args.tasks or ["gsm8k"]), samples=args.samples, seed=args.seed,
        max_depth=getattr(args, "max_depth", 3), chat=not args.raw,
    )
    draft, assistants = _load(args)
    stored = train(args.kind, draft, assistants, options)
    stored.save(args.out)
    print(_describe(stored), end="")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def run_show(args: argparse.Namespace) -> int:
    print(_describe(ClassifierFile.load(args.file)), end="")
    return 0


def _describe(stored: ClassifierFile) -> str:
    """The classifier's rules (tree) or weights (deferral), then what it was trained on."""
    if stored.kind == "tree":
        body = DecisionTree.from_payload(stored.payload).rules(stored.features, stored.class_names)
    else:
        body = LogisticDeferral.from_payload(stored.payload).describe(stored.features, stored.class_names)
    return body + "\n" + stored.summary()
