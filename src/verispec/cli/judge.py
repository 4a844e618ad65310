"""``verispec judge``: build labelled data, train a judge head, evaluate it."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from verispec.backends import ModelBackend
from verispec.cli.runtime import add_runtime_options
from verispec.errors import ConfigError
from verispec.judge.head import JudgeHead
from verispec.models.handles import LLAMA_CPP, TORCH, open_model
from verispec.models.registry import DEFAULT_VERIFIER
from verispec.pipeline import DEFAULT_DTYPE, DTYPES
from verispec.training.judge.evaluate import SPLITS, EvaluationReport, evaluate_from_data
from verispec.training.judge.features import default_cache_dir
from verispec.training.judge.fit import FitConfig
from verispec.training.judge.metrics import JudgeMetrics, ThresholdPoint
from verispec.training.judge.train import TrainConfig, TrainOutcome, train_from_data

_TABLE_STEP = 0.1  # rows of the printed θ table; the JSON holds the whole curve


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``judge`` command and its ``build-data``, ``mine``, ``fit``, ``retarget``, ``train`` and ``evaluate`` subcommands."""
    judge = subparsers.add_parser("judge", help="Judge Decoding: build labelled data, train and evaluate judge heads")
    commands = judge.add_subparsers(dest="judge_command", required=True, metavar="COMMAND")
    _register_data_command(commands, "build-data", "build a labelled data set (JSONL) for judge training", "build")
    _register_mine(commands)
    _register_train(commands)
    _register_evaluate(commands)


def _register_data_command(commands: argparse._SubParsersAction, name: str, help_text: str, module: str) -> None:
    """A subcommand whose options and runner live in ``verispec.training.judge.data.<module>``."""
    parser = commands.add_parser(name, help=help_text)
    try:
        builder = importlib.import_module(f"verispec.training.judge.data.{module}")
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith("verispec.training.judge.data"):
            raise
        parser.set_defaults(func=_builder_missing)
        return
    builder.add_arguments(parser)
    parser.set_defaults(func=builder.run)


def _register_mine(commands: argparse._SubParsersAction) -> None:
    from verispec.training.judge.mining import command

    parser = commands.add_parser("mine", help="label the draft's disagreements where the judge decides, by rollouts (fast, llama.cpp)")
    command.add_arguments(parser)
    parser.set_defaults(func=command.run)
    fit = commands.add_parser("fit", help="train a judge head on mined mismatches: grouped CV, θ for a recall, ablations")
    command.add_fit_arguments(fit)
    fit.set_defaults(func=command.run_fit)
    retarget = commands.add_parser("retarget", help="move a fitted head's θ to another recall of its out-of-fold curve")
    command.add_retarget_arguments(retarget)
    retarget.set_defaults(func=command.run_retarget)


def _builder_missing(args: argparse.Namespace) -> int:
    raise ConfigError(
        "the judge data builder (verispec.training.judge.data) is not in this installation: reinstall verispec, "
        "or write the JSONL data yourself (format: verispec.training.judge.samples)"
    )


