"""`verispec judge mine`: options, model loading, and the run's summary.

    verispec judge mine --out data/judge/mined.jsonl --per-item 12 --time-budget 60

Mining runs on the llama.cpp backend (the GGUF files), whose multi-sequence context decodes many
rollouts per call; rerun the same command to continue where a run stopped.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import torch

from verispec.backends.llamacpp_sequences import LlamaCppSequences
from verispec.errors import ConfigError
from verispec.models.handles import LLAMA_CPP, open_model
from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER
from verispec.training.judge.mining.batched_greedy import BatchedGreedy
from verispec.training.judge.mining.fit import HEAD_BLOCKS
from verispec.training.judge.mining.miner import DEFAULT_TASKS, MineConfig, Miner, Models, mined_summary
from verispec.training.judge.mining.records import read_mined

DEFAULT_OUT = Path("data/judge/mined.jsonl")
HELD = 12  # answers whose cached prefix waits for its rollouts to fork it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `verispec judge mine`."""
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the mined JSONL file (default {DEFAULT_OUT})")
    parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS),
                        help="checkable tasks whose training items are mined (default %(default)s)")
    parser.add_argument("--limit", type=int, help="training items per task (default: all)")
    parser.add_argument("--per-item", type=int, default=0,
                        help="mismatches rolled out per item, a stable choice (default 0: all)")
    parser.add_argument("--width", type=int, default=24, help="sequences decoded together (default %(default)s)")
    parser.add_argument("--time-budget", type=float, default=float("inf"),
                        help="minutes; no new item starts after it (default: none); rerun to continue")
    parser.add_argument("--draft", default=DEFAULT_DRAFT, help="the draft whose tokens are judged (default %(default)s)")
    parser.add_argument("--verifier", default=DEFAULT_VERIFIER, help="the verifier that answers and finishes (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="chooses items and positions (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Mine what the options describe, then print what the file holds."""
    config = MineConfig(
        out=args.out, tasks=tuple(t.strip() for t in args.tasks.split(",") if t.strip()), limit=args.limit,
        per_item=args.per_item, time_budget_s=args.time_budget * 60, seed=args.seed,
    )
    verifier = open_model(args.verifier, backend=LLAMA_CPP, dtype=torch.float32, device="cpu")
    draft = open_model(args.draft, backend=LLAMA_CPP, dtype=torch.float32, device="cpu", tokenizer=verifier.tokenizer)
    models = Models(args.verifier, args.draft, verifier.backend.precision(), verifier.tokenizer,
                    verifier.eos_token_ids, draft.backend)
    sequences = LlamaCppSequences(verifier.backend, sequences=args.width + HELD + 1, n_ctx=1024 * (args.width + HELD // 2))
    added = Miner(config, models, BatchedGreedy(sequences, eos=models.eos, width=args.width, held=HELD),
                  progress=not args.no_progress).run()
    print(f"added {added['items']} items and {added['mismatches']} labels ({added['important']} important); "
          f"{args.out} holds {mined_summary(read_mined(args.out))}")
    return 0


# --- verispec judge fit ------------------------------------------------------------------------


def add_fit_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `verispec judge fit`."""
    parser.add_argument("data", type=Path, nargs="?", default=DEFAULT_OUT, help=f"the mined file (default {DEFAULT_OUT})")
    parser.add_argument("--out", type=Path, required=True, help="where to write the head (.safetensors)")
    parser.add_argument("--report", type=Path, help="also write the CV report as JSON here")
    parser.add_argument("--features", default=",".join(HEAD_BLOCKS),
                        help="feature blocks the head reads: verifier_hidden, verifier_context, logits (default %(default)s)")
    parser.add_argument("--target-recall", type=float, default=0.9,
                        help="share of important mismatches θ must reject, out of fold (default %(default)s)")
    parser.add_argument("--tasks", help="train on these tasks' mismatches only, comma-separated (default: all; "
                        "e.g. gsm8k alone for a head that never saw code)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds, by item (default %(default)s)")
    parser.add_argument("--no-ablations", action="store_true", help="skip the CV of other feature block sets")
    parser.add_argument("--familiar-quantile", type=float, default=0.99,
                        help="the familiarity gate lets this share of training states through; 0: no gate (default %(default)s)")
    parser.add_argument("--backend", choices=("torch", LLAMA_CPP), default=LLAMA_CPP,
                        help="whose hidden states and logits the head reads (default %(default)s)")
    parser.add_argument("--cache-dir", type=Path, help="feature cache (default: <verispec cache>/judge-mined-features)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_fit(args: argparse.Namespace) -> int:
    """Extract features of the mined file's labels, cross-validate, fit, save the head and report."""
    from verispec.judge.head import VerifierIdentity
    from verispec.models.cache import cache_root
    from verispec.pipeline import DEFAULT_DTYPE, DTYPES
    from verispec.training.judge.mining.features import extract_mined_features
    from verispec.training.judge.mining.fit import MinedFitConfig
    from verispec.training.judge.mining.train import MinedTrainConfig, summary, train_mined_head, write_report
    from verispec.training.judge.train import file_summary

    if importlib.util.find_spec("sklearn") is None:
        raise ConfigError("`verispec judge fit` needs scikit-learn: pip install 'verispec[judge]'")
    data = read_mined(args.data)
    if args.tasks:
        data = data.of_tasks([t.strip() for t in args.tasks.split(",") if t.strip()])
    items = list(data.items.values())
    if not items:
        raise ConfigError(f"{args.data} holds no mined items{' of ' + args.tasks if args.tasks else ''}; "
                          f"run `verispec judge mine --out {args.data}` first")
    blocks = tuple(b.strip() for b in args.features.split(",") if b.strip())
    config = MinedTrainConfig(blocks=blocks, target_recall=args.target_recall,
                              fit=MinedFitConfig(blocks, folds=args.folds), ablations=not args.no_ablations,
                              familiarity_quantile=args.familiar_quantile or None)
    dtype = DTYPES[DEFAULT_DTYPE]
    verifier = open_model(items[0].verifier, backend=args.backend, dtype=dtype, device="cpu")
    draft = open_model(items[0].draft, backend=args.backend, dtype=dtype, device="cpu")
    cache = args.cache_dir or cache_root() / "judge-mined-features"
    features = extract_mined_features(data, verifier.backend, draft.backend, cache_dir=cache, progress=not args.no_progress)
    head, report = train_mined_head(
        features, VerifierIdentity.of(verifier.backend), config,
        data={**data.counts(), "file": file_summary(args.data), "draft": items[0].draft},
        precision=verifier.backend.precision().removeprefix("torch."),
        token_text=lambda token: verifier.tokenizer.decode([token]),
    )
    head.save(args.out)
    if args.report:
        write_report(report, args.report)
    print(summary(report))
    print(f"head: {args.out}")
    return 0


# --- verispec judge retarget -------------------------------------------------------------------


def add_retarget_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `verispec judge retarget`."""
    parser.add_argument("head", type=Path, help="a head from `verispec judge fit` (.safetensors)")
    parser.add_argument("--target-recall", type=float, required=True,
                        help="a recall of important mismatches on the head's out-of-fold curve (0.5, 0.6, ..., 0.95, 0.99)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the head with its new θ")


def run_retarget(args: argparse.Namespace) -> int:
    """Write the head with θ moved to another recall of its out-of-fold curve."""
    from verispec.judge.head import JudgeHead
    from verispec.training.judge.mining.retarget import retarget

    head = retarget(JudgeHead.load(args.head), args.target_recall)
    head.save(args.out)
    print(f"θ {head.meta.threshold:.4f} (recall {head.meta.target_recall:g} of important mismatches, out of fold; "
          f"was {head.meta.training['retargeted']['from_threshold']:.4f}): {args.out}")
    return 0
