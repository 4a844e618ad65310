"""`verispec judge mine`: options, model loading, and the run's summary.

    verispec judge mine --out data/judge/mined.jsonl --per-item 12 --time-budget 60

Mining runs on the llama.cpp backend (the GGUF files), whose multi-sequence context decodes many
rollouts per call; rerun the same command to continue where a run stopped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from verispec.backends.llamacpp_sequences import LlamaCppSequences
from verispec.models.handles import LLAMA_CPP, open_model
from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER
from verispec.training.judge.mining.batched_greedy import BatchedGreedy
from verispec.training.judge.mining.miner import DEFAULT_TASKS, MineConfig, Miner, Models, mined_summary
from verispec.training.judge.mining.records import read_mined

DEFAULT_OUT = Path("data/judge/mined.jsonl")
HELD = 4  # answers whose cached prefix waits for its rollouts to fork it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `verispec judge mine`."""
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the mined JSONL file (default {DEFAULT_OUT})")
    parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS),
                        help="checkable tasks whose training items are mined (default %(default)s)")
    parser.add_argument("--limit", type=int, help="training items per task (default: all)")
    parser.add_argument("--per-item", type=int, default=0,
                        help="mismatches rolled out per item, a stable choice (default 0: all)")
    parser.add_argument("--width", type=int, default=16, help="sequences decoded together (default %(default)s)")
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
    sequences = LlamaCppSequences(verifier.backend, sequences=args.width + HELD + 1, n_ctx=16384)
    added = Miner(config, models, BatchedGreedy(sequences, eos=models.eos, width=args.width, held=HELD),
                  progress=not args.no_progress).run()
    print(f"added {added['items']} items and {added['mismatches']} labels ({added['important']} important); "
          f"{args.out} holds {mined_summary(read_mined(args.out))}")
    return 0