def _register_train(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("train", help="train a judge head on labelled JSONL data for one verifier")
    parser.add_argument("data", nargs="+", help="JSONL data sets (from `verispec judge build-data`)")
    parser.add_argument("--verifier", default=DEFAULT_VERIFIER, help="verifier model: registry name, local path or hub id")
    parser.add_argument("--out", required=True, type=Path, help="where to write the head (.safetensors)")
    parser.add_argument(
        "--target-recall", type=float, default=TrainConfig.target_recall, help="share of bad tokens θ must reject on validation"
    )
    parser.add_argument(
        "--val-fraction", type=float, default=TrainConfig.val_fraction, help="share of samples held out for validation"
    )
    parser.add_argument(
        "--sample-fraction", type=float, default=TrainConfig.sample_fraction,
        help="train on this stable share of the samples (default: all)",
    )
    parser.add_argument(
        "--exclude-source", action="append", default=[], metavar="SOURCE",
        help="leave out samples of this source (math, code, choice, chat); repeatable",
    )
    parser.add_argument("--epochs", type=int, default=FitConfig.epochs, help="full-batch optimization steps")
    parser.add_argument("--lr", type=float, default=FitConfig.lr)
    parser.add_argument("--weight-decay", type=float, default=FitConfig.weight_decay, help="L2 penalty on the weights")
    _add_model_arguments(parser)
    parser.set_defaults(func=run_train)


def _register_evaluate(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("evaluate", help="metrics of a judge head on labelled data: ROC-AUC, recall, θ curve")
    parser.add_argument("head", type=Path, help="the head file (.safetensors)")
    parser.add_argument("data", nargs="+", help="JSONL data sets")
    parser.add_argument("--verifier", help="verifier model (default: the one the head was trained for)")
    parser.add_argument("--split", choices=SPLITS, default="all", help="all tokens, or the head's own train / validation split")
    parser.add_argument("--threshold", type=float, help="θ to report at (default: the head's)")
    parser.add_argument(
        "--sample-fraction", type=float, default=1.0, help="evaluate on this stable share of the samples (as in training)"
    )
    parser.add_argument("--source", action="append", default=[], help="only samples of this source; repeatable")
    parser.add_argument("--out", type=Path, help="write the metrics as JSON here")
    _add_model_arguments(parser)
    parser.set_defaults(func=run_evaluate)


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    # The verifier as you decode with it: a head reads the hidden states of one backend and precision.
    add_runtime_options(parser, backends=(TORCH, LLAMA_CPP), draft=False)
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="where extracted hidden states are cached")
    parser.add_argument("--no-cache", action="store_true", help="always extract hidden states anew")


def run_train(args: argparse.Namespace) -> int:
    config = TrainConfig(
        target_recall=args.target_recall, val_fraction=args.val_fraction, sample_fraction=args.sample_fraction,
        exclude_sources=tuple(args.exclude_source),
        fit=FitConfig(epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay),
    )
    backend, tokenizer = _load_verifier(args.verifier, args)
    outcome = train_from_data(args.data, backend, tokenizer, config, cache_dir=_cache_dir(args))
    path = outcome.head.save(args.out)
    print(_train_summary(outcome, path))
    print(_theta_table(outcome.validation))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    verifier = args.verifier or JudgeHead.load(args.head).meta.verifier.name
    backend, tokenizer = _load_verifier(verifier, args)
    report = evaluate_from_data(
        args.head, args.data, backend, tokenizer, threshold=args.threshold, split=args.split,
        sample_fraction=args.sample_fraction, sources=args.source, cache_dir=_cache_dir(args),
    )
    print(_evaluation_summary(report))
    print(_theta_table(report.metrics))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 0


def _load_verifier(name: str, args: argparse.Namespace) -> tuple[ModelBackend, PreTrainedTokenizerBase]:
    handle = open_model(name, backend=args.backend, dtype=DTYPES[args.dtype or DEFAULT_DTYPE], device=args.device)
    return handle.backend, handle.tokenizer


def _cache_dir(args: argparse.Namespace) -> Path | None:
    return None if args.no_cache else args.cache_dir


def _train_summary(outcome: TrainOutcome, path: Path) -> str:
    meta = outcome.head.meta
    lines = [
        f"wrote {path} for {meta.verifier.describe()}",
        f"train: {_counts(outcome.train)}; AUC {_number(outcome.train.roc_auc)}",
        f"validation: {_counts(outcome.validation)}; AUC {_number(outcome.validation.roc_auc)}",
        f"θ = {meta.threshold:.4f} for bad-token recall >= {meta.target_recall}: {_at(outcome.validation.at_threshold)}",
    ]
    return "\n".join(lines)


def _evaluation_summary(report: EvaluationReport) -> str:
    m = report.metrics
    a = m.agreement
    return "\n".join([
        f"{report.head} on {report.data['samples']} samples ({report.split}): {_counts(m)}; AUC {_number(m.roc_auc)}",
        f"θ = {report.threshold:.4f}: {_at(m.at_threshold)}",
        (
            f"exact check vs judge (tokens): both keep {a.both_keep}, exact only {a.exact_only}, "
            f"judge only {a.judge_only}, neither {a.neither}; "
            f"bad tokens kept by exact {a.bad_kept_by_exact}, by judge {a.bad_kept_by_judge}"
        ),
    ])


def _theta_table(metrics: JudgeMetrics) -> str:
    rows = [p for p in metrics.curve if round(p.threshold / _TABLE_STEP, 6).is_integer()]
    header = f"{'θ':>5}  {'judge bad recall':>16}  {'judge good keep':>15}  {'rule bad recall':>15}  {'rule good keep':>14}"
    body = [
        f"{p.threshold:>5.2f}  {_number(p.bad_recall):>16}  {_number(p.good_acceptance):>15}  "
        f"{_number(p.rule_bad_recall):>15}  {_number(p.rule_good_acceptance):>14}"
        for p in rows
    ]
    return "\n".join([header, *body])


def _counts(m: JudgeMetrics) -> str:
    return f"{m.tokens} tokens ({m.good} good, {m.bad} bad)"


def _at(p: ThresholdPoint) -> str:
    return (
        f"judge rejects {_number(p.bad_recall)} of bad tokens, keeps {_number(p.good_acceptance)} of good ones; "
        f"with the exact check: {_number(p.rule_bad_recall)} and {_number(p.rule_good_acceptance)}"
    )


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
